package verify

import (
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"path/filepath"
	"testing"
	"time"
)

// testNow pins the clock: the vectors were checked with gpgv on this day,
// and the current achow101 and laanwj keys expire in 2027.
var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func readTestFile(t *testing.T, path string) []byte {
	t.Helper()
	return testenv.Vector(t, path)
}

func readTestKeys(t *testing.T, paths ...string) []*Key {
	t.Helper()
	var keys []*Key
	for _, p := range paths {
		k, err := ReadKeyFile(filepath.Join(testenv.Vectors(t), p))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k...)
	}
	return keys
}

const btc = "bitcoin-guix/26.0/"

var (
	btcBuilders  = []string{"achow101", "fanquake", "laanwj"}
	btcKeyFiles  = []string{btc + "keys/achow101.gpg", btc + "keys/fanquake.gpg", btc + "keys/laanwj.gpg"}
	btcHistAchow = btc + "keys/historical/bc4efc7a3c5d/achow101.gpg"
)

const (
	fprAchow     = "152812300785C96444D3334D17565732E08E5E41"
	fprFanquake  = "E777299FC265DD04793070EB944D35F9AC3DB76A"
	fprLaanwj    = "71A3B16735405025D447E8F274810B012346C9A6"
	fprBinary    = "81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92"
	fprFluffy    = "BDA6BD7042B721C467A9759D7455C5E3C0CDCEB9"
	fprPatrick   = "DC6EF4A8BF9F1B1E4DE1EE522D3A345B98D0DC1F"
	fprAlamshafl = "8D6FC359FDB624D580BB390891512EB4C9B538A9"
	fprMichi     = "6DB466B17BD260F44950F6AF520B53AE29E98861"
)

// btcSums is all.SHA256SUMS (identical for the three builders).
func btcSums(t *testing.T) []byte { return readTestFile(t, btc+"achow101/all.SHA256SUMS") }

// btcSHA256SUMSasc builds the release SHA256SUMS.asc as bitcoincore.org
// does: the builders' armored signatures, concatenated.
func btcSHA256SUMSasc(t *testing.T, builders ...string) []byte {
	t.Helper()
	var b []byte
	for _, n := range builders {
		b = append(b, readTestFile(t, btc+n+"/all.SHA256SUMS.asc")...)
	}
	return b
}

// Dogecoin Gitian: binary detached signatures over the asserts.
var dogeSigners = []struct{ name, key, fpr string }{
	{"patricklodder", "dogecoin-gitian/keys/patricklodder-key.pgp", fprPatrick},
	{"alamshafil", "dogecoin-gitian/keys/alamshafil.pgp", fprAlamshafl},
	{"michilumin", "dogecoin-gitian/keys/michilumin-key.pgp", fprMichi},
}

func dogeAssert(name string) string {
	return "dogecoin-gitian/1.14.6-linux/" + name + "/dogecoin-linux-1.14-build.assert"
}

// parsed reads a test key the way pinned keys are read.
func parsed(t *testing.T, k *testenv.Key) []*Key {
	t.Helper()
	keys, err := ParseKeys(k.PublicBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func statuses(v *Verdict) []Status {
	if v == nil {
		return nil
	}
	s := make([]Status, len(v.Results))
	for i, r := range v.Results {
		s[i] = r.Status
	}
	return s
}
