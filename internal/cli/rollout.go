package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/internal/ssm"
	"gitlab.com/coinpipe/coinpipe/rollout"
)

// rolloutTuning is what tests change of a rollout (deps.rollout): zero
// values are the production ones.
type rolloutTuning struct {
	ssm                    ssm.Options
	markerDir              string
	switchGrace, gateGrace time.Duration
}

type rolloutOptions struct {
	coin, coinsDir, version string
	dryRun, json            bool
}

func newRolloutCmd(d *deps) *cobra.Command {
	var opts rolloutOptions
	cmd := &cobra.Command{
		Use:   "rollout --coin COIN [--version TAG] [--dry-run] [--json]",
		Short: "Upgrade a coin's hosts to an image tag over SSM, batch by batch, behind a health gate",
		Long: `rollout switches every host of a coin to node@TAG (default: the tag the manifest
ships, image.revision included) through AWS Systems Manager Run Command:

  1. it lists the hosts tagged deploy.instances (offline ones are reported and
     count as unavailable) and asks each, in one command, which node@ instance
     it runs, its block height, and whether another rollout's marker
     (/var/lib/coinpipe/<coin>.rollout) is fresh: then it refuses and says whose;
  2. it switches batches of deploy.max_unavailable hosts minus those already
     down, one command per batch: systemctl stop of the running instance (the
     unit waits runtime.stop_timeout, never kills), systemctl start node@TAG,
  3. and the health gate, on each host until deploy.health_timeout: the unit
     is active, the height answers, is not below the height recorded before,
     and advances (a node with no new block within a fifth of the timeout
     passes when it has the other hosts' height, asked then);
  4. a host that fails is rolled back to exactly the tag it ran and checked
     again; the rollout stops there, and hosts not reached keep their version.

A host already on TAG is left alone. Progress goes to stderr, one line per host
and step; a table of host, before → after, height and result to stdout. Slack
(SLACK_WEBHOOK_URL) hears started, each host, finished, failed, rolled back.
AWS: the SDK's credential chain and region; AWS_ENDPOINT_URL_SSM or
AWS_ENDPOINT_URL override the endpoint. COINPIPE_MARKER_DIR is where the
marker lives on the hosts (default /var/lib/coinpipe).

Exit codes: 0 done, 1 failed, rolled back or refused, 2 bad input.`,
		Example: `  coinpipe rollout --coin bitcoin --dry-run   # the batches and the exact commands
  coinpipe rollout --coin bitcoin             # to the manifest's tag
  coinpipe rollout --coin bitcoin --version 31.0 --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRollout(cmd.Context(), d, opts)
		},
	}
	cmd.Flags().StringVar(&opts.coin, "coin", "", "the coin to roll out (required)")
	cmd.Flags().StringVar(&opts.coinsDir, "coins", "coins", "folder holding one folder per coin")
	cmd.Flags().StringVar(&opts.version, "version", "", "the image tag to run (default: the manifest's, e.g. 31.1 or 31.1-2)")
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "print the batches and the exact commands; send nothing to any host")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the result as JSON")
	return cmd
}

func runRollout(ctx context.Context, d *deps, opts rolloutOptions) error {
	if opts.coin == "" {
		return usagef("rollout needs --coin COIN")
	}
	ms, err := loadCoins(ctx, opts.coinsDir, []string{opts.coin})
	if err != nil {
		return err
	}
	m := ms[0]
	target := opts.version
	if target == "" {
		target = m.ImageTag()
	}
	if err := rollout.ValidTag(target); err != nil {
		return usagef("--version: %v", err)
	}
	cfg, err := awsConfig(ctx, d)
	if err != nil {
		return err
	}
	so := d.rollout.ssm
	so.Endpoint = firstOf(d.getenv("AWS_ENDPOINT_URL_SSM"), d.getenv("AWS_ENDPOINT_URL"))
	fleet := ssm.New(cfg, so)
	o := rollout.Options{
		Manifest: m, Target: target, Who: rolloutOwner(d), DryRun: opts.dryRun,
		Progress: d.stderr, Now: d.now, Log: d.log, MarkerDir: firstOf(d.rollout.markerDir, d.getenv("COINPIPE_MARKER_DIR")),
		SwitchGrace: d.rollout.switchGrace, GateGrace: d.rollout.gateGrace,
	}
	if !opts.dryRun {
		o.Notify = d.notifyRollout
	}
	rep, err := rollout.Run(ctx, fleet, o)
	d.log.Debug("ssm calls", "calls", fleet.Calls())
	if rep != nil && len(rep.Hosts) > 0 {
		if perr := printRollout(d, opts, rep); perr != nil && err == nil {
			err = perr
		}
	}
	var refused *rollout.RefusedError
	if errors.As(err, &refused) && !opts.dryRun {
		d.slackEvent(ctx, string(rollout.EventFailed), m.Name, target+": refused: "+refused.Error())
	}
	return err
}

func printRollout(d *deps, opts rolloutOptions, rep *rollout.Report) error {
	if opts.json {
		enc := json.NewEncoder(d.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rollout.WriteTable(d.stdout, rep)
}

// rolloutOwner names this rollout in the marker on the hosts: the GitLab
// user and job in CI, else user@host.
func rolloutOwner(d *deps) string {
	var who string
	if job := d.getenv("CI_JOB_URL"); job != "" {
		who = strings.TrimSpace(d.getenv("GITLAB_USER_LOGIN") + " " + job)
	} else {
		host, _ := os.Hostname()
		who = firstOf(d.getenv("USER"), "someone") + "@" + firstOf(host, "unknown-host")
	}
	// One line in the marker file.
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, who)
}

// awsConfig is the SDK's configuration: its default chain (shared config,
// instance role), with the region and static credentials taken from the
// environment through deps so tests can inject them, and adaptive retry.
func awsConfig(ctx context.Context, d *deps) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryMode(aws.RetryModeAdaptive),
	}
	if d.http != nil {
		opts = append(opts, config.WithHTTPClient(d.http))
	}
	if region := firstOf(d.getenv("AWS_REGION"), d.getenv("AWS_DEFAULT_REGION")); region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if id, secret := d.getenv("AWS_ACCESS_KEY_ID"), d.getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, d.getenv("AWS_SESSION_TOKEN"))))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	return cfg, nil
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
