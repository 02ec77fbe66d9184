package ssm_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	fakessm "gitlab.com/coinpipe/coinpipe/internal/fake/ssm"
)

// sdk is the plain SDK client, one attempt a call, so the fake's answers
// show as they are.
func sdk(fleet *fakessm.Fleet) *ssm.Client {
	return ssm.New(ssm.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(fleet.URL()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "test-secret"}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

func TestDescribePages(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Hosts: 12, PageSize: 5})
	api := sdk(fleet)
	var ids, tokens []string
	in := &ssm.DescribeInstanceInformationInput{
		Filters:    []types.InstanceInformationStringFilter{{Key: aws.String("tag:Component"), Values: []string{"nodes/monero", "nodes/bitcoin"}}},
		MaxResults: aws.Int32(50),
	}
	for {
		out, err := api.DescribeInstanceInformation(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range out.InstanceInformationList {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
		if out.NextToken == nil {
			break
		}
		tokens = append(tokens, *out.NextToken)
		in.NextToken = out.NextToken
	}
	if len(ids) != 12 || ids[0] != fleet.Host(0).ID() || ids[11] != fleet.Host(11).ID() || len(tokens) != 2 {
		t.Errorf("ids %v over %d pages", ids, len(tokens)+1)
	}
	errs := []struct {
		name string
		in   *ssm.DescribeInstanceInformationInput
		want string
	}{
		{"bad key", &ssm.DescribeInstanceInformationInput{Filters: []types.InstanceInformationStringFilter{{Key: aws.String("Tag:Component"), Values: []string{"x"}}}}, "InvalidFilterKey"},
		{"page too small", &ssm.DescribeInstanceInformationInput{MaxResults: aws.Int32(2)}, "ValidationException"},
		{"forged token", &ssm.DescribeInstanceInformationInput{NextToken: aws.String("page-2")}, "InvalidNextToken"},
	}
	for _, e := range errs {
		_, err := api.DescribeInstanceInformation(t.Context(), e.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != e.want {
			t.Errorf("%s: %v, want %s", e.name, err, e.want)
		}
	}
}

func TestCommandLifecycle(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Hosts: 2, Running: "31.0", Visibility: 200 * time.Millisecond})
	api := sdk(fleet)
	ids := []string{fleet.Host(0).ID(), fleet.Host(1).ID()}
	sent, err := api.SendCommand(t.Context(), &ssm.SendCommandInput{
		DocumentName: aws.String("AWS-RunShellScript"),
		InstanceIds:  ids,
		Parameters:   map[string][]string{"commands": {"echo out", "echo err >&2", "systemctl is-active node@31.0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := sent.Command.CommandId
	if len(aws.ToString(id)) != 36 || sent.Command.Status != types.CommandStatusPending {
		t.Errorf("command %+v", sent.Command)
	}
	// Right after SendCommand: not there yet.
	_, err = api.GetCommandInvocation(t.Context(), &ssm.GetCommandInvocationInput{CommandId: id, InstanceId: aws.String(ids[0])})
	var missing *types.InvocationDoesNotExist
	if !errors.As(err, &missing) {
		t.Fatalf("at once: %v, want InvocationDoesNotExist", err)
	}
	if out, err := api.ListCommandInvocations(t.Context(), &ssm.ListCommandInvocationsInput{CommandId: id}); err != nil || len(out.CommandInvocations) != 0 {
		t.Errorf("listed at once: %+v, %v", out, err)
	}
	time.Sleep(time.Second)
	out, err := api.GetCommandInvocation(t.Context(), &ssm.GetCommandInvocationInput{CommandId: id, InstanceId: aws.String(ids[1])})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != types.CommandInvocationStatusSuccess || aws.ToString(out.StandardOutputContent) != "out\nactive\n" ||
		aws.ToString(out.StandardErrorContent) != "err\n" || out.ResponseCode != 0 || aws.ToString(out.PluginName) != "aws:runShellScript" {
		t.Errorf("invocation %+v", out)
	}
	list, err := api.ListCommandInvocations(t.Context(), &ssm.ListCommandInvocationsInput{CommandId: id, Details: true, MaxResults: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.CommandInvocations) != 1 || list.NextToken == nil {
		t.Fatalf("first page %+v", list)
	}
	inv := list.CommandInvocations[0]
	if aws.ToString(inv.InstanceId) != ids[0] || aws.ToString(inv.InstanceName) != "bitcoin-1" ||
		aws.ToString(inv.CommandPlugins[0].Output) != "out\nactive\n\n----------ERROR-------\nerr\n" {
		t.Errorf("invocation %+v plugin %+v", inv, inv.CommandPlugins)
	}
	errs := []struct {
		name string
		in   *ssm.SendCommandInput
		want string
	}{
		{"unknown instance", &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{"i-00000000000000bad"},
			Parameters: map[string][]string{"commands": {"true"}}}, "InvalidInstanceId"},
		{"other document", &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunPowerShellScript"), InstanceIds: ids,
			Parameters: map[string][]string{"commands": {"true"}}}, "InvalidDocument"},
		{"no commands", &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids}, "InvalidParameters"},
		{"bad timeout", &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
			Parameters: map[string][]string{"commands": {"true"}, "executionTimeout": {"0"}}}, "InvalidParameters"},
	}
	for _, e := range errs {
		_, err := api.SendCommand(t.Context(), e.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != e.want {
			t.Errorf("%s: %v, want %s", e.name, err, e.want)
		}
	}
}

func TestThrottling(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Rate: 1, Burst: 2})
	api := sdk(fleet)
	var throttled int
	for range 4 {
		_, err := api.DescribeInstanceInformation(t.Context(), &ssm.DescribeInstanceInformationInput{})
		var te *types.ThrottlingException
		if errors.As(err, &te) {
			throttled++
			if te.ErrorMessage() != "Rate exceeded" {
				t.Errorf("message %q", te.ErrorMessage())
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if throttled < 1 || throttled > 2 || fleet.API().Throttled() != throttled {
		t.Errorf("%d of 4 calls in a burst of 2 at 1/s throttled (fake: %d)", throttled, fleet.API().Throttled())
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := api.DescribeInstanceInformation(t.Context(), &ssm.DescribeInstanceInformationInput{}); err != nil {
		t.Errorf("after a second: %v", err)
	}
}

func TestUnsigned(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin"})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, fleet.URL(), strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "AmazonSSM.DescribeInstanceInformation")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 400 || string(body) != `{"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"}` {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}
