package e2e

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/generator"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// suite is what every case shares: the tools, the base image, the mirror
// and the keys.
type suite struct {
	t      *testing.T // the parent test: images live until it ends
	ctx    context.Context
	b      *buildah
	base   string
	mirror *mirror
	// tarball and sums are the genuine release; the cases sign or tamper
	// with them.
	tarball, sums []byte
	builds        atomic.Int32 // numbers the builds: tags and mirror prefixes stay unique
}

// release is what one case serves and pins.
type release struct {
	coin    coinSpec
	tarball []byte // served as the artifact
	sums    []byte // served as SHA256SUMS
	asc     []byte // served as SHA256SUMS.asc
	// apt is served too, keyed by https URL: the Debian archive the
	// runtime stage installs coin.packages from.
	apt map[string][]byte
}

// built is one finished build.
type built struct {
	tag    string
	dir    string // the generated daemon repository: the build context
	mirror string // the DOWNLOAD_MIRROR it used
	prefix string
	res    cmdResult
}

// render writes the coin folder and renders its daemon repository the way
// `coinpipe generate` does, returning the repository's folder.
func render(t *testing.T, spec coinSpec) string {
	t.Helper()
	dir := t.TempDir()
	m, err := manifest.Open(writeCoin(t, dir, spec))
	if err != nil {
		t.Fatalf("the synthetic coin.yaml is invalid:\n%v", err)
	}
	files, err := generator.Render(m, generator.DefaultOptions)
	if err != nil {
		t.Fatalf("rendering the synthetic coin: %v", err)
	}
	out := filepath.Join(dir, "out")
	if _, err := generator.Write(t.Context(), out, m.Name, files); err != nil {
		t.Fatalf("writing the daemon repository: %v", err)
	}
	return filepath.Join(out, m.Name)
}

// build renders the case's coin, serves its release on the mirror and
// builds the daemon repository's Dockerfile with the extra buildah flags.
// The image is removed when the whole suite ends, so later cases can
// compare with it.
func (s *suite) build(t *testing.T, r release, flags ...string) built {
	t.Helper()
	name := strings.TrimPrefix(t.Name(), s.t.Name()+"/")
	prefix := fmt.Sprintf("%02d-%s", s.builds.Add(1), strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(name), "-"), "-"))
	bl := built{tag: "localhost/coinpipe-e2e/synth:" + prefix, prefix: prefix, dir: render(t, r.coin)}
	files := map[string][]byte{
		resolve(synthURL(tarballName)):      r.tarball,
		resolve(synthURL("SHA256SUMS")):     r.sums,
		resolve(synthURL("SHA256SUMS.asc")): r.asc,
	}
	maps.Copy(files, r.apt)
	bl.mirror = s.mirror.publish(prefix, files)
	s.t.Cleanup(func() { s.b.removeImage(context.WithoutCancel(s.ctx), bl.tag) })
	start := time.Now()
	// SOURCE_DATE_EPOCH as the pipeline passes it (the commit time there).
	// SOURCE_URL and REVISION as the daemon pipeline's build job passes them
	// ($CI_PROJECT_URL, $CI_COMMIT_SHA).
	args := map[string]string{"BASE_IMAGE": s.base, "DOWNLOAD_MIRROR": bl.mirror, "SOURCE_DATE_EPOCH": "0",
		"SOURCE_URL": daemonRepoURL, "REVISION": daemonRevision}
	bl.res = s.b.build(s.ctx, bl.dir, bl.tag, args, flags...)
	t.Logf("buildah build %s: %s (err=%v)", bl.tag, time.Since(start).Round(100*time.Millisecond), bl.res.Err)
	return bl
}

// mustFail checks a build failed at the step whose instruction matches
// step, printing want; and that it left no image behind.
func (s *suite) mustFail(t *testing.T, bl built, step *regexp.Regexp, want ...*regexp.Regexp) {
	t.Helper()
	if bl.res.Err == nil {
		t.Fatalf("the build succeeded; it must fail at %q. Output:\n%s", step, tail(bl.res.Output, 80))
	}
	if got := failedStep(bl.res.Output); !step.MatchString(got) {
		t.Errorf("the build failed at step %q, want the step matching %q. Output:\n%s", got, step, tail(bl.res.Output, 80))
	}
	for _, w := range want {
		if !w.MatchString(bl.res.Output) {
			t.Errorf("the build output does not say %q. Output:\n%s", w, tail(bl.res.Output, 80))
		}
	}
	if s.b.imageExists(s.ctx, bl.tag) {
		t.Errorf("a failed build left image %s behind", bl.tag)
	}
}

var stepPattern = regexp.MustCompile(`building at STEP "([^"]*)"`)

// failedStep is the Dockerfile instruction buildah reports as failed.
func failedStep(output string) string {
	m := stepPattern.FindStringSubmatch(output)
	if m == nil {
		return ""
	}
	return m[1]
}

// The daemon repository and commit the build labels the image with.
const (
	daemonRepoURL  = "https://gitlab.example/coin-daemons/synth"
	daemonRevision = "0123456789abcdef0123456789abcdef01234567"
)
