package generator

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRuntimePackagesArePinned checks every shipped coin's Dockerfile: a
// runtime stage that installs packages takes them only from the Debian
// archive as it was at image.debian_snapshot (never the base image's
// sources, which move daily), with apt's signature check on; the snapshot
// tools are there exactly when runtime.snapshot is; and a coin without
// packages renders no apt step at all (docs/architecture.md §3, §4).
func TestRuntimePackagesArePinned(t *testing.T) {
	install := regexp.MustCompile(`(?m)^ && apt-get "\$@" install -y --no-install-recommends (.*) \\$`)
	for _, c := range shippedCoins(t) {
		t.Run(c.m.Name, func(t *testing.T) {
			df := string(c.files["Dockerfile"])
			m := install.FindStringSubmatch(df)
			wantPkgs := slices.Clone(c.m.Image.Packages)
			if c.m.Runtime.Snapshot {
				wantPkgs = append(wantPkgs, snapshotPackages...)
			}
			slices.Sort(wantPkgs)
			wantPkgs = slices.Compact(wantPkgs)
			if len(wantPkgs) == 0 {
				if m != nil || strings.Contains(df, "apt-sources") {
					t.Errorf("installs no package but renders an apt step")
				}
				return
			}
			if m == nil {
				t.Fatalf("installs %q but has no pinned apt-get install", wantPkgs)
			}
			if got := strings.Fields(m[1]); !slices.Equal(got, wantPkgs) {
				t.Errorf("installs %q, want %q", got, wantPkgs)
			}
			for _, snap := range snapshotPackages {
				if slices.Contains(strings.Fields(m[1]), snap) && !c.m.Runtime.Snapshot && !slices.Contains(c.m.Image.Packages, snap) {
					t.Errorf("installs snapshot tool %s without runtime.snapshot", snap)
				}
			}
			stamp := c.m.Image.DebianSnapshot
			for _, want := range []string{
				// Only the snapshot's sources, from the builder stage.
				"--mount=type=bind,from=builder,source=/apt-sources,target=/mnt",
				"-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=/mnt",
				"printf 'deb [signed-by=%s] %s/%s/" + stamp + " %s main\\n'",
				`archive="${DOWNLOAD_MIRROR%/}/snapshot.debian.org/archive"`,
				"key=/usr/share/keyrings/debian-archive-keyring.gpg",
				`"$key" "$archive" debian-security "$codename-security"`,
				"/var/lib/apt/lists/* /var/cache/apt/* /var/log/apt/* /var/log/dpkg.log",
			} {
				if !strings.Contains(df, want) {
					t.Errorf("the Dockerfile lacks %q", want)
				}
			}
			for _, never := range []string{"AllowUnauthenticated", "allow-insecure", "trusted=yes", "--allow-unauthenticated", "apt-get update \\"} {
				if strings.Contains(df, never) {
					t.Errorf("the Dockerfile has %q: apt must check signatures and use only the snapshot", never)
				}
			}
		})
	}
}
