// Package ssm is coinpipe's thin client over AWS Systems Manager (the
// aws-sdk-go-v2 ssm service): it finds the managed nodes carrying a tag and
// runs one shell script on some of them with Run Command, waiting for every
// invocation's result.
//
// Run sends the AWS-RunShellScript document. The SSM agent writes the
// "commands" lines into one script and runs it with sh: every line runs even
// when an earlier one failed, unless the script says `set -e`, and the exit
// status is the last command's. SSM's own execution timeout
// (the document's executionTimeout) bounds each invocation; the client
// waits that long plus Options.Grace for SSM to report it.
//
// Polling follows SSM's limits (about one request a second per account):
// one SendCommand per Run (per 50 instances), then per instance one
// GetCommandInvocation after Options.PollInterval and more with the SDK's
// CommandExecuted waiter's exponential backoff up to Options.MaxPollInterval;
// InvocationDoesNotExist right after SendCommand is retried, as SSM is
// eventually consistent. Throttled calls are retried with the SDK's adaptive
// retry mode (client-side rate limiting). Calls counts every HTTP attempt.
package ssm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/aws/smithy-go/waiter"
)

// Document is the SSM document Run sends.
const Document = "AWS-RunShellScript"

// maxTargets is SendCommand's limit of InstanceIds per call.
const maxTargets = 50

// Invocation statuses as Result.Status reports them: GetCommandInvocation's
// Status, except that an invocation SSM could not deliver (StatusDetails
// "Undeliverable", e.g. the node lost its connection) is StatusUndeliverable,
// and one the client stopped waiting for is StatusNoAnswer.
const (
	StatusSuccess       = "Success"
	StatusFailed        = "Failed"
	StatusTimedOut      = "TimedOut"
	StatusCancelled     = "Cancelled"
	StatusUndeliverable = "Undeliverable"
	StatusNoAnswer      = "NoAnswer"
)

// Instance is a managed node as DescribeInstanceInformation lists it.
type Instance struct {
	ID         string
	Name       string // the node's computer name (host name)
	PingStatus string // Online, ConnectionLost or Inactive
	Online     bool   // PingStatus == "Online"
}

// Result is one instance's outcome of Run.
type Result struct {
	InstanceID string
	Status     string // one of the Status constants
	// Details is SSM's StatusDetails ("Success", "Failed", "Execution Timed
	// Out", "Delivery Timed Out", "Undeliverable", ...) or, for
	// StatusNoAnswer, why the client stopped waiting.
	Details  string
	ExitCode int // the script's exit status; -1 when it did not run or finish
	Stdout   string
	Stderr   string
}

// Options tune a Client. Zero values take the defaults.
type Options struct {
	// Endpoint overrides the SSM endpoint (AWS_ENDPOINT_URL_SSM, a fake).
	Endpoint string
	// PollInterval is the wait before the first GetCommandInvocation and the
	// waiter's minimum delay between polls (default 2s).
	PollInterval time.Duration
	// MaxPollInterval is the waiter's maximum delay (default 10s).
	MaxPollInterval time.Duration
	// Grace is how long past a command's execution timeout the client
	// waits for SSM to report it (default 30s: delivery and reporting lag).
	Grace time.Duration
	// MaxAttempts bounds the attempts of one API call under throttling or
	// server errors (default 10).
	MaxAttempts int
}

// Client runs commands on managed nodes. It is safe for concurrent use.
type Client struct {
	api     *ssm.Client
	poll    time.Duration
	maxPoll time.Duration
	grace   time.Duration
	calls   atomic.Int64
}

// New returns a client over cfg (region, credentials, HTTP client). It uses
// the adaptive retry mode whatever cfg says, without the standard retry
// quota, because a rollout is long and SSM throttles by design.
func New(cfg aws.Config, o Options) *Client {
	c := &Client{poll: o.PollInterval, maxPoll: o.MaxPollInterval, grace: o.Grace}
	if c.poll <= 0 {
		c.poll = 2 * time.Second
	}
	if c.maxPoll < c.poll {
		c.maxPoll = max(10*time.Second, c.poll)
	}
	if c.grace <= 0 {
		c.grace = 30 * time.Second
	}
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = 10
	}
	c.api = ssm.NewFromConfig(cfg, func(so *ssm.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.Retryer = retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
			ao.StandardOptions = append(ao.StandardOptions, func(s *retry.StandardOptions) {
				s.MaxAttempts = attempts
				s.RateLimiter = ratelimit.None
			})
		})
		so.APIOptions = append(so.APIOptions, c.countCalls)
	})
	return c
}

// countCalls counts each HTTP attempt: it sits after the retry middleware.
func (c *Client) countCalls(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("coinpipeCountCalls",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.calls.Add(1)
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// Calls is the number of SSM API requests made so far, retries included.
func (c *Client) Calls() int { return int(c.calls.Load()) }

// Instances lists the managed nodes tagged tagKey=tagValue, online or not,
// sorted by ID.
func (c *Client) Instances(ctx context.Context, tagKey, tagValue string) ([]Instance, error) {
	in := &ssm.DescribeInstanceInformationInput{
		Filters:    []types.InstanceInformationStringFilter{{Key: aws.String("tag:" + tagKey), Values: []string{tagValue}}},
		MaxResults: aws.Int32(50),
	}
	var out []Instance
	pages := ssm.NewDescribeInstanceInformationPaginator(c.api, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing instances tagged %s=%s: %w", tagKey, tagValue, err)
		}
		for _, i := range page.InstanceInformationList {
			ping := string(i.PingStatus)
			out = append(out, Instance{
				ID:         aws.ToString(i.InstanceId),
				Name:       aws.ToString(i.ComputerName),
				PingStatus: ping,
				Online:     i.PingStatus == types.PingStatusOnline,
			})
		}
	}
	slices.SortFunc(out, func(a, b Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Command is what Run sends.
type Command struct {
	// Script is the shell script, run as AWS-RunShellScript's commands.
	Script string
	// Timeout is SSM's execution timeout (rounded up to seconds).
	Timeout time.Duration
	// Expect is how long the command is likely to take (e.g. the last
	// batch's): the first poll waits that long, not PollInterval.
	Expect time.Duration
	// StatusOnly skips reading the output of an invocation that succeeded
	// (one call per instance saved); a failed one is read whole.
	StatusOnly bool
}

// Run runs the command on the instances, waits for every invocation, and
// returns each instance's result. The error is for the call as a whole
// (the command could not be sent, ctx ended); a script that failed, timed
// out or was not delivered is a Result.
func (c *Client) Run(ctx context.Context, instanceIDs []string, cmd Command) (map[string]Result, error) {
	script, timeout := cmd.Script, cmd.Timeout
	results := make(map[string]Result, len(instanceIDs))
	if len(instanceIDs) == 0 {
		return results, nil
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("running a command: timeout %v is not positive", timeout)
	}
	secs := int32((timeout + time.Second - 1) / time.Second)
	lines := strings.Split(strings.TrimSuffix(script, "\n"), "\n")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for chunk := range slices.Chunk(instanceIDs, maxTargets) {
		out, err := c.api.SendCommand(ctx, &ssm.SendCommandInput{
			DocumentName: aws.String(Document),
			InstanceIds:  chunk,
			Parameters: map[string][]string{
				"commands":         lines,
				"executionTimeout": {fmt.Sprint(secs)},
			},
			// The delivery timeout: a node that does not pick the command
			// up by then never runs it. SSM's minimum is 30s.
			TimeoutSeconds: aws.Int32(max(30, secs)),
		})
		if err != nil {
			wg.Wait()
			return nil, fmt.Errorf("sending a command to %s: %w", strings.Join(chunk, ", "), err)
		}
		id := aws.ToString(out.Command.CommandId)
		wg.Go(func() {
			for _, r := range c.await(ctx, id, chunk, cmd, time.Duration(secs)*time.Second+c.grace) {
				mu.Lock()
				results[r.InstanceID] = r
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("waiting for the command: %w", err)
	}
	return results, nil
}

// await waits for one command's invocations on instances until each ends
// or limit passes. It polls ListCommandInvocations, which answers for every
// instance of the command in one call, with the SDK waiters' backoff
// (smithy-go's waiter.ComputeDelay between PollInterval and
// MaxPollInterval); an invocation that ended is read once with the SDK's
// CommandExecuted waiter, for its whole output.
func (c *Client) await(ctx context.Context, commandID string, instances []string, cmd Command, limit time.Duration) []Result {
	start := time.Now()
	pending := make(map[string]bool, len(instances))
	for _, id := range instances {
		pending[id] = true
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		results []Result
		lastErr error
	)
	// Expected to take a while: the first poll comes then, and the
	// backoff starts over from PollInterval after it.
	attempt := int64(1)
	if cmd.Expect > c.poll {
		select {
		case <-ctx.Done():
		case <-time.After(min(cmd.Expect, limit)):
		}
		attempt = 0
	}
	for ; len(pending) > 0; attempt++ {
		remaining := limit - time.Since(start)
		if remaining <= 0 {
			break
		}
		delay, err := waiter.ComputeDelay(attempt, c.poll, c.maxPoll, remaining)
		if err != nil {
			lastErr = err
			break
		}
		// Near the limit ComputeDelay answers what is left minus
		// PollInterval, down to nothing: never poll faster than
		// PollInterval, and poll once more at the limit.
		delay = max(delay, min(c.poll, remaining))
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		if ctx.Err() != nil {
			break
		}
		ended, err := c.ended(ctx, commandID)
		if err != nil {
			// Retried by the SDK already (throttling, 5xx): keep polling
			// until the limit, and say why if it never answers.
			lastErr = err
			continue
		}
		for _, id := range instances {
			if st, ok := ended[id]; pending[id] && ok {
				delete(pending, id)
				if cmd.StatusOnly && st == StatusSuccess {
					mu.Lock()
					results = append(results, Result{InstanceID: id, Status: StatusSuccess, Details: StatusSuccess})
					mu.Unlock()
					continue
				}
				wg.Go(func() {
					r := c.result(ctx, commandID, id, limit-time.Since(start))
					mu.Lock()
					results = append(results, r)
					mu.Unlock()
				})
			}
		}
	}
	wg.Wait()
	for _, id := range instances {
		if pending[id] {
			why := fmt.Sprintf("no result from SSM after %s", time.Since(start).Round(time.Second))
			switch {
			case ctx.Err() != nil:
				why = ctx.Err().Error()
			case lastErr != nil:
				why += ": " + lastErr.Error()
			}
			results = append(results, noAnswer(id, why))
		}
	}
	return results
}

// ended lists the command's invocations that reached a final state, with
// their status.
func (c *Client) ended(ctx context.Context, commandID string) (map[string]string, error) {
	ended := map[string]string{}
	pages := ssm.NewListCommandInvocationsPaginator(c.api, &ssm.ListCommandInvocationsInput{
		CommandId:  aws.String(commandID),
		MaxResults: aws.Int32(50),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, inv := range page.CommandInvocations {
			if final(inv.Status, aws.ToString(inv.StatusDetails)) {
				ended[aws.ToString(inv.InstanceId)] = string(inv.Status)
			}
		}
	}
	return ended, nil
}

// final reports whether an invocation's state is its last: SSM's terminal
// statuses, or details that say so while the status lags (an undeliverable
// invocation, one the node's termination ended).
func final(status types.CommandInvocationStatus, details string) bool {
	switch status {
	case types.CommandInvocationStatusSuccess, types.CommandInvocationStatusFailed,
		types.CommandInvocationStatusTimedOut, types.CommandInvocationStatusCancelled:
		return true
	}
	switch details {
	case "Undeliverable", "Terminated", "Delivery Timed Out", "Execution Timed Out":
		return true
	}
	return false
}

// result reads one ended invocation whole (its output and exit status).
func (c *Client) result(ctx context.Context, commandID, instance string, limit time.Duration) Result {
	w := ssm.NewCommandExecutedWaiter(c.api, func(o *ssm.CommandExecutedWaiterOptions) {
		o.MinDelay = c.poll
		o.MaxDelay = c.maxPoll
		o.Retryable = retryable
	})
	out, err := w.WaitForOutput(ctx, &ssm.GetCommandInvocationInput{
		CommandId:  aws.String(commandID),
		InstanceId: aws.String(instance),
	}, max(limit, c.poll+time.Second))
	if err != nil {
		return noAnswer(instance, fmt.Sprintf("reading the result from SSM: %v", err))
	}
	r := Result{
		InstanceID: instance,
		Status:     string(out.Status),
		Details:    aws.ToString(out.StatusDetails),
		ExitCode:   int(out.ResponseCode),
		Stdout:     aws.ToString(out.StandardOutputContent),
		Stderr:     aws.ToString(out.StandardErrorContent),
	}
	if r.Details == StatusUndeliverable {
		r.Status = StatusUndeliverable
	}
	return r
}

func noAnswer(instance, why string) Result {
	return Result{InstanceID: instance, Status: StatusNoAnswer, Details: why, ExitCode: -1}
}

// retryable is the CommandExecuted waiter's rule with every terminal
// state an answer: the SDK's own turns Failed and TimedOut into an error
// and drops the output, which the caller needs.
func retryable(ctx context.Context, _ *ssm.GetCommandInvocationInput, out *ssm.GetCommandInvocationOutput, err error) (bool, error) {
	if err != nil {
		var missing *types.InvocationDoesNotExist
		if errors.As(err, &missing) {
			return true, nil
		}
		return false, err
	}
	return !final(out.Status, aws.ToString(out.StatusDetails)), nil // Pending, InProgress, Delayed, Cancelling
}
