package manifest

import (
	"strings"
	"testing"
)

// The image tag follows from the manifest alone (docs/architecture.md §3):
// the version, then -<revision> for rebuilds of the same version.
func TestImageTag(t *testing.T) {
	tests := []struct {
		name, revision string // the image.revision line, if any
		want           string
	}{
		{"first build", "", "0.18.5.1"},
		{"revision 1 written out", "  revision: 1\n", "0.18.5.1"},
		{"a rebuild", "  revision: 2\n", "0.18.5.1-2"},
		{"many rebuilds", "  revision: 12\n", "0.18.5.1-12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(readFixture(t), "  uid: 10002\n", "  uid: 10002\n"+tt.revision, 1)
			m, err := Parse(fixture, []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if ps := Validate(m); len(ps) != 0 {
				t.Fatalf("problems: %v", ps)
			}
			if got := m.ImageTag(); got != tt.want {
				t.Errorf("ImageTag() = %q, want %q", got, tt.want)
			}
		})
	}
}

// image.revision and deploy.kms_key as validate reports them.
func TestRevisionAndKMSKeyProblems(t *testing.T) {
	const f = fixture
	tests := []struct {
		name     string
		old, new string
		want     []string
	}{
		{"revision 0", "  uid: 10002\n", "  uid: 10002\n  revision: 0\n", []string{
			f + `:32:13: image.revision: must be at least 1, got 0`,
		}},
		{"negative revision", "  uid: 10002\n", "  uid: 10002\n  revision: -3\n", []string{
			f + `:32:13: image.revision: must be at least 1, got -3`,
		}},
		{"revision making the tag too long", `version: "0.18.5.1"`, `version: "` + strings.Repeat("1", 127) + `"` + "\n", nil},
		{"kms key id", "  health_timeout: 30m\n", "  health_timeout: 30m\n  kms_key: 1234abcd-12ab-34cd-56ef-1234567890ab\n", nil},
		{"kms alias", "  health_timeout: 30m\n", "  health_timeout: 30m\n  kms_key: alias/coin-daemons\n", nil},
		{"kms key arn", "  health_timeout: 30m\n", "  health_timeout: 30m\n  kms_key: arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab\n", nil},
		{"kms alias arn", "  health_timeout: 30m\n", "  health_timeout: 30m\n  kms_key: arn:aws-cn:kms:cn-north-1:111122223333:alias/coin-daemons\n", nil},
		{"kms key name without alias/", "  health_timeout: 30m\n", "  health_timeout: 30m\n  kms_key: coin-daemons\n", []string{
			f + `:45:12: deploy.kms_key: "coin-daemons" is not a KMS key: a key ID, alias/NAME, or the ARN of a key or an alias (arn:aws:kms:REGION:ACCOUNT:key/ID)`,
		}},
		{"kms arn of another service", "  health_timeout: 30m\n", "  health_timeout: 30m\n  kms_key: arn:aws:s3:::bucket\n", []string{
			f + `:45:12: deploy.kms_key: "arn:aws:s3:::bucket" is not a KMS key: a key ID, alias/NAME, or the ARN of a key or an alias (arn:aws:kms:REGION:ACCOUNT:key/ID)`,
		}},
	}
	base := readFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("fixture has no %q", tt.old)
			}
			got := check(strings.Replace(base, tt.old, tt.new, 1))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	// A 127-character version is fine alone; revision 2 makes it 129.
	src := strings.Replace(strings.Replace(base, `version: "0.18.5.1"`, `version: "`+strings.Repeat("1", 127)+`"`, 1), "  uid: 10002\n", "  uid: 10002\n  revision: 2\n", 1)
	want := f + `:32:13: image.revision: makes the image tag "` + strings.Repeat("1", 64) + `"..., 129 characters; a tag is at most 128`
	if got := check(src); strings.Join(got, "\n") != want {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

// A version bump starts the new version's builds over: SetRelease removes
// the image.revision line and nothing else; the same version keeps it.
func TestSetReleaseResetsRevision(t *testing.T) {
	sum := newSum("monero linux/amd64")
	oldSum := "22a7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958"
	tests := []struct {
		name, revision, version string
		wantRevision            string // the revision line expected in the output, "" for none
		wantErr                 string
	}{
		{"bump removes it", "  revision: 3\n", "0.18.6.0", "", ""},
		{"bump removes it with its comment", "  revision: 3   # base image refresh\n", "0.18.6.0", "", ""},
		{"bump removes a quoted one", "  revision: \"3\"\n", "0.18.6.0", "", ""},
		{"same version keeps it", "  revision: 3\n", "0.18.5.1", "  revision: 3\n", ""},
		{"bump without a revision", "", "0.18.6.0", "", ""},
		{"flow mapping refused", "", "0.18.6.0", "", `editing coin.yaml: image.revision (line 28) shares its line with other fields; write it as "revision: N" on a line of its own under image`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(readFixture(t), "  uid: 10002\n", "  uid: 10002\n"+tt.revision, 1)
			if strings.HasPrefix(tt.name, "flow") {
				src = flowImage(t, src)
			}
			out, err := SetRelease([]byte(src), tt.version, map[string]string{"linux/amd64": sum})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Replace(strings.Replace(src, `version: "0.18.5.1"`, `version: "`+tt.version+`"`, 1), oldSum, sum, 1)
			if tt.revision != "" {
				want = strings.Replace(want, tt.revision, tt.wantRevision, 1)
			}
			if string(out) != want {
				t.Errorf("SetRelease output:\n%s\nwant:\n%s", out, want)
			}
			m, err := Parse(fixture, out)
			if err != nil {
				t.Fatal(err)
			}
			if ps := Validate(m); len(ps) != 0 {
				t.Fatalf("problems: %v", ps)
			}
			wantTag := tt.version
			if tt.wantRevision != "" {
				wantTag += "-3"
			}
			if m.ImageTag() != wantTag {
				t.Errorf("tag after the edit = %q, want %q", m.ImageTag(), wantTag)
			}
		})
	}
}

// flowImage rewrites the fixture's image mapping in flow style, with the
// revision on the same line as the other fields.
func flowImage(t *testing.T, src string) string {
	t.Helper()
	lines := strings.Split(src, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		if lines[i] != "image:" {
			out = append(out, lines[i])
			continue
		}
		var fields []string
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "  ") {
			i++
			fields = append(fields, strings.TrimSpace(lines[i]))
		}
		out = append(out, "image: {revision: 2, "+strings.Join(fields, ", ")+"}")
	}
	return strings.Join(out, "\n")
}
