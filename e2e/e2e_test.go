package e2e

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDockerfileBuild builds the generated Dockerfile of a synthetic coin
// for real: a genuine release must build into the image the manifest
// describes, and every way a release can be wrong must stop the build at
// the check that catches it.
func TestDockerfileBuild(t *testing.T) {
	requireTools(t, "buildah", "debootstrap")
	ctx := t.Context()
	cache := cacheDir(t)
	lockCache(t, cache)
	b := newBuildah(cache)
	b.sweep(ctx, t, baseRef())
	start := time.Now()
	s := &suite{t: t, ctx: ctx, b: b, base: ensureBaseImage(ctx, t, b, cache), mirror: newMirror(t)}
	t.Logf("base image ready in %s", time.Since(start).Round(100*time.Millisecond))

	alice := newSigner(t, "alice", false)
	bob := newSigner(t, "bob", true) // signs with a subkey; bob's primary is pinned
	carol := newSigner(t, "carol", false)
	mallory := newSigner(t, "mallory", false) // never pinned
	if !bob.usesSubkey() {
		t.Fatal("bob's key must sign with a subkey for the good case to cover subkeys")
	}
	s.tarball = synthRelease(t, genuineDaemon)
	s.sums = sha256sums(s.tarball)
	pinnedSHA := sha256Hex(s.tarball)
	genuine := func(threshold int, pinned []*signer, signers ...*signer) release {
		return release{
			coin:    coinSpec{threshold: threshold, pinned: pinned, sha256: pinnedSHA},
			tarball: s.tarball, sums: s.sums, asc: signAll(t, s.sums, signers),
		}
	}
	pinned3 := []*signer{alice, bob, carol}

	// A real release: two of three pinned keys (one through its signing
	// subkey) plus a builder nobody pinned, as Bitcoin Core's SHA256SUMS.asc.
	good := genuine(2, pinned3, alice, mallory, bob)
	var goodBuild built
	t.Run("good release builds", func(t *testing.T) {
		goodBuild = s.build(t, good)
		if goodBuild.res.Err != nil {
			t.Fatalf("the genuine release did not build: %v\n%s", goodBuild.res.Err, tail(goodBuild.res.Output, 120))
		}
		for _, want := range []string{alice.fingerprint(), bob.fingerprint()} {
			if !strings.Contains(goodBuild.res.Output, want) {
				t.Errorf("the build log does not name the good signature by pinned key %s", want)
			}
		}
		if !keyIDPattern(mallory).MatchString(goodBuild.res.Output) {
			t.Errorf("the build log does not report the ignored signature by unpinned key %s", mallory.fingerprint())
		}
		if n := s.mirror.downloads(goodBuild.prefix, resolve(synthURL(tarballName))); n != 1 {
			t.Errorf("the artifact was downloaded %d times through DOWNLOAD_MIRROR, want 1", n)
		}
		s.checkImage(t, goodBuild.tag)
	})

	// The image's height probe, run as docker's health check runs it (as
	// the image's user, in the container): synthd-cli always answers 42, so
	// the node is healthy at first and unhealthy once stall_after (3s in
	// the synthetic coin.yaml) has passed without a new block. buildah
	// adds its own lines after a failing command's output.
	t.Run("height probe answers healthy then unhealthy", func(t *testing.T) {
		if goodBuild.res.Err != nil {
			t.Skip("the good release did not build")
		}
		c := s.b.fromImage(ctx, t, goodBuild.tag)
		if out := c.exec(ctx, "coinpipe-height").must(t); out != "42\n" {
			t.Errorf("coinpipe-height printed %q, want \"42\\n\"", out)
		}
		first := c.exec(ctx, "coinpipe-health")
		if first.Err != nil || first.Output != "healthy: height 42 (first answer)\n" {
			t.Errorf("first check: %v %q, want healthy", first.Err, first.Output)
		}
		time.Sleep(4 * time.Second)
		stalled := c.exec(ctx, "coinpipe-health")
		if stalled.Err == nil || !regexp.MustCompile(`\Aunhealthy: height 42 has not moved for [4-9]s \(stall_after 3s\)\n`).MatchString(stalled.Output) {
			t.Errorf("after 4s without a new block: %v %q, want unhealthy", stalled.Err, stalled.Output)
		}
	})

	// The daemon, its entry point and the health probe under the rendered
	// node@.service's restrictions, as far as buildah run applies them
	// here (hardened_test.go; e2e/README.md says what is not run).
	t.Run("hardened container runs the daemon as node@.service does", func(t *testing.T) {
		if goodBuild.tag == "" || goodBuild.res.Err != nil {
			t.Skip("the good release did not build")
		}
		start := time.Now()
		s.testHardened(t, goodBuild.tag, good.coin)
		t.Logf("hardened run checked in %s", time.Since(start).Round(100*time.Millisecond))
	})

	// Built twice more from a fresh rendering, through other mirror
	// prefixes (a mirror may not change what is installed): with
	// --timestamp 0 the two images must be identical byte for byte, and
	// both must hold the files of the pipeline-style build above, whose
	// file times are the build's.
	t.Run("same inputs build the same image", func(t *testing.T) {
		if goodBuild.res.Err != nil {
			t.Skip("the good release did not build")
		}
		first := s.build(t, good, "--timestamp", "0")
		first.res.must(t)
		second := s.build(t, good, "--timestamp", "0")
		second.res.must(t)
		id1, img1 := s.b.inspect(ctx, t, first.tag)
		id2, img2 := s.b.inspect(ctx, t, second.tag)
		if !slices.Equal(img1.RootFS.DiffIDs, img2.RootFS.DiffIDs) || id1 != id2 {
			t.Errorf("two --timestamp 0 builds of the same inputs differ:\nimage %s layers %v\nimage %s layers %v", id1, img1.RootFS.DiffIDs, id2, img2.RootFS.DiffIDs)
			sameFiles(t, s.listing(t, first.tag), s.listing(t, second.tag))
		} else {
			t.Logf("both --timestamp 0 builds are image %s", id1)
		}
		sameFiles(t, withoutMTimes(s.listing(t, goodBuild.tag)), withoutMTimes(s.listing(t, first.tag)))
	})

	// A coin with a package (netbase: small, depends on nothing the base
	// lacks): the runtime stage installs it from the Debian archive named
	// by image.debian_snapshot, served through the mirror as Debian signed
	// it. Two --timestamp 0 builds must be the same image, the package must
	// be there, and nothing of apt's run (lists, logs, the mounted sources)
	// nor the mirror URL may be left in the image or its history.
	t.Run("same inputs with packages build the same image", func(t *testing.T) {
		if goodBuild.res.Err != nil {
			t.Skip("the good release did not build")
		}
		status, err := os.ReadFile(filepath.Join(s.b.fromImage(ctx, t, s.base).root, "var/lib/dpkg/status"))
		if err != nil {
			t.Fatalf("reading the base image's dpkg status: %v", err)
		}
		repo := ensureAptRepo(ctx, t, cache, status, []string{"netbase"})
		r := good
		r.coin.packages, r.coin.debianSnapshot, r.apt = []string{"netbase"}, repo.stamp, repo.serve()
		first := s.build(t, r, "--timestamp", "0")
		first.res.must(t)
		second := s.build(t, r, "--timestamp", "0")
		second.res.must(t)
		id1, img1 := s.b.inspect(ctx, t, first.tag)
		id2, img2 := s.b.inspect(ctx, t, second.tag)
		if !slices.Equal(img1.RootFS.DiffIDs, img2.RootFS.DiffIDs) || id1 != id2 {
			t.Errorf("two --timestamp 0 builds of a coin with packages differ:\nimage %s layers %v\nimage %s layers %v", id1, img1.RootFS.DiffIDs, id2, img2.RootFS.DiffIDs)
			sameFiles(t, s.listing(t, first.tag), s.listing(t, second.tag))
		} else {
			t.Logf("both --timestamp 0 builds with netbase from %s are image %s", repo.stamp, id1)
		}
		inRelease := "https://snapshot.debian.org/archive/debian/" + repo.stamp + "/dists/" + baseSuite + "/InRelease"
		if n := s.mirror.downloads(first.prefix, inRelease); n != 1 {
			t.Errorf("apt fetched %s through DOWNLOAD_MIRROR %d times, want 1", inRelease, n)
		}
		files := s.listing(t, first.tag)
		var hasServices bool
		for _, e := range files {
			switch {
			case e.Path == "/etc/services":
				hasServices = true
			case strings.HasPrefix(e.Path, "/var/lib/apt/lists/") || strings.HasPrefix(e.Path, "/var/log/apt/") ||
				strings.HasPrefix(e.Path, "/mnt/") || strings.HasPrefix(e.Path, "/apt-sources") ||
				e.Path == "/var/log/dpkg.log" || e.Path == "/var/cache/ldconfig/aux-cache":
				t.Errorf("the image keeps %s from the package install", e.Path)
			}
		}
		if !hasServices {
			t.Errorf("the image lacks /etc/services: netbase was not installed")
		}
		raw := s.b.run(ctx, quickTimeout, "inspect", "--type", "image", first.tag).must(t)
		if strings.Contains(raw, first.mirror) {
			t.Errorf("the image's configuration or history names DOWNLOAD_MIRROR %s", first.mirror)
		}
	})

	// The failing cases run in parallel (go test -parallel, GOMAXPROCS by
	// default): each is a short build that stops early.

	// The artifact's bytes are not the ones pinned: the sha256 step stops
	// the build before any signature is looked at.
	t.Run("tampered tarball fails the sha256 check", func(t *testing.T) {
		t.Parallel()
		r := genuine(2, pinned3, alice, bob, carol)
		r.tarball = synthRelease(t, tamperedDaemon)
		bl := s.build(t, r)
		s.mustFail(t, bl, regexp.MustCompile(`sha256`),
			regexp.MustCompile(regexp.QuoteMeta(tarballName)+`: FAILED`))
	})

	// The pin and the tarball agree, but upstream's signed checksums list
	// another sha256: someone pinned a tarball upstream never signed.
	t.Run("pinned sha256 not in the signed checksums fails", func(t *testing.T) {
		t.Parallel()
		evil := synthRelease(t, tamperedDaemon)
		r := genuine(2, pinned3, alice, bob, carol)
		r.tarball, r.coin.sha256 = evil, sha256Hex(evil)
		bl := s.build(t, r)
		s.mustFail(t, bl, regexp.MustCompile(`verify`),
			regexp.MustCompile(regexp.QuoteMeta(sha256Hex(s.tarball))), regexp.MustCompile(regexp.QuoteMeta(sha256Hex(evil))))
	})

	t.Run("signatures below the threshold fail", func(t *testing.T) {
		t.Parallel()
		bl := s.build(t, genuine(3, pinned3, alice, bob))
		s.mustFail(t, bl, regexp.MustCompile(`verify`), thresholdMessage(2, 3))
	})

	// mallory's signature is good, but her key is not pinned: it must not
	// make up for a missing pinned signer, whether gpgv cannot check it
	// (her key is nowhere) or can (her key sits in a pinned key file).
	t.Run("signature by an unpinned key does not count", func(t *testing.T) {
		t.Parallel()
		bl := s.build(t, genuine(2, []*signer{alice, bob}, alice, mallory))
		s.mustFail(t, bl, regexp.MustCompile(`verify`), thresholdMessage(1, 2), keyIDPattern(mallory))
	})
	t.Run("unpinned key bundled in a pinned key file does not count", func(t *testing.T) {
		t.Parallel()
		r := genuine(2, []*signer{alice, bob}, alice, mallory)
		r.coin.bundled = []*signer{mallory}
		bl := s.build(t, r)
		s.mustFail(t, bl, regexp.MustCompile(`verify`), thresholdMessage(1, 2), keyIDPattern(mallory))
	})

	t.Run("one key signing twice counts once", func(t *testing.T) {
		t.Parallel()
		bl := s.build(t, genuine(2, pinned3, alice, alice))
		s.mustFail(t, bl, regexp.MustCompile(`verify`), thresholdMessage(1, 2))
	})

	// Three pinned keys signed, but carol's signature does not match the
	// checksums: a forgery attempt or a broken file, never "2 good are
	// enough" (docs/architecture.md §7).
	t.Run("bad signature by a pinned key fails above the threshold", func(t *testing.T) {
		t.Parallel()
		r := genuine(2, pinned3, alice, bob)
		forged := append(slices.Clone(s.sums), []byte("0000000000000000000000000000000000000000000000000000000000000000  extra.tar.gz\n")...)
		r.asc = append(r.asc, carol.sign(t, forged, keyTime.Add(time.Hour/2))...)
		bl := s.build(t, r)
		s.mustFail(t, bl, regexp.MustCompile(`verify`), keyIDPattern(carol), regexp.MustCompile(`(?i)bad signature`))
	})

	// SHA-1 signatures never count, however good (docs/architecture.md §7). The log
	// names carol's full fingerprint, which only gpgv's VALIDSIG line
	// carries: the signature was checked and refused for its hash.
	t.Run("SHA-1 signature does not count", func(t *testing.T) {
		t.Parallel()
		r := genuine(2, pinned3, alice)
		r.asc = append(r.asc, carol.signSHA1(t, s.sums, keyTime.Add(time.Hour/2))...)
		bl := s.build(t, r)
		s.mustFail(t, bl, regexp.MustCompile(`verify`), thresholdMessage(1, 2), regexp.MustCompile(carol.fingerprint()))
	})
}

// listing lists the files of an image.
func (s *suite) listing(t *testing.T, tag string) []entry {
	t.Helper()
	return listRootfs(t, s.b.fromImage(s.ctx, t, tag).root)
}

// sameFiles fails unless two listings are the same.
func sameFiles(t *testing.T, a, b []entry) {
	t.Helper()
	if da, db := listingDigest(a), listingDigest(b); da != db {
		t.Errorf("the images hold different files (listing %.12s vs %.12s):\n%s", da, db, strings.Join(listingDiff(a, b, 20), "\n"))
		return
	}
	t.Logf("the images hold the same %d files", len(a))
}

// checkImage asserts what a user of the image would notice: the listed
// binaries and nothing else from the archive, the fixed non-root uid, the
// metadata the manifest sets, and that the daemon actually runs.
func (s *suite) checkImage(t *testing.T, tag string) {
	t.Helper()
	ctx := s.ctx
	_, img := s.b.inspect(ctx, t, tag)
	cfg := img.Config
	for k, want := range map[string]string{
		"org.opencontainers.image.version":   synthVersion,
		"org.opencontainers.image.source":    daemonRepoURL,
		"org.opencontainers.image.revision":  daemonRevision,
		"io.coinpipe.upstream.source":        "https://github.com/synth-project/synth",
		"io.coinpipe.upstream.revision":      "v" + synthVersion,
		"org.opencontainers.image.base.name": s.base,
	} {
		if got := cfg.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if !slices.Contains(cfg.Env, "SYNTH_VERSION="+synthVersion) {
		t.Errorf("ENV lacks SYNTH_VERSION=%s: %q", synthVersion, cfg.Env)
	}
	if user, _, _ := strings.Cut(cfg.User, ":"); user != strconv.Itoa(synthUID) {
		t.Errorf("USER is %q, want uid %d", cfg.User, synthUID)
	}
	for _, port := range []string{"18332/tcp", "18333/tcp"} {
		if _, ok := cfg.ExposedPorts[port]; !ok {
			t.Errorf("EXPOSE lacks %s: %v", port, cfg.ExposedPorts)
		}
	}
	if _, ok := cfg.Volumes["/node/data"]; !ok {
		t.Errorf("VOLUME lacks /node/data: %v", cfg.Volumes)
	}
	if len(cfg.Entrypoint) == 0 || path.Base(cfg.Entrypoint[0]) != "docker-entrypoint.sh" {
		t.Errorf("ENTRYPOINT is %q, want docker-entrypoint.sh", cfg.Entrypoint)
	}
	if cfg.StopSignal != "SIGINT" {
		t.Errorf("STOPSIGNAL is %q, want the manifest's SIGINT", cfg.StopSignal)
	}

	c := s.b.fromImage(ctx, t, tag)
	files := listRootfs(t, c.root)
	var bin []string
	for _, e := range files {
		if path.Dir(e.Path) == "/usr/local/bin" {
			bin = append(bin, path.Base(e.Path))
			if e.UID != 0 || e.Mode.Perm()&0o022 != 0 || e.Mode.Perm()&0o111 == 0 {
				t.Errorf("%s must be an executable owned by root and writable by root only: %s", e.Path, e)
			}
		}
		if e.SHA256 == sha256Hex([]byte(unlistedContent)) || path.Base(e.Path) == path.Base(unlisted) || path.Base(e.Path) == "README.synth" {
			t.Errorf("the image holds %s, which release.binaries does not list", e.Path)
		}
		if (e.Path == "/var/log/lastlog" || e.Path == "/var/log/faillog") && e.Size > 1<<20 {
			t.Errorf("%s is %d bytes: useradd wrote a record for uid %d (use --system or --no-log-init)", e.Path, e.Size, synthUID)
		}
		if e.Path == "/node/data" && (e.UID != synthUID || e.GID != synthUID) {
			t.Errorf("the data dir is owned by %d:%d, want %d:%d", e.UID, e.GID, synthUID, synthUID)
		}
	}
	if want := []string{"coinpipe-health", "coinpipe-height", "docker-entrypoint.sh", "synthd", "synthd-cli"}; !slices.Equal(bin, want) {
		t.Errorf("/usr/local/bin holds %q, want exactly %q", bin, want)
	}

	// Run as the image's user, with its PATH and working directory.
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"id", "-u"}, strconv.Itoa(synthUID)},
		{[]string{"id", "-g"}, strconv.Itoa(synthUID)},
		{[]string{"synthd"}, genuineDaemon},
		{[]string{"synthd-cli", "getblockcount"}, "42"},
		// The config takes the host's overlay: the image keeps its base.
		{[]string{"cat", "/etc/synth/synth.conf.base"}, "rpcbind=127.0.0.1"},
		{append(slices.Clone(cfg.Entrypoint), "synthd"), genuineDaemon},
	} {
		out := c.exec(ctx, tc.argv...).must(t)
		if !strings.Contains(out, tc.want) {
			t.Errorf("%q printed %q, want %q", tc.argv, out, tc.want)
		}
	}
}

// thresholdMessage matches the verification's refusal naming how many
// pinned keys signed and how many are required.
func thresholdMessage(got, want int) *regexp.Regexp {
	return regexp.MustCompile(`\b` + strconv.Itoa(got) + ` of the ` + strconv.Itoa(want) + ` required pinned keys`)
}

// keyIDPattern matches the key's long key ID or fingerprint, however the
// log names the signature it did not count.
func keyIDPattern(s *signer) *regexp.Regexp {
	return regexp.MustCompile(s.fingerprint()[24:])
}
