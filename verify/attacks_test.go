package verify

import (
	"bytes"
	"strings"
	"testing"
)

// The attacks on signed releases are cases of the one policy table
// (internal/policytest), run against release.Verify and the rendered
// release.sh. What stays here is judged by this package alone.

func TestAttacksVerifierOnly(t *testing.T) {
	sums := btcSums(t)
	achowBlock := btcSHA256SUMSasc(t, "achow101")
	v := &Verifier{Keys: readTestKeys(t, btcKeyFiles...), Threshold: 1, Now: testNow}
	_, err := v.Detached(bytes.NewReader(sums), bytes.Repeat(achowBlock, maxSignatures+1))
	checkOutcome(t, err, "signature file damaged: 257 signatures in one file, more than the 256 any release has")

	_, _, err = v.Clearsigned(achowBlock)
	checkOutcome(t, err, "not a clearsigned message")
}

func TestHashHeaderMismatchReason(t *testing.T) {
	msg := bytes.Replace(readTestFile(t, "monero/v0.18.5.1/hashes.txt"), []byte("Hash: SHA256"), []byte("Hash: SHA512"), 1)
	v := &Verifier{Keys: readTestKeys(t, "monero/keys/binaryfate.asc"), Threshold: 1, Now: testNow}
	_, verdict, _ := v.Clearsigned(msg)
	if verdict == nil || verdict.Results[0].Status != StatusNotCounted || !strings.Contains(verdict.Results[0].Reason, "not announced in the Hash header") {
		t.Fatalf("verdict %+v", verdict)
	}
}
