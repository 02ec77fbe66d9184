package verify

import (
	"bytes"
	"crypto"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBitcoinConcatenatedSHA256SUMS(t *testing.T) {
	tests := []struct {
		name      string
		keyFiles  []string
		threshold int
		want      []Status
		signers   int
		failure   string // "" when verification passes
	}{
		{"current keys, threshold 3", btcKeyFiles, 3, []Status{StatusGood, StatusGood, StatusGood}, 3, ""},
		{"current keys, threshold 4", btcKeyFiles, 4, []Status{StatusGood, StatusGood, StatusGood}, 3, "only 3 of the 4 required"},
		{"historical achow101 key: expired since, still counted", []string{btcHistAchow, btcKeyFiles[1], btcKeyFiles[2]}, 3,
			[]Status{StatusGoodExpiredSince, StatusGood, StatusGood}, 3, ""},
		{"only achow101 pinned: others reported and ignored", btcKeyFiles[:1], 1, []Status{StatusGood, StatusUnknownKey, StatusUnknownKey}, 1, ""},
		{"only achow101 pinned, threshold 2", btcKeyFiles[:1], 2, []Status{StatusGood, StatusUnknownKey, StatusUnknownKey}, 1, "only 1 of the 2 required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Keys: readTestKeys(t, tt.keyFiles...), Threshold: tt.threshold, Now: testNow}
			verdict, err := v.Detached(bytes.NewReader(btcSums(t)), btcSHA256SUMSasc(t, btcBuilders...))
			checkOutcome(t, err, tt.failure)
			if got := statuses(verdict); !slices.Equal(got, tt.want) {
				t.Errorf("statuses %v, want %v", got, tt.want)
			}
			if verdict.OK() != (tt.failure == "") {
				t.Errorf("OK() = %v with failure %q", verdict.OK(), tt.failure)
			}
			if len(verdict.Signers) != tt.signers {
				t.Errorf("signers %v, want %d", verdict.Signers, tt.signers)
			}
		})
	}
}

func checkOutcome(t *testing.T, err error, failure string) {
	t.Helper()
	if failure == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("err = %v, want a *Failure mentioning %q", err, failure)
	}
	if !strings.Contains(f.Reason, failure) {
		t.Fatalf("reason %q, want it to mention %q", f.Reason, failure)
	}
}

func TestBitcoinResultDetails(t *testing.T) {
	v := &Verifier{Keys: readTestKeys(t, btcHistAchow, btcKeyFiles[1], btcKeyFiles[2]), Threshold: 3, Now: testNow}
	verdict, err := v.Detached(bytes.NewReader(btcSums(t)), btcSHA256SUMSasc(t, btcBuilders...))
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Status: StatusGoodExpiredSince, Reason: "expired since 2024-08-20", Fingerprint: fprAchow, KeyID: "17565732E08E5E41",
			UserID: "Andrew Chow <andrew@achow101.com>", Created: time.Unix(1701797611, 0), Hash: crypto.SHA256,
			ExpiredSince: time.Unix(1724176400, 0), Counted: true},
		{Status: StatusGood, Fingerprint: fprFanquake, KeyID: "2EEB9F5CC09526C1",
			UserID: "Michael Ford (bitcoin-otc) <fanquake@gmail.com>", Created: time.Unix(1701776956, 0), Hash: crypto.SHA256, Counted: true},
		{Status: StatusGood, Fingerprint: fprLaanwj, KeyID: "1E4AED62986CD25D",
			UserID: "Wladimir J. van der Laan <laanwj@protonmail.com>", Created: time.Unix(1701783520, 0), Hash: crypto.SHA512, Counted: true},
	}
	for i, w := range want {
		g := verdict.Results[i]
		if g.Status != w.Status || g.Reason != w.Reason || g.Fingerprint != w.Fingerprint || g.KeyID != w.KeyID ||
			g.UserID != w.UserID || !g.Created.Equal(w.Created) || g.Hash != w.Hash || !g.ExpiredSince.Equal(w.ExpiredSince) || g.Counted != w.Counted {
			t.Errorf("result %d\n got %+v\nwant %+v", i, g, w)
		}
	}
	if w := verdict.Warnings(); len(w) != 1 || !strings.Contains(w[0], "expired since 2024-08-20") {
		t.Errorf("warnings %q", w)
	}
	if s := verdict.Summary(); s != "OK: 3 pinned keys signed (3 required)" {
		t.Errorf("summary %q", s)
	}
}

func TestMoneroClearsigned(t *testing.T) {
	tests := []struct {
		file, key, fpr, keyID string
		artifact, sha256      string
		lines                 int
	}{
		{"monero/v0.18.5.1/hashes.txt", "monero/keys/binaryfate.asc", fprBinary, "F0AF4D462A0BDF92",
			"monero-linux-x64-v0.18.5.1.tar.bz2", "22a7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958", 19},
		// 2019 layout "<file>, <hash>", signed by fluffypony's subkey.
		{"monero/v0.14.1.2/hashes.txt", "monero/keys/fluffypony.asc", fprFluffy, "55432DF31CCD4FCD",
			"monero-linux-x64-v0.14.1.2.tar.bz2", "a4d1ddb9a6f36fcb985a3c07101756f544a5c9f797edd0885dab4a9de27a6228", 12},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			v := &Verifier{Keys: readTestKeys(t, tt.key), Threshold: 1, Now: testNow}
			text, verdict, err := v.Clearsigned(readTestFile(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			r := verdict.Results[0]
			if r.Status != StatusGood || r.Fingerprint != tt.fpr || r.KeyID != tt.keyID {
				t.Errorf("result %+v", r)
			}
			if bytes.Contains(text, []byte("PGP")) {
				t.Errorf("returned text holds armor:\n%s", text)
			}
			sums, err := ParseChecksums(FormatMonero, text)
			if err != nil {
				t.Fatal(err)
			}
			if got, _, err := sums.Lookup(tt.artifact); err != nil || got != tt.sha256 {
				t.Errorf("Lookup(%s) = %s, %v; want %s", tt.artifact, got, err, tt.sha256)
			}
			if n := len(sums.Names()); n != tt.lines {
				t.Errorf("%d files listed, want %d", n, tt.lines)
			}
		})
	}
}

func TestMoneroWrongKey(t *testing.T) {
	v := &Verifier{Keys: readTestKeys(t, "monero/keys/fluffypony.asc"), Threshold: 1, Now: testNow}
	text, verdict, err := v.Clearsigned(readTestFile(t, "monero/v0.18.5.1/hashes.txt"))
	checkOutcome(t, err, "only 0 of the 1 required")
	if text != nil {
		t.Error("text returned although verification failed")
	}
	if got := statuses(verdict); !slices.Equal(got, []Status{StatusUnknownKey}) {
		t.Errorf("statuses %v", got)
	}
	if verdict.Results[0].KeyID != "F0AF4D462A0BDF92" {
		t.Errorf("unknown key reported as %q", verdict.Results[0].KeyID)
	}
}

func TestDogecoinGitianBinarySignatures(t *testing.T) {
	var all []*Key
	for _, s := range dogeSigners {
		all = append(all, readTestKeys(t, s.key)...)
	}
	var verdicts []*Verdict
	for _, s := range dogeSigners {
		t.Run(s.name, func(t *testing.T) {
			assert := readTestFile(t, dogeAssert(s.name))
			v := &Verifier{Keys: all, Threshold: 1, Now: testNow}
			verdict, err := v.Detached(bytes.NewReader(assert), readTestFile(t, dogeAssert(s.name)+".sig"))
			if err != nil {
				t.Fatal(err)
			}
			verdicts = append(verdicts, verdict)
			r := verdict.Results[0]
			wantStatus := StatusGood
			if s.name == "patricklodder" {
				wantStatus = StatusGoodExpiredSince
				if r.Reason != "expired since 2024-07-16" {
					t.Errorf("reason %q", r.Reason)
				}
			}
			if r.Status != wantStatus || r.Fingerprint != s.fpr || !r.Counted {
				t.Errorf("result %+v", r)
			}
			sums, err := ParseChecksums(FormatGitianAssert, assert)
			if err != nil {
				t.Fatal(err)
			}
			const want = "fe9c9cdab946155866a5bd5a5127d2971a9eed3e0b65fb553fe393ad1daaebb0"
			if got, _, err := sums.Lookup("dogecoin-1.14.6-x86_64-linux-gnu.tar.gz"); err != nil || got != want {
				t.Errorf("Lookup = %s, %v", got, err)
			}
		})
	}
	if _, err := Combine(3, verdicts...); err != nil {
		t.Errorf("three signers combined: %v", err)
	}
	if _, err := Combine(3, verdicts[0], verdicts[0], verdicts[1]); err == nil {
		t.Error("the same signer's verdict twice counted as two keys")
	}
}
