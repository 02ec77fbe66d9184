package verify

import (
	"bytes"
	"strings"
	"testing"
)

// Each attack must fail verification, with a reason a person understands.

func TestAttacksOnDetachedSignatures(t *testing.T) {
	sums := btcSums(t)
	sigs := btcSHA256SUMSasc(t, btcBuilders...)
	stranger := newGenKey(t, "stranger", genOpts{created: keyBirth})
	strangerSig := armored(t, "PGP SIGNATURE", sign(t, stranger.e.PrivateKey, sums, sigOpts{created: signedAt}))
	achowBlock := btcSHA256SUMSasc(t, "achow101")
	blockLines := strings.Split(string(achowBlock), "\n")
	corrupt := append([]string{}, blockLines...)
	corrupt[4] = corrupt[4][:20] + "AAAA" + corrupt[4][24:]

	tests := []struct {
		name      string
		content   []byte
		sigs      []byte
		threshold int
		want      string
	}{
		{"one changed hash byte in the sums", bytes.Replace(sums, []byte("9cf64f42"), []byte("9cf64f43"), 1), sigs, 1,
			"bad signature by pinned key " + fprAchow},
		{"signature by an unpinned key", sums, append(append([]byte{}, achowBlock...), strangerSig...), 2,
			"only 1 of the 2 required"},
		{"the same builder's block pasted twice", sums, btcSHA256SUMSasc(t, "achow101", "achow101"), 2,
			"only 1 of the 2 required"},
		{"a good set plus a bad signature by a pinned key", sums, append(append([]byte{}, sigs...), flipInPacket(t, achowBlock, 0)...), 3,
			"bad signature by pinned key " + fprAchow},
		{"truncated armor", sums, sigs[:len(sigs)-40], 1, "has no END line: the file is truncated"},
		{"garbled armor", sums, []byte(strings.Join(corrupt, "\n")), 1, "CRC-24 checksum mismatch"},
		{"a key file instead of signatures", sums, readTestFile(t, btcKeyFiles[0]), 1, `found a "PGP PUBLIC KEY BLOCK" block`},
		{"no signature at all", sums, []byte("nothing to see\n"), 1, `no "PGP SIGNATURE" armor block`},
		{"a flood of signatures", sums, bytes.Repeat(achowBlock, maxSignatures+1), 1, "more than the 256 any release has"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Keys: readTestKeys(t, btcKeyFiles...), Threshold: tt.threshold, Now: testNow}
			_, err := v.Detached(bytes.NewReader(tt.content), tt.sigs)
			checkOutcome(t, err, tt.want)
		})
	}
}

func TestAttacksOnClearsignedMessages(t *testing.T) {
	msg := readTestFile(t, "monero/v0.18.5.1/hashes.txt")
	other := readTestFile(t, "monero/v0.14.1.2/hashes.txt")
	evil := "6666666666666666666666666666666666666666666666666666666666666666  monero-linux-x64-v0.18.5.1.tar.bz2\n"
	headerSwapped := bytes.Replace(msg, []byte("Hash: SHA256"), []byte("Hash: SHA512"), 1)
	tests := []struct {
		name string
		msg  []byte
		want string
	}{
		{"text appended after the signature", append(append([]byte{}, msg...), evil...), "text after the signature block is not signed"},
		{"a second clearsigned message appended", append(append([]byte{}, msg...), other...), "text after the signature block is not signed"},
		{"text before the message", append([]byte(evil), msg...), "text before the clearsigned message is not signed"},
		{"signed text edited", bytes.Replace(msg, []byte("22a7dda7"), []byte("66a7dda7"), 1), "bad signature by pinned key " + fprBinary},
		{"a signed line removed", bytes.Replace(msg, []byte("## CLI\n"), nil, 1), "bad signature by pinned key"},
		{"Hash header names another digest", headerSwapped, "only 0 of the 1 required"},
		{"signature block cut off", msg[:len(msg)-60], "malformed clearsigned message"},
		{"detached signature instead", btcSHA256SUMSasc(t, "achow101"), "not a clearsigned message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Keys: readTestKeys(t, "monero/keys/binaryfate.asc"), Threshold: 1, Now: testNow}
			text, _, err := v.Clearsigned(tt.msg)
			checkOutcome(t, err, tt.want)
			if text != nil {
				t.Error("text returned although verification failed")
			}
		})
	}
}

func TestHashHeaderMismatchReason(t *testing.T) {
	msg := bytes.Replace(readTestFile(t, "monero/v0.18.5.1/hashes.txt"), []byte("Hash: SHA256"), []byte("Hash: SHA512"), 1)
	v := &Verifier{Keys: readTestKeys(t, "monero/keys/binaryfate.asc"), Threshold: 1, Now: testNow}
	_, verdict, _ := v.Clearsigned(msg)
	if verdict == nil || verdict.Results[0].Status != StatusNotCounted || !strings.Contains(verdict.Results[0].Reason, "not announced in the Hash header") {
		t.Fatalf("verdict %+v", verdict)
	}
}
