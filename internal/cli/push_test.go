package cli

import (
	"encoding/json"
	"strings"
	"testing"

	fakeecr "gitlab.com/coinpipe/coinpipe/internal/fake/ecr"
)

// push through the command line, against the fake ECR: output, exit
// codes, and no secret in any output.
func TestPushCommand(t *testing.T) {
	f := fakeecr.New()
	env := map[string]string{
		"AWS_REGION":            "us-east-1",
		"AWS_ACCESS_KEY_ID":     "AKIDFAKEPUSH",
		"AWS_SECRET_ACCESS_KEY": "fake-secret-never-printed",
		"AWS_ENDPOINT_URL_ECR":  f.Start(t),
	}
	img := fakeecr.RandomImage(t, 512, 2)
	archive := fakeecr.WriteArchive(t, img, "bitcoin:31.1")
	d, _ := img.Digest()
	ref := f.RegistryHost() + "/coin-daemons/bitcoin:31.1@" + d.String()
	other := fakeecr.WriteArchive(t, fakeecr.RandomImage(t, 512, 2), "bitcoin:31.1")

	var outputs []string
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		inStderr string
	}{
		{"push", []string{"push", "--coins", "../../coins", "--coin", "bitcoin", "--image", archive}, ExitOK, ref + "\n", "created ECR repository"},
		{"re-push", []string{"push", "--coins", "../../coins", "--coin", "bitcoin", "--image", archive}, ExitOK, ref + " (already pushed)\n", ""},
		{"clobber", []string{"push", "--coins", "../../coins", "--coin", "bitcoin", "--image", other}, ExitVerification, "", "coinpipe: bitcoin:31.1 already released as " + d.String() + " (this image is sha256:"},
		{"no coin", []string{"push", "--image", archive}, ExitInvalidInput, "", "coinpipe: push needs --coin COIN"},
		{"no archive", []string{"push", "--coins", "../../coins", "--coin", "bitcoin", "--image", "missing.tar"}, ExitInvalidInput, "", "coinpipe: reading image archive missing.tar: no such file"},
		{"unknown coin", []string{"push", "--coins", "../../coins", "--coin", "nocoin", "--image", archive}, ExitInvalidInput, "", `unknown coin "nocoin"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runEnv(t, env, tt.args...)
			outputs = append(outputs, out, errOut)
			if code != tt.code || out != tt.stdout || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("code %d, stdout %q, stderr:\n%s\nwant code %d, stdout %q, stderr holding %q", code, out, errOut, tt.code, tt.stdout, tt.inStderr)
			}
		})
	}
	if n := f.Calls("CreateRepository"); n != 1 {
		t.Errorf("CreateRepository called %d times, want 1", n)
	}

	code, out, errOut := runEnv(t, env, "push", "--coins", "../../coins", "--coin", "bitcoin", "--image", archive, "--json")
	outputs = append(outputs, out, errOut)
	var res struct {
		Reference, Digest, Status string
		BlobsUploaded             int `json:"blobs_uploaded"`
	}
	if err := json.Unmarshal([]byte(out), &res); code != ExitOK || err != nil {
		t.Fatalf("--json: code %d, %v: %s", code, err, out)
	}
	if res.Reference != ref || res.Digest != d.String() || res.Status != "already pushed" || res.BlobsUploaded != 0 {
		t.Errorf("--json: %+v", res)
	}

	// Secrets: the AWS secret key, and every registry password issued.
	secrets := []string{env["AWS_SECRET_ACCESS_KEY"]}
	for _, c := range f.Log() {
		if c.Op == "GetAuthorizationToken" {
			secrets = append(secrets, "fake-ecr-")
		}
	}
	for _, o := range outputs {
		for _, s := range secrets {
			if strings.Contains(o, s) {
				t.Errorf("output holds a secret (%q):\n%s", s, o)
			}
		}
	}
}
