package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	fakegithub "gitlab.com/coinpipe/coinpipe/internal/fake/github"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// The whole watch → merge request → re-render path on copies of the
// shipped coins. Upstream files come from the loopback mirror through
// COINPIPE_DOWNLOAD_MIRROR: the real signed material of testdata/vectors
// where it exists (Bitcoin Core 26.0, Monero 0.18.5.1, Dogecoin 1.14.6),
// and synthetic next versions signed by test keys where it does not
// (go-ethereum, Zcash). Each copy is pinned below the release published
// on the fake GitHub so that the watcher has something to propose.

// shippedCoin is one shipped coin's scenario: how its copy is pinned and
// what upstream publishes, and what a user must see.
type shippedCoin struct {
	name     string
	from, to string
	// pin, when set, pins the copy at from with pin(name, from) as the
	// sha256; prepare edits the copy otherwise (before out/ is rendered).
	pin     func(name, version string) string
	prepare func(w *watchWorld, dir string)
	// publish makes upstream release `to`: the GitHub release and the
	// files on the mirror. It returns the sha256 the watcher must propose.
	publish func(w *watchWorld, m *manifest.Manifest) string
	// line is the stdout line of a real run, dryLine of a dry run.
	line, dryLine string
	// release are the files committed under coins/<coin>/release/ and
	// out/<coin>/release/, with the bytes upstream served.
	release func(w *watchWorld) map[string][]byte
	// body must appear in the merge request's description.
	body []string
	// slack is the Slack message's text; slackBlock must be in its blocks.
	slack, slackBlock string
	// key is the test key that signs a synthetic release, if any.
	key *testenv.Key
}

// copyShippedCoin copies coins/<name> of the repository (never written)
// into the checkout, without a committed release/ folder: the copy is
// pinned at another version, whose material that folder would not be.
func (w *watchWorld) copyShippedCoin(name string) string {
	w.t.Helper()
	src := filepath.Join(testenv.Root(w.t), "coins", name)
	dst := filepath.Join(w.dir, "coins", name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if rel == strings.TrimSuffix(manifest.ReleaseDir, "/") {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		testenv.WriteFile(w.t, filepath.Join(dst, rel), b)
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return dst
}

// repin pins the copy at version with sha256 for linux/amd64, through
// the same comment-preserving edit the watcher uses.
func repin(t *testing.T, dir, version, sum string) {
	t.Helper()
	p := filepath.Join(dir, manifest.FileName)
	src, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := manifest.SetRelease(src, version, map[string]string{"linux/amd64": sum})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, p, out)
}

// shippedPin is what coins/<name>/coin.yaml of the repository pins today.
func shippedPin(t *testing.T, name string) (version, sum string) {
	t.Helper()
	m, err := manifest.Open(filepath.Join(testenv.Root(t), "coins", name))
	if err != nil {
		t.Fatal(err)
	}
	return m.Version, m.Release.Artifacts["linux/amd64"].SHA256
}

// at is m with version: its URL templates expand to that version's files.
func at(m *manifest.Manifest, version string) *manifest.Manifest {
	mv := *m
	mv.Version = version
	return &mv
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// publishRelease adds the GitHub release of m's upstream tagged for version.
func (w *watchWorld) publishRelease(m *manifest.Manifest, version string) {
	w.github.AddRelease(m.Upstream.GitHub, fakegithub.Release{
		Tag:         strings.ReplaceAll(m.Upstream.Tag, "{version}", version),
		PublishedAt: time.Now().Add(-time.Hour),
		Body:        "Release notes of " + m.Name + " " + version,
	})
}

// monero014 is the real sha256 of monero-linux-x64-v0.14.1.2.tar.bz2, read
// from the real hashes.txt of that release (older "<file>, <sha256>" format).
func monero014(t *testing.T) string {
	t.Helper()
	for l := range strings.Lines(string(testenv.Vector(t, "monero/v0.14.1.2/hashes.txt"))) {
		if sum, ok := strings.CutPrefix(strings.TrimSpace(l), "monero-linux-x64-v0.14.1.2.tar.bz2, "); ok {
			return sum
		}
	}
	t.Fatal("monero/v0.14.1.2/hashes.txt lists no monero-linux-x64-v0.14.1.2.tar.bz2")
	return ""
}

// dogecoinSigners are the three Gitian builders coins/dogecoin pins, whose
// real 1.14.6 asserts and signatures are in testdata/vectors.
var dogecoinSigners = []string{"alamshafil", "michilumin", "patricklodder"}

const dogecoinAssert = "dogecoin-linux-1.14-build.assert"

// The primary keys of the Bitcoin Core 26.0 signers in testdata/vectors
// (bitcoin-guix/26.0/README.md).
const (
	bitcoinAchow101 = "152812300785C96444D3334D17565732E08E5E41"
	bitcoinFanquake = "E777299FC265DD04793070EB944D35F9AC3DB76A"
	bitcoinLaanwj   = "71A3B16735405025D447E8F274810B012346C9A6"
)

func shippedCoins(t *testing.T) []shippedCoin {
	// The test key that replaces the pinned go-ethereum builder key in the
	// copy: no real signature over a release after 1.14.8 exists here.
	gethKey := testenv.NewKey(t, "geth-builder", testenv.KeyOptions{Created: time.Now().Add(-48 * time.Hour)})
	_, moneroSHA := shippedPin(t, "monero")
	_, dogecoinSHA := shippedPin(t, "dogecoin")
	return []shippedCoin{{
		// Real: the 26.0 guix.sigs attestations of achow101, fanquake and
		// laanwj, concatenated as bitcoincore.org builds SHA256SUMS.asc.
		// The shipped coin pins achow101 and fanquake among its 15
		// builders but not laanwj, and requires 3: the release waits.
		// No real sha256 of a pre-26.0 archive is in the repository: the
		// pin is synthetic, and never compared (nothing is proposed).
		name: "bitcoin", from: "25.0", to: "26.0", pin: archiveSHA,
		publish: func(w *watchWorld, m *manifest.Manifest) string {
			// Why 2 of 3: of the three 26.0 signers, the shipped coin pins
			// exactly achow101's and fanquake's primary keys.
			var pinned []string
			for _, fpr := range []string{bitcoinAchow101, bitcoinFanquake, bitcoinLaanwj} {
				if slices.ContainsFunc(m.Release.Signatures.Keys, func(k manifest.Key) bool { return k.Fingerprint == fpr }) {
					pinned = append(pinned, fpr)
				}
			}
			if !slices.Equal(pinned, []string{bitcoinAchow101, bitcoinFanquake}) || m.Release.Signatures.Threshold != 3 {
				w.t.Fatalf("coins/bitcoin pins %q of the 26.0 signers, threshold %d", pinned, m.Release.Signatures.Threshold)
			}
			w.publishRelease(m, "26.0")
			mv := at(m, "26.0")
			sums := testenv.Vector(w.t, "bitcoin-guix/26.0/achow101/all.SHA256SUMS")
			var asc []byte
			for _, b := range []string{"achow101", "fanquake", "laanwj"} {
				asc = append(asc, testenv.Vector(w.t, "bitcoin-guix/26.0/"+b+"/all.SHA256SUMS.asc")...)
			}
			w.mirror.Put(mv.ExpandVersion(m.Release.Checksums.URL), sums)
			w.mirror.Put(mv.ExpandVersion(m.Release.Signatures.URL), asc)
			return ""
		},
		line:    "bitcoin: 26.0 found, waiting for signatures (2 of 3)",
		dryLine: "bitcoin: 26.0 found, waiting for signatures (2 of 3)",
	}, {
		// Real: hashes.txt as getmonero.org served it for 0.18.5.1,
		// clearsigned by binaryFate; the copy is pinned at 0.14.1.2 with
		// that release's real sha256.
		name: "monero", from: "0.14.1.2", to: "0.18.5.1",
		pin: func(string, string) string { return monero014(t) },
		publish: func(w *watchWorld, m *manifest.Manifest) string {
			w.publishRelease(m, "0.18.5.1")
			w.mirror.Put(at(m, "0.18.5.1").ExpandVersion(m.Release.Checksums.URL), testenv.Vector(w.t, "monero/v0.18.5.1/hashes.txt"))
			// What the verified hashes.txt says is what coins/monero pins today.
			return moneroSHA
		},
		line:    "monero: 0.14.1.2 → 0.18.5.1: !1 opened",
		dryLine: "monero: 0.14.1.2 → 0.18.5.1: would open a merge request",
		release: func(w *watchWorld) map[string][]byte {
			return map[string][]byte{"hashes.txt": testenv.Vector(w.t, "monero/v0.18.5.1/hashes.txt")}
		},
		body: []string{
			"81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92", "binaryFate &lt;binaryfate@getmonero.org&gt;", "2026-07-20T19:50:38Z",
			"1 of the 1 pinned keys must sign", "https://www.getmonero.org/downloads/hashes.txt",
			"https://downloads.getmonero.org/cli/monero-linux-x64-v0.18.5.1.tar.bz2",
		},
		slack:      "monero 0.14.1.2 → 0.18.5.1: merge request !1 opened",
		slackBlock: "verified: 1 of 1 pinned keys signed (1 required)",
	}, {
		// Real: the three builders' 1.14.6 Gitian asserts and signatures;
		// patricklodder's key has expired since, his signature still counts.
		// No real sha256 of 1.14.5 is in the repository: a synthetic pin.
		name: "dogecoin", from: "1.14.5", to: "1.14.6", pin: archiveSHA,
		publish: func(w *watchWorld, m *manifest.Manifest) string {
			w.publishRelease(m, "1.14.6")
			mv := at(m, "1.14.6")
			for _, s := range dogecoinSigners {
				dir := "dogecoin-gitian/1.14.6-linux/" + s + "/"
				w.mirror.Put(mv.Expand(m.Release.Checksums.URL, s), testenv.Vector(w.t, dir+dogecoinAssert))
				w.mirror.Put(mv.Expand(m.Release.Signatures.URL, s), testenv.Vector(w.t, dir+dogecoinAssert+".sig"))
			}
			return dogecoinSHA
		},
		line:    "dogecoin: 1.14.5 → 1.14.6: !1 opened",
		dryLine: "dogecoin: 1.14.5 → 1.14.6: would open a merge request",
		release: func(w *watchWorld) map[string][]byte {
			files := map[string][]byte{}
			for _, s := range dogecoinSigners {
				dir := "dogecoin-gitian/1.14.6-linux/" + s + "/"
				files[s+"/"+dogecoinAssert] = testenv.Vector(w.t, dir+dogecoinAssert)
				files[s+"/"+dogecoinAssert+".sig"] = testenv.Vector(w.t, dir+dogecoinAssert+".sig")
			}
			return files
		},
		body: []string{
			"2 of the 3 pinned keys must sign",
			"DC6EF4A8BF9F1B1E4DE1EE522D3A345B98D0DC1F", "8D6FC359FDB624D580BB390891512EB4C9B538A9", "6DB466B17BD260F44950F6AF520B53AE29E98861",
			"good (key expired",
			"https://raw.githubusercontent.com/dogecoin/gitian.sigs/master/1.14.6-linux/michilumin/dogecoin-linux-1.14-build.assert.sig",
		},
		slack:      "dogecoin 1.14.5 → 1.14.6: merge request !1 opened",
		slackBlock: "verified: 3 of 3 pinned keys signed (2 required)",
	}, {
		// Synthetic: no signed go-ethereum release after the pinned 1.14.8
		// is in the repository. The copy pins a test key instead of the
		// Linux builder key, which signs a synthetic 1.14.9 archive.
		name: "ethereum", from: "1.14.8", to: "1.14.9", key: gethKey,
		prepare: func(w *watchWorld, dir string) {
			p := filepath.Join(dir, manifest.FileName)
			src, err := os.ReadFile(p)
			if err != nil {
				w.t.Fatal(err)
			}
			yaml := strings.Replace(string(src), "keys/geth-linux-builder-FDE5A1A0.asc", "keys/test-builder.asc", 1)
			yaml = strings.Replace(yaml, "FDE5A1A044FA13D2F7ADA019A61A13569BA28146", gethKey.Fingerprint, 1)
			testenv.WriteFile(w.t, p, []byte(yaml))
			if err := os.Remove(filepath.Join(dir, "keys", "geth-linux-builder-FDE5A1A0.asc")); err != nil {
				w.t.Fatal(err)
			}
			testenv.WriteFile(w.t, filepath.Join(dir, "keys", "test-builder.asc"), gethKey.Public(w.t))
		},
		publish: func(w *watchWorld, m *manifest.Manifest) string {
			w.publishRelease(m, "1.14.9")
			url := at(m, "1.14.9").ExpandVersion(m.Release.Artifacts["linux/amd64"].URL)
			archive := []byte("synthetic geth-alltools 1.14.9 archive\n")
			w.mirror.Put(url, archive)
			w.mirror.Put(url+".asc", gethKey.Sign(w.t, archive, time.Now().Add(-time.Minute)))
			return sha256Hex(archive)
		},
		line:    "ethereum: 1.14.8 → 1.14.9: !1 opened",
		dryLine: "ethereum: 1.14.8 → 1.14.9: would open a merge request",
		release: func(w *watchWorld) map[string][]byte {
			return map[string][]byte{"geth-alltools-linux-amd64-1.14.9-a9523b64.tar.gz.asc": nil} // bytes checked by signature below
		},
		body: []string{
			"1 of the 1 pinned keys must sign", "geth-builder (coinpipe test) &lt;geth-builder@coinpipe.invalid&gt;",
			"https://gethstore.blob.core.windows.net/builds/geth-alltools-linux-amd64-1.14.9-a9523b64.tar.gz",
			"signatures: `<artifact URL>.asc`",
		},
		slack:      "ethereum 1.14.8 → 1.14.9: merge request !1 opened",
		slackBlock: "verified: 1 of 1 pinned keys signed (1 required)",
	}, {
		// Synthetic: Zcash signs nothing (signatures.mode none); the sha256
		// is the downloaded archive's, and the merge request says so.
		name: "zcash", from: "6.20.0", to: "6.21.0",
		publish: func(w *watchWorld, m *manifest.Manifest) string {
			w.publishRelease(m, "6.21.0")
			archive := []byte("synthetic zcash 6.21.0 archive\n")
			w.mirror.Put(at(m, "6.21.0").ExpandVersion(m.Release.Artifacts["linux/amd64"].URL), archive)
			return sha256Hex(archive)
		},
		line:    "zcash: 6.20.0 → 6.21.0: !1 opened",
		dryLine: "zcash: 6.20.0 → 6.21.0: would open a merge request",
		body: []string{
			"**⚠ Upstream signs nothing for zcash.** The sha256 below is what coinpipe downloaded",
			"https://download.z.cash/downloads/zcash-6.21.0-linux64-debian-bookworm.tar.gz",
		},
		slack:      "zcash 6.20.0 → 6.21.0: merge request !1 opened",
		slackBlock: "*upstream signs nothing*: only the downloaded sha256 vouches for it",
	}}
}

// stage copies and prepares the coins, renders the checkout and publishes
// each coin's next release; it returns the sha256 each must propose.
func (w *watchWorld) stage(coins []shippedCoin) map[string]string {
	w.t.Helper()
	for _, c := range coins {
		dir := w.copyShippedCoin(c.name)
		if c.pin != nil {
			repin(w.t, dir, c.from, c.pin(c.name, c.from))
		}
		if c.prepare != nil {
			c.prepare(w, dir)
		}
	}
	w.checkout()
	want := map[string]string{}
	for _, c := range coins {
		m, err := manifest.Open(filepath.Join(w.dir, "coins", c.name))
		if err != nil {
			w.t.Fatal(err)
		}
		if m.Version != c.from {
			w.t.Fatalf("the copy of %s pins %s, want %s", c.name, m.Version, c.from)
		}
		want[c.name] = c.publish(w, m)
	}
	return want
}

// changedLines pairs the lines of before and after that differ; both must
// have the same number of lines.
func changedLines(t *testing.T, before, after string) [][2]string {
	t.Helper()
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	if len(a) != len(b) {
		t.Fatalf("coin.yaml has %d lines on the branch, %d before", len(a), len(b))
	}
	var out [][2]string
	for i := range b {
		if a[i] != b[i] {
			out = append(out, [2]string{b[i], a[i]})
		}
	}
	return out
}

func TestWatchCoinsShippedEndToEnd(t *testing.T) {
	for _, c := range shippedCoins(t) {
		t.Run(c.name, func(t *testing.T) {
			w := newWatchWorld(t)
			newSHA := w.stage([]shippedCoin{c})[c.name]
			before, err := os.ReadFile(filepath.Join(w.dir, "coins", c.name, manifest.FileName))
			if err != nil {
				t.Fatal(err)
			}
			old, err := manifest.Open(filepath.Join(w.dir, "coins", c.name))
			if err != nil {
				t.Fatal(err)
			}
			oldSHA := old.Release.Artifacts["linux/amd64"].SHA256

			code, stdout, stderr := w.watch()
			wantOutput(t, code, stdout, stderr, 0, c.line+"\n")

			if c.slack == "" { // waiting: nothing proposed, nothing said, retried next run
				code, stdout, stderr = w.watch()
				wantOutput(t, code, stdout, stderr, 0, c.line+"\n")
				if len(w.mrs()) != 0 || w.gitlab.APICommits(watchProject) != 0 || len(w.slack.Messages()) != 0 {
					t.Errorf("a waiting release wrote: %+v, %d commits, Slack %+v", w.mrs(), w.gitlab.APICommits(watchProject), w.slack.Messages())
				}
				return
			}

			mrs := w.mrs()
			if len(mrs) != 1 {
				t.Fatalf("merge requests: %+v", mrs)
			}
			mr := mrs[0]
			branch := "coinpipe/" + c.name
			if want := c.name + ": " + c.from + " → " + c.to; mr.Title != want || mr.SourceBranch != branch || mr.State != "opened" || !mr.RemoveSourceBranch {
				t.Errorf("merge request %q from %s (%s), want %q from %s", mr.Title, mr.SourceBranch, mr.State, want, branch)
			}
			for _, want := range append([]string{oldSHA, newSHA, "Release notes of " + c.name + " " + c.to}, c.body...) {
				if !strings.Contains(mr.Description, want) {
					t.Errorf("description lacks %q:\n%s", want, mr.Description)
				}
			}
			if key := c.key; key != nil && !strings.Contains(mr.Description, key.Fingerprint) {
				t.Errorf("description lacks the signer %s:\n%s", key.Fingerprint, mr.Description)
			}

			// coin.yaml: the version and sha256 lines changed, no other byte.
			after := w.file(branch, "coins/"+c.name+"/coin.yaml")
			changed := changedLines(t, string(before), after)
			wantChanged := [][2]string{}
			for l := range strings.Lines(string(before)) {
				l = strings.TrimSuffix(l, "\n")
				switch {
				case strings.HasPrefix(l, "version: "):
					wantChanged = append(wantChanged, [2]string{l, strings.Replace(l, c.from, c.to, 1)})
				case strings.Contains(l, "sha256: "+oldSHA):
					wantChanged = append(wantChanged, [2]string{l, strings.Replace(l, oldSHA, newSHA, 1)})
				}
			}
			if !slices.Equal(changed, wantChanged) {
				t.Errorf("coin.yaml lines changed on the branch:\n%q\nwant:\n%q", changed, wantChanged)
			}

			// The verified material is committed, as upstream served it,
			// beside the coin and in the daemon repository.
			files, err := w.gitlab.Files(watchProject, branch)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]byte{}
			if c.release != nil {
				want = c.release(w)
			}
			for _, top := range []string{"coins/", "out/"} {
				prefix := top + c.name + "/" + manifest.ReleaseDir
				var got []string
				for p := range files {
					if rel, ok := strings.CutPrefix(p, prefix); ok {
						got = append(got, rel)
					}
				}
				slices.Sort(got)
				names := slices.Sorted(func(yield func(string) bool) {
					for k := range want {
						if !yield(k) {
							return
						}
					}
				})
				if !slices.Equal(got, names) {
					t.Errorf("%s holds %q, want %q", prefix, got, names)
				}
				for name, data := range want {
					if data != nil && string(files[prefix+name].Content) != string(data) {
						t.Errorf("%s%s is not the file upstream served", prefix, name)
					}
				}
			}
			if key := c.key; key != nil {
				// The committed .asc is the test key's signature over the archive.
				asc := files["coins/ethereum/release/geth-alltools-linux-amd64-1.14.9-a9523b64.tar.gz.asc"].Content
				if sigs := testenv.Gpgv(t, [][]byte{key.PublicBinary(t)}, asc, []byte("synthetic geth-alltools 1.14.9 archive\n")); len(sigs) != 1 || sigs[0].Status != "GOODSIG" || sigs[0].Primary != key.Fingerprint {
					t.Errorf("gpgv over the committed signature: %+v", sigs)
				}
			}

			// The daemon repository is re-rendered for the new version.
			dockerfile := string(files["out/"+c.name+"/Dockerfile"].Content)
			envVersion := strings.ToUpper(c.name) + "_VERSION=" + c.to
			if !strings.Contains(dockerfile, envVersion) || strings.Contains(dockerfile, "_VERSION="+c.from) {
				t.Errorf("out/%s/Dockerfile on the branch lacks %s:\n%s", c.name, envVersion, dockerfile)
			}
			if hasRelease := strings.Contains(dockerfile, "COPY release/"); hasRelease != (len(want) > 0) {
				t.Errorf("out/%s/Dockerfile copies release/: %v, want %v", c.name, hasRelease, len(want) > 0)
			}
			if got := w.file(watchBranch, "coins/"+c.name+"/coin.yaml"); got != string(before) {
				t.Error("the default branch changed")
			}

			msgs := w.slack.Messages()
			if len(msgs) != 1 || msgs[0].Text != c.slack || !strings.Contains(string(msgs[0].Raw), jsonString(t, c.slackBlock)) {
				t.Errorf("Slack got %+v, want %q with %q", msgs, c.slack, c.slackBlock)
			}

			// The next scheduled run finds the merge request proposing it.
			commits := w.gitlab.APICommits(watchProject)
			code, stdout, stderr = w.watch()
			wantOutput(t, code, stdout, stderr, 0, c.name+": "+c.from+" → "+c.to+": !1 open, unchanged\n")
			if len(w.mrs()) != 1 || w.gitlab.APICommits(watchProject) != commits || len(w.slack.Messages()) != 1 {
				t.Errorf("a second run wrote: %d merge requests, %d commits (was %d), %d Slack messages", len(w.mrs()), w.gitlab.APICommits(watchProject), commits, len(w.slack.Messages()))
			}
		})
	}
}

// jsonString is s as it appears inside a JSON string.
func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(string(b), `"`)
}

// The "Done when": `coinpipe watch --dry-run` against the fakes
// prints one line per shipped coin, and writes nothing.
func TestWatchCoinsDryRunAllShipped(t *testing.T) {
	coins := shippedCoins(t)
	w := newWatchWorld(t)
	sums := w.stage(coins)
	code, stdout, stderr := w.watch("--dry-run")
	t.Logf("coinpipe watch --dry-run:\n%s", stdout)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var lines, want []string
	for l := range strings.Lines(stdout) {
		if l != "\n" && !strings.HasPrefix(l, " ") {
			lines = append(lines, strings.TrimSuffix(l, "\n"))
		}
	}
	for _, c := range coins { // coins/ is read in name order
		want = append(want, c.dryLine)
	}
	slices.Sort(want)
	if !slices.Equal(lines, want) {
		t.Errorf("result lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range coins {
		if c.slack == "" {
			continue
		}
		for _, s := range []string{"title:  " + c.name + ": " + c.from + " → " + c.to, "update coins/" + c.name + "/coin.yaml", sums[c.name]} {
			if !strings.Contains(stdout, s) {
				t.Errorf("the dry run does not print %q", s)
			}
		}
	}
	if len(w.mrs()) != 0 || w.gitlab.APICommits(watchProject) != 0 || len(w.slack.Messages()) != 0 {
		t.Errorf("a dry run wrote: %d merge requests, %d commits, %d Slack messages", len(w.mrs()), w.gitlab.APICommits(watchProject), len(w.slack.Messages()))
	}
}
