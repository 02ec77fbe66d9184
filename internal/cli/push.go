package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/internal/ecr"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/push"
)

type pushOptions struct {
	coin, image, repository, coinsDir string
	json                              bool
	// keychain finds --repository's credentials; tests replace Docker's.
	keychain authn.Keychain
}

func newPushCmd(d *deps) *cobra.Command {
	opts := pushOptions{keychain: authn.DefaultKeychain}
	cmd := &cobra.Command{
		Use:   "push --coin COIN --image OCI_ARCHIVE [--repository REF] [--coins DIR] [--json]",
		Short: "Push a built image to its registry under the manifest's immutable tag",
		Long: `push reads the image from buildah's OCI archive (the build job's image.tar) and
pushes it as <repository>:<tag>, where the tag follows from coin.yaml alone:
the version, or <version>-<revision> when image.revision is above 1
(31.1, 31.1-2).

Tags are never moved. When the tag exists with the same digest, nothing is
uploaded and push succeeds ("already pushed"); when it names another image,
push refuses with exit 3 and says to bump image.revision, whatever the
registry's own immutability setting. Blobs the repository holds already are
not uploaded again.

By default the image goes to the coin's deploy.ecr_repository in the
account's ECR registry: the repository is created when missing (tags
immutable, encrypted with deploy.kms_key or AES256) and left alone when it
exists; the registry login comes from ECR's GetAuthorizationToken through
the AWS SDK's default credential chain (AWS_REGION, AWS_ENDPOINT_URL_ECR or
AWS_ENDPOINT_URL), cached until shortly before it expires.
--repository pushes to any OCI registry instead (e.g. GitLab's), logging in
with Docker's configuration and credential helpers.

Output: the pushed reference with its digest. Exit codes: 0 pushed or
already there, 3 the tag names another image, 2 bad input, 1 failure.`,
		Example: `  coinpipe push --coin bitcoin --image image.tar
  coinpipe push --coin bitcoin --image image.tar --repository registry.gitlab.com/nodes/bitcoin
  coinpipe push --coin bitcoin --image image.tar --json | jq -r .reference`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPush(cmd.Context(), d, opts)
		},
	}
	cmd.Flags().StringVar(&opts.coin, "coin", "", "the coin whose image this is (required)")
	cmd.Flags().StringVar(&opts.image, "image", "", "buildah's OCI archive of the image (required)")
	cmd.Flags().StringVar(&opts.repository, "repository", "", "push to this repository of any OCI registry instead of ECR, e.g. registry.gitlab.com/group/bitcoin (no tag)")
	cmd.Flags().StringVar(&opts.coinsDir, "coins", "coins", "folder holding one folder per coin")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the result as JSON")
	return cmd
}

func runPush(ctx context.Context, d *deps, opts pushOptions) error {
	switch {
	case opts.coin == "":
		return usagef("push needs --coin COIN")
	case opts.image == "":
		return usagef("push needs --image OCI_ARCHIVE (the build job's image.tar)")
	}
	ms, err := loadCoins(ctx, opts.coinsDir, []string{opts.coin})
	if err != nil {
		return err
	}
	m := ms[0]
	var target push.Target
	if opts.repository != "" {
		target, err = push.RegistryTarget(ctx, opts.repository, opts.keychain)
	} else {
		target, err = ecrTarget(ctx, d, m)
	}
	if err != nil {
		return err
	}
	res, err := push.Push(ctx, push.Options{
		Archive:   opts.image,
		Target:    target,
		Coin:      m.Name,
		Tag:       m.ImageTag(),
		Manifest:  filepath.ToSlash(filepath.Join(opts.coinsDir, m.Name, manifest.FileName)),
		Transport: d.transport(),
		Log:       d.log,
	})
	if err != nil {
		return err
	}
	if res.Status == push.Pushed {
		d.slackEvent(ctx, eventPushed, m.Name, res.Reference)
	}
	if opts.json {
		enc := json.NewEncoder(d.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintln(d.stdout, res.Line())
	return nil
}

// ecrTarget is the coin's ECR repository, through the SDK configured from
// deps (docs/architecture.md §6).
func ecrTarget(ctx context.Context, d *deps, m *manifest.Manifest) (push.Target, error) {
	cfg, err := awsConfig(ctx, d)
	if err != nil {
		return push.Target{}, err
	}
	c := ecr.New(cfg, firstOf(d.getenv("AWS_ENDPOINT_URL_ECR"), d.getenv("AWS_ENDPOINT_URL")), d.now)
	return push.ECRTarget(ctx, c, m.Deploy.ECRRepository, m.Deploy.KMSKey, d.log)
}

// transport is the run's HTTP transport for clients that take one (the
// registry's); nil: their default.
func (d *deps) transport() http.RoundTripper {
	if d.http == nil {
		return nil
	}
	return d.http.Transport
}
