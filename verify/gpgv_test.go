package verify

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// The gpgv oracle: every vector, and mutated copies, go through the real
// gpgv and through this package, and the judgement on each signature must
// agree. gpgv knows no clock override, so both sides use the current time;
// the pinned-clock tests elsewhere hold the exact expectations.

// gpgv holds what the key oracle runs gpg with.
type gpgv struct {
	home string
}

// needGPG skips when GnuPG is missing, except in CI, where the oracle must run.
func needGPG(t *testing.T) *gpgv {
	t.Helper()
	testenv.RequireTools(t, "gpg", "gpgv")
	return &gpgv{home: t.TempDir()}
}

// ours maps a result to the gpgv status it corresponds to.
func gpgStatusOf(r Result) string {
	switch r.Status {
	case StatusGood:
		return "GOODSIG"
	case StatusGoodExpiredSince:
		return "EXPKEYSIG"
	case StatusBad:
		return "BADSIG"
	case StatusUnknownKey:
		return "ERRSIG"
	}
	return "not counted: " + r.Reason
}

// agree compares one verdict with gpgv's report. stricter lists, per
// signature, what gpgv says where this package's policy refuses on
// purpose to count a signature gpgv accepts or cannot check.
func agree(t *testing.T, ours *Verdict, theirs []testenv.GpgvSig, stricter []string) {
	t.Helper()
	if len(theirs) == 0 {
		t.Fatal("gpgv reported no signature")
	}
	if ours == nil {
		t.Fatalf("we judged no signature; gpgv: %+v", theirs)
	}
	if len(theirs) < len(ours.Results) && theirs[len(theirs)-1].Status != "BADSIG" {
		t.Errorf("gpgv judged %d signatures, we %d", len(theirs), len(ours.Results))
	}
	if len(theirs) > len(ours.Results) {
		t.Fatalf("gpgv judged %d signatures, we %d: %+v", len(theirs), len(ours.Results), theirs)
	}
	for i, g := range theirs {
		r := ours.Results[i]
		if i < len(stricter) && stricter[i] != "" {
			if g.Status != stricter[i] || r.Status != StatusNotCounted {
				t.Errorf("signature %d: gpgv %s, we %s; expected gpgv %s and a policy refusal", i, g.Status, gpgStatusOf(r), stricter[i])
			}
			continue
		}
		if gpgStatusOf(r) != g.Status {
			t.Errorf("signature %d: gpgv %s %s %q, we %s %s %q", i, g.Status, g.KeyID, g.UID, gpgStatusOf(r), r.KeyID, r.UserID)
			continue
		}
		if g.KeyID != r.KeyID {
			t.Errorf("signature %d: gpgv names key %s, we %s", i, g.KeyID, r.KeyID)
		}
		if g.Status != "ERRSIG" && g.UID != r.UserID {
			t.Errorf("signature %d: gpgv names user ID %q, we %q", i, g.UID, r.UserID)
		}
		if g.Primary != "" && g.Primary != r.Fingerprint {
			t.Errorf("signature %d: gpgv names primary key %s, we %s", i, g.Primary, r.Fingerprint)
		}
	}
}

// oracleCase is one input judged by both.
type oracleCase struct {
	name     string
	keys     [][]byte
	sigs     []byte
	content  []byte // nil: sigs is a clearsigned message
	stricter []string
}

func runOracle(t *testing.T, cases []oracleCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			var keys []*Key
			for _, k := range tt.keys {
				parsed, err := ParseKeys(k)
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, parsed...)
			}
			v := &Verifier{Keys: keys, Threshold: 1, Now: time.Now()}
			var verdict *Verdict
			var err error
			if tt.content != nil {
				verdict, err = v.Detached(bytes.NewReader(tt.content), tt.sigs)
			} else {
				_, verdict, err = v.Clearsigned(tt.sigs)
			}
			var f *Failure
			if err != nil && !errors.As(err, &f) {
				t.Fatal(err)
			}
			agree(t, verdict, testenv.Gpgv(t, tt.keys, tt.sigs, tt.content), tt.stricter)
		})
	}
}

// flipInPacket changes one byte near the end of the n-th signature packet
// (inside its signature value) and re-armors the result.
func flipInPacket(t *testing.T, armoredSigs []byte, n int) []byte {
	t.Helper()
	ps, err := decodePackets(armoredSigs, "PGP SIGNATURE")
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for i, p := range ps {
		body := append([]byte{}, p.Body...)
		if i == n {
			body[len(body)-5] ^= 0x01
		}
		out = append(out, testenv.Armor(t, "PGP SIGNATURE", packetBytes(p.Tag, body))...)
	}
	return out
}

func TestOracleRealVectors(t *testing.T) {
	testenv.RequireTools(t, "gpg", "gpgv")
	sums := btcSums(t)
	sigs := btcSHA256SUMSasc(t, btcBuilders...)
	var btcKeys, dogeKeys [][]byte
	for _, f := range btcKeyFiles {
		btcKeys = append(btcKeys, readTestFile(t, f))
	}
	for _, s := range dogeSigners {
		dogeKeys = append(dogeKeys, readTestFile(t, s.key))
	}
	histKeys := [][]byte{readTestFile(t, btcHistAchow), btcKeys[1], btcKeys[2]}
	changed := bytes.Replace(sums, []byte("9cf64f42"), []byte("9cf64f43"), 1)
	monero := readTestFile(t, "monero/v0.18.5.1/hashes.txt")
	binaryfate := readTestFile(t, "monero/keys/binaryfate.asc")
	fluffy := readTestFile(t, "monero/keys/fluffypony.asc")

	cases := []oracleCase{
		{name: "bitcoin: three builders", keys: btcKeys, sigs: sigs, content: sums},
		{name: "bitcoin: historical achow101 key", keys: histKeys, sigs: sigs, content: sums},
		{name: "bitcoin: only achow101 pinned", keys: btcKeys[:1], sigs: sigs, content: sums},
		{name: "bitcoin: one hash changed", keys: btcKeys, sigs: sigs, content: changed},
		{name: "bitcoin: achow101 pasted twice", keys: btcKeys, sigs: btcSHA256SUMSasc(t, "achow101", "achow101", "laanwj"), content: sums},
		{name: "bitcoin: laanwj signature value altered", keys: btcKeys, sigs: flipInPacket(t, sigs, 2), content: sums},
		{name: "monero 2026", keys: [][]byte{binaryfate}, sigs: monero},
		{name: "monero 2019, signing subkey", keys: [][]byte{fluffy}, sigs: readTestFile(t, "monero/v0.14.1.2/hashes.txt")},
		{name: "monero: wrong key", keys: [][]byte{fluffy}, sigs: monero},
		{name: "monero: signed text edited", keys: [][]byte{binaryfate}, sigs: bytes.Replace(monero, []byte("22a7dda7"), []byte("22a7dda8"), 1)},
		{name: "monero: trailing blanks added to a signed line", keys: [][]byte{binaryfate}, sigs: bytes.Replace(monero, []byte("x64-v0.18.5.1.tar.bz2\n"), []byte("x64-v0.18.5.1.tar.bz2 \t\n"), 1)},
		{name: "monero: Hash header names another digest", keys: [][]byte{binaryfate}, sigs: bytes.Replace(monero, []byte("Hash: SHA256"), []byte("Hash: SHA512"), 1), stricter: []string{"ERRSIG"}},
		{name: "monero: CRLF line endings", keys: [][]byte{binaryfate}, sigs: bytes.ReplaceAll(monero, []byte("\n"), []byte("\r\n"))},
	}
	for i, s := range dogeSigners {
		assert := readTestFile(t, dogeAssert(s.name))
		sig := readTestFile(t, dogeAssert(s.name)+".sig")
		cases = append(cases,
			oracleCase{name: "dogecoin: " + s.name, keys: dogeKeys, sigs: sig, content: assert},
			oracleCase{name: "dogecoin: " + s.name + ", assert edited", keys: dogeKeys[i : i+1], sigs: sig, content: append(append([]byte{}, assert...), '\n')},
		)
	}
	runOracle(t, cases)
}

func TestOraclePolicy(t *testing.T) {
	testenv.RequireTools(t, "gpg", "gpgv")
	var cases []oracleCase
	for _, p := range policyCases(t) {
		cases = append(cases, oracleCase{name: p.name, keys: p.keys, sigs: p.sigs, content: p.content, stricter: p.gpgv})
	}
	runOracle(t, cases)
}

// Text signatures (type 0x01) and clearsigned messages are hashed as
// canonical text; awkward line endings and blanks must be judged as gpgv
// judges them, whoever made the signature.
func TestOracleCanonicalText(t *testing.T) {
	testenv.RequireTools(t, "gpg", "gpgv")
	k := testenv.NewKey(t, "text", testenv.KeyOptions{Created: keyBirth})
	texts := []string{
		"a\nb\n", "a\r\nb\r\n", "a\nb", "a\r\r\nb\n", "a\rb\n", "trailing blanks  \t\nnext\n",
		"ends with CR\r", "\r\n\r\n", "", "- dash line\n-----BEGIN PGP SIGNATURE-----\nFrom me\n",
	}
	var cases []oracleCase
	for _, text := range texts {
		signed := []byte(text)
		var detached bytes.Buffer
		cfg := &packet.Config{Time: func() time.Time { return signedAt }}
		if err := openpgp.DetachSignText(&detached, k.Entity, bytes.NewReader(signed), cfg); err != nil {
			t.Fatal(err)
		}
		for _, content := range []string{text, strings.ReplaceAll(text, "\n", "\r\n"), strings.ReplaceAll(text, "\r\n", "\n")} {
			cases = append(cases, oracleCase{name: strconv.Quote(text) + " verified over " + strconv.Quote(content),
				keys: [][]byte{k.PublicBinary(t)}, sigs: detached.Bytes(), content: []byte(content)})
		}
		var clear bytes.Buffer
		w, err := clearsign.Encode(&clear, k.Primary(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(signed); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, oracleCase{name: "clearsigned " + strconv.Quote(text), keys: [][]byte{k.PublicBinary(t)}, sigs: clear.Bytes()})
	}
	runOracle(t, cases)
}

// The key reader must see what GnuPG sees: the same keys, expiry, signing
// capability, revocations and user IDs, on every real key we have.
func TestOracleKeys(t *testing.T) {
	g := needGPG(t)
	var files []string
	for _, pattern := range []string{"*/keys/*", "*/*/keys/*", "*/*/keys/*/*/*", "upstream-keys/*/*"} {
		found, err := filepath.Glob(filepath.Join(testenv.Vectors(t), pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, found...)
	}
	if len(files) < 30 {
		t.Fatalf("only %d key files found: testdata moved?", len(files))
	}
	for _, f := range files {
		if info, err := os.Stat(f); err != nil || info.IsDir() {
			continue
		}
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := ParseKeys(data)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("gpg", "--batch", "--no-options", "--homedir", g.home, "--with-colons", "--show-keys", f)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("gpg --show-keys: %v", err)
			}
			if got, want := describeKeys(keys), describeGPGKeys(string(out)); got != want {
				t.Errorf("keys differ from gpg's view\n ours:\n%s\n gpg:\n%s", got, want)
			}
		})
	}
}

// describeKeys writes keys as comparable lines: primary and subkeys with
// expiry, whether they may sign and whether they are revoked; user IDs.
func describeKeys(keys []*Key) string {
	var b strings.Builder
	unix := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return strconv.FormatInt(t.Unix(), 10)
	}
	for _, k := range keys {
		b.WriteString("pub " + k.Fingerprint + " exp=" + unix(k.Expires) + " sign=" + strconv.FormatBool(k.CanSign) + " revoked=" + strconv.FormatBool(k.Revoked) + "\n")
		for _, u := range k.UserIDs {
			b.WriteString("uid " + u + "\n")
		}
		for _, s := range k.Subkeys {
			b.WriteString("sub " + s.Fingerprint + " exp=" + unix(s.Expires) + " sign=" + strconv.FormatBool(s.CanSign) + " revoked=" + strconv.FormatBool(s.Revoked) + "\n")
		}
	}
	return b.String()
}

// describeGPGKeys writes gpg --with-colons output the way describeKeys does.
// gpg lists unbound subkeys too (without fingerprints' usage); those are left
// out, as this package drops them.
func describeGPGKeys(colons string) string {
	var b strings.Builder
	var pending, kind string
	var fields []string
	flush := func(fpr string) {
		if pending == "" {
			return
		}
		usage := fields[11]
		revoked := fields[1] == "r"
		b.WriteString(kind + " " + fpr + " exp=" + fields[6] + " sign=" + strconv.FormatBool(strings.Contains(usage, "s")) + " revoked=" + strconv.FormatBool(revoked) + "\n")
		pending = ""
	}
	for _, line := range strings.Split(colons, "\n") {
		f := strings.Split(line, ":")
		switch f[0] {
		case "pub", "sub":
			pending, kind, fields = f[0], f[0], f
		case "fpr":
			flush(f[9])
		case "uid":
			if f[1] != "r" {
				b.WriteString("uid " + unescapeColons(f[9]) + "\n")
			}
		}
	}
	return b.String()
}

// unescapeColons undoes gpg's \xNN escaping in --with-colons fields.
func unescapeColons(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
