package generator

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// releaseDir renders a fixture coin and lays out what release.sh verify
// reads: release.sh, keys/, artifact.sha256 and the given checksum files.
func releaseDir(t *testing.T, coin string, files map[string][]byte) string {
	t.Helper()
	m, err := manifest.Open(filepath.Join("testdata/coins", coin))
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := Render(m, DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range rendered {
		if f.Path == "release.sh" || strings.HasPrefix(f.Path, "keys/") {
			writeFile(t, filepath.Join(dir, f.Path), f.Data)
		}
	}
	a := newData(m, DefaultOptions).Artifacts[0]
	writeFile(t, filepath.Join(dir, "artifact.sha256"), []byte(a.SHA256+"  "+a.FileName+"\n"))
	for name, b := range files {
		writeFile(t, filepath.Join(dir, name), b)
	}
	return dir
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func vector(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/vectors", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// The generated release.sh verify, run with the real gpgv on real upstream
// signatures: what the Dockerfile's step 3 does in every build.
func TestReleaseScriptVerify(t *testing.T) {
	testenv.RequireTools(t, "gpgv", "awk", "base64")
	sums := vector(t, "bitcoin-guix/achow101/all.SHA256SUMS")
	achow, fanquake, laanwj := vector(t, "bitcoin-guix/achow101/all.SHA256SUMS.asc"), vector(t, "bitcoin-guix/fanquake/all.SHA256SUMS.asc"), vector(t, "bitcoin-guix/laanwj/all.SHA256SUMS.asc")
	monero := vector(t, "monero/v0.18.5.1-hashes.txt")
	gitian := func(signer, suffix string) []byte {
		return vector(t, "dogecoin-gitian/"+signer+"/dogecoin-linux-1.14-build.assert"+suffix)
	}
	gitianFiles := func() map[string][]byte {
		files := map[string][]byte{}
		for _, s := range []string{"patricklodder", "alamshafil", "michilumin"} {
			files["checksums."+s] = gitian(s, "")
			files["checksums."+s+".sig"] = gitian(s, ".sig")
		}
		return files
	}
	signer := testenv.NewKey(t, "signer", time.Now().Add(-time.Hour), 0)
	// A key made ten days ago that expired a day later.
	expiring := testenv.NewKey(t, "expiring", time.Now().Add(-10*24*time.Hour), 24*time.Hour)
	tamperedSums := bytes.Replace(sums, []byte("23e5ab226d9e"), []byte("23e5ab226d9f"), 1)
	twice := bytes.Replace(sums, []byte("23e5ab226d9e01ffaadef5ffabe8868d0db23db952b90b0593652993680bb8ab  bitcoin-26.0-x86_64-linux-gnu.tar.gz\n"),
		[]byte("23e5ab226d9e01ffaadef5ffabe8868d0db23db952b90b0593652993680bb8ab  bitcoin-26.0-x86_64-linux-gnu.tar.gz\n00e5ab226d9e01ffaadef5ffabe8868d0db23db952b90b0593652993680bb8ab  bitcoin-26.0-x86_64-linux-gnu.tar.gz\n"), 1)

	tests := []struct {
		name      string
		coin      string
		files     map[string][]byte
		edit      func(script string) string
		ok        bool
		wantInLog string
	}{
		{"bitcoin: three builders, threshold 3", "bitcoin-guix",
			map[string][]byte{"checksums.all": sums, "checksums.all.sig": cat(achow, fanquake, laanwj)}, nil,
			true, "3 pinned keys signed (threshold 3)"},
		{"bitcoin: threshold 4 of 3 signatures", "bitcoin-guix",
			map[string][]byte{"checksums.all": sums, "checksums.all.sig": cat(achow, fanquake, laanwj)},
			func(s string) string { return strings.Replace(s, "threshold=3", "threshold=4", 1) },
			false, "only 3 of the 4 required pinned keys signed this release"},
		{"bitcoin: one hash byte changed", "bitcoin-guix",
			map[string][]byte{"checksums.all": tamperedSums, "checksums.all.sig": cat(achow, fanquake, laanwj)}, nil,
			false, "BAD signature by key"},
		{"bitcoin: the same builder pasted three times", "bitcoin-guix",
			map[string][]byte{"checksums.all": sums, "checksums.all.sig": cat(achow, achow, achow)}, nil,
			false, "only 1 of the 3 required pinned keys signed this release"},
		{"bitcoin: a signer whose key is not pinned", "bitcoin-guix",
			map[string][]byte{"checksums.all": sums, "checksums.all.sig": cat(achow, fanquake, laanwj)},
			func(s string) string {
				return strings.Replace(s, "keys/laanwj.asc 71A3B16735405025D447E8F274810B012346C9A6", "", 1)
			},
			false, "signature by unknown key 1E4AED62986CD25D ignored"},
		{"bitcoin: truncated armor", "bitcoin-guix",
			map[string][]byte{"checksums.all": sums, "checksums.all.sig": achow[:len(achow)/2]}, nil,
			false, "only 0 of the 3 required"},
		{"bitcoin: artifact listed twice with different hashes, validly signed", "bitcoin-guix",
			map[string][]byte{"checksums.all": twice, "checksums.all.sig": signer.Sign(t, twice, time.Now()), "keys/test.asc": signer.Public},
			func(s string) string {
				s = strings.Replace(s, "threshold=3", "threshold=1", 1)
				return strings.Replace(s, "keys/achow101.asc 152812300785C96444D3334D17565732E08E5E41", "keys/test.asc "+signer.Fingerprint, 1)
			},
			false, "list 00e5ab226d9e01ffaadef5ffabe8868d0db23db952b90b0593652993680bb8ab 23e5ab226d9e01ffaadef5ffabe8868d0db23db952b90b0593652993680bb8ab for bitcoin-26.0-x86_64-linux-gnu.tar.gz"},
		{"a key that expired since signed while valid: counted", "bitcoin-guix",
			map[string][]byte{"checksums.all": sums, "checksums.all.sig": expiring.Sign(t, sums, expiring.Created.Add(12*time.Hour)), "keys/test.asc": expiring.Public},
			func(s string) string {
				s = strings.Replace(s, "threshold=3", "threshold=1", 1)
				return strings.Replace(s, "keys/achow101.asc 152812300785C96444D3334D17565732E08E5E41", "keys/test.asc "+expiring.Fingerprint, 1)
			},
			true, "good signature by pinned key " + expiring.Fingerprint},
		{"a signature made after its key expired: not counted", "bitcoin-guix",
			map[string][]byte{"checksums.all": sums, "checksums.all.sig": expiring.Sign(t, sums, expiring.Created.Add(4*24*time.Hour)), "keys/test.asc": expiring.Public},
			func(s string) string {
				s = strings.Replace(s, "threshold=3", "threshold=1", 1)
				return strings.Replace(s, "keys/achow101.asc 152812300785C96444D3334D17565732E08E5E41", "keys/test.asc "+expiring.Fingerprint, 1)
			},
			false, "signature by " + expiring.Fingerprint + " was made after its key expired, not counted"},
		{"bitcoin: a key generated today signs, pinned, threshold 1", "bitcoin-guix",
			map[string][]byte{"checksums.all": sums, "checksums.all.sig": signer.Sign(t, sums, time.Now()), "keys/test.asc": signer.Public},
			func(s string) string {
				s = strings.Replace(s, "threshold=3", "threshold=1", 1)
				return strings.Replace(s, "keys/achow101.asc 152812300785C96444D3334D17565732E08E5E41", "keys/test.asc "+signer.Fingerprint, 1)
			},
			true, "good signature by pinned key " + signer.Fingerprint},
		{"monero: clearsigned hashes.txt", "monero-clearsigned",
			map[string][]byte{"checksums.all.asc": monero}, nil,
			true, "1 pinned keys signed (threshold 1)"},
		{"monero: plaintext edited", "monero-clearsigned",
			map[string][]byte{"checksums.all.asc": bytes.Replace(monero, []byte("22a7dda7"), []byte("22a7dda8"), 1)}, nil,
			false, "BAD signature by key"},
		{"monero: a hash appended after the signature", "monero-clearsigned",
			map[string][]byte{"checksums.all.asc": cat(monero, []byte("ffa7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958  monero-linux-x64-v0.18.5.1.tar.bz2\n"))},
			func(s string) string {
				return strings.Replace(s, "22a7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958", "ffa7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958", 1)
			},
			false, "list 22a7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958 for monero-linux-x64-v0.18.5.1.tar.bz2, not the pinned ffa7dda7"},
		{"dogecoin: three Gitian builders, one key expired since", "dogecoin-gitian", gitianFiles(), nil,
			true, "3 pinned keys signed (threshold 2)"},
		{"dogecoin: a builder's assert edited", "dogecoin-gitian",
			func() map[string][]byte {
				f := gitianFiles()
				f["checksums.alamshafil"] = bytes.Replace(f["checksums.alamshafil"], []byte("fe9c9cdab9"), []byte("fe9c9cdab8"), 1)
				return f
			}(), nil, false, "a bad signature was found in alamshafil's files"},
		{"dogecoin: a builder's signature over another builder's assert", "dogecoin-gitian",
			func() map[string][]byte {
				f := gitianFiles()
				delete(f, "checksums.michilumin")
				delete(f, "checksums.michilumin.sig")
				f["checksums.alamshafil.sig"] = gitian("patricklodder", ".sig")
				f["checksums.alamshafil"] = gitian("patricklodder", "")
				return f
			}(), nil, false, "only 1 of the 2 required pinned keys signed this release"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := releaseDir(t, tt.coin, tt.files)
			if tt.edit != nil {
				script := filepath.Join(dir, "release.sh")
				b, _ := os.ReadFile(script)
				edited := tt.edit(string(b))
				if edited == string(b) {
					t.Fatal("edit changed nothing")
				}
				if tt.coin == "monero-clearsigned" {
					writeFile(t, filepath.Join(dir, "artifact.sha256"), []byte("ffa7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958  monero-linux-x64-v0.18.5.1.tar.bz2\n"))
				}
				writeFile(t, script, []byte(edited))
			}
			cmd := exec.Command("sh", "release.sh", "verify")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if (err == nil) != tt.ok {
				t.Fatalf("release.sh verify: err=%v, want ok=%v\n%s", err, tt.ok, out)
			}
			if !strings.Contains(string(out), tt.wantInLog) {
				t.Errorf("output lacks %q:\n%s", tt.wantInLog, out)
			}
		})
	}
}
