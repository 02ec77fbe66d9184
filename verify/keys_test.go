package verify

import (
	"bytes"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestReadKeyFileRealKeys(t *testing.T) {
	tests := []struct {
		file        string
		fingerprint string
		userID      string
		expires     int64 // unix; 0: never
		canSign     bool
		signingSubs []string
	}{
		// go-crypto v2 rejects the 2023 signature with this key: every self-signature is from 2025.
		{btc + "keys/achow101.gpg", fprAchow, "Ava Chow <me@achow101.com>", 1818870394, true, nil},
		{btcHistAchow, fprAchow, "Andrew Chow <andrew@achow101.com>", 1724176400, true, nil},
		{btc + "keys/fanquake.gpg", fprFanquake, "Michael Ford (bitcoin-otc) <fanquake@gmail.com>", 0, true, []string{"CFB16E21C950F67FA95E558F2EEB9F5CC09526C1"}},
		// go-crypto v1 cannot read it: third-party certifications follow a subkey.
		{btc + "keys/laanwj.gpg", fprLaanwj, "Wladimir J. van der Laan <laanwj@protonmail.com>", 1802099981, true, []string{"9DEAE0DC7063249FB05474681E4AED62986CD25D"}},
		{"monero/keys/binaryfate.asc", fprBinary, "binaryFate <binaryfate@getmonero.org>", 0, true, []string{"AD564CDA8F1665ACE78B5DFD2593838EABB1F655"}},
		{"monero/keys/fluffypony.asc", fprFluffy, "Riccardo Spagni <ric@spagni.net>", 0, true, []string{"94B738DD350132F5ACBEEA1D55432DF31CCD4FCD"}},
		{"dogecoin-gitian/keys/patricklodder-key.pgp", fprPatrick, "Patrick Lodder <patricklodder@users.noreply.github.com>", 1721094591, true, nil},
		// Stored with CRLF line endings.
		{"dogecoin-gitian/keys/michilumin-key.pgp", fprMichi, "keybase.io/michi (v0.0.1) <michi@keybase.io>", 1904018339, true, []string{"9BCE38C0F251DC4F217DD5D3DC0F3EC6803FB45C"}},
		// Certify-only primary key: only its subkey signs.
		{"upstream-keys/bitcoin/Emzy.asc", "9EDAFF80E080659604F4A76B2EBB056FD847F8A7", "Stephan Oeste (it) <it@oeste.de>", 0, false, []string{"637DB1E23370F84AFF88CCE03152347D07DA627C"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			keys := readTestKeys(t, tt.file)
			if len(keys) != 1 {
				t.Fatalf("got %d keys, want 1", len(keys))
			}
			k := keys[0]
			if k.Fingerprint != tt.fingerprint || k.UserID != tt.userID || k.CanSign != tt.canSign {
				t.Errorf("got %s %q canSign=%v, want %s %q canSign=%v", k.Fingerprint, k.UserID, k.CanSign, tt.fingerprint, tt.userID, tt.canSign)
			}
			var exp int64
			if !k.Expires.IsZero() {
				exp = k.Expires.Unix()
			}
			if exp != tt.expires {
				t.Errorf("expires %d, want %d", exp, tt.expires)
			}
			var subs []string
			for _, s := range k.Subkeys {
				if s.CanSign {
					subs = append(subs, s.Fingerprint)
				}
			}
			if strings.Join(subs, ",") != strings.Join(tt.signingSubs, ",") {
				t.Errorf("signing subkeys %v, want %v", subs, tt.signingSubs)
			}
		})
	}
}

func TestReadKeyFileSeveralKeys(t *testing.T) {
	// BCHN ships its seven builders' keys as seven armor blocks in one file.
	keys := readTestKeys(t, "upstream-keys/bitcoin-cash/bchn-gitian-signing-pubkeys.asc")
	want := []string{
		"CC329A4FB0E41392829505FEC07A7C345E86B06C", "17D16F72C0091B1FED7795FBA9CA1D0EE3789741",
		"D465135F97D0047E18E99DC321810A542031C02C", "BA342BF30FCB03D31C2EA57C33D777A4C467A4D1",
		"B645B35C2B1D9AAC4D166E251BE4DFC04D72C281", "C1A25DBDB6A7249E714D644DC18C2DBD82B0202B",
		"D306AE90B6C54C966046C32178642A8D1B590A7A",
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.Fingerprint)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("fingerprints\n got %v\nwant %v", got, want)
	}
	sel, err := SelectKeys(keys, strings.ToLower(want[2]))
	if err != nil || len(sel) != 1 || sel[0].Fingerprint != want[2] {
		t.Errorf("SelectKeys = %v, %v", sel, err)
	}
	if _, err := SelectKeys(keys, fprAchow); err == nil || !strings.Contains(err.Error(), fprAchow) {
		t.Errorf("SelectKeys of a missing fingerprint: %v", err)
	}
}

// dearmor turns an armored test key into binary packets with go-crypto's
// decoder, independent of the one under test.
func dearmor(t *testing.T, data []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	for len(bytes.TrimSpace(data)) > 0 {
		end := bytes.Index(data, []byte("-----END PGP PUBLIC KEY BLOCK-----"))
		if end < 0 {
			break
		}
		end += len("-----END PGP PUBLIC KEY BLOCK-----")
		b, err := armor.Decode(bytes.NewReader(data[:end]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := out.ReadFrom(b.Body); err != nil {
			t.Fatal(err)
		}
		data = data[end:]
	}
	return out.Bytes()
}

func TestParseKeysEncodings(t *testing.T) {
	achow := readTestFile(t, btc+"keys/achow101.gpg")
	fanquake := readTestFile(t, btc+"keys/fanquake.gpg")
	bothArmored := append(append([]byte{}, achow...), fanquake...)
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"armored", achow, []string{fprAchow}},
		{"binary", dearmor(t, achow), []string{fprAchow}},
		{"two armor blocks", bothArmored, []string{fprAchow, fprFanquake}},
		{"two binary keys", dearmor(t, bothArmored), []string{fprAchow, fprFanquake}},
		{"CRLF armor", bytes.ReplaceAll(achow, []byte("\n"), []byte("\r\n")), []string{fprAchow}},
		{"leading text and BOM", append([]byte("\xef\xbb\xbfthe key of achow101:\n"), achow...), []string{fprAchow}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseKeys(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range keys {
				got = append(got, k.Fingerprint)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// packetBytes frames a packet in the new format.
func packetBytes(tag byte, body []byte) []byte {
	p := rawPacket{Tag: tag, Body: body}
	var b bytes.Buffer
	b.WriteByte(0xc0 | p.Tag)
	b.WriteByte(0xff)
	n := len(body)
	b.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	b.Write(body)
	return b.Bytes()
}

// insertAfterFirst inserts extra after the first packet with the given tag.
func insertAfterFirst(t *testing.T, key []byte, tag byte, extra []byte) []byte {
	return insertNear(t, key, tag, extra, false)
}

// insertBeforeFirst inserts extra before the first packet with the given tag.
func insertBeforeFirst(t *testing.T, key []byte, tag byte, extra []byte) []byte {
	return insertNear(t, key, tag, extra, true)
}

func insertNear(t *testing.T, key []byte, tag byte, extra []byte, before bool) []byte {
	t.Helper()
	ps, err := splitPackets(key)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	done := false
	for _, p := range ps {
		hit := p.Tag == tag && !done
		if hit && before {
			out = append(out, extra...)
		}
		out = append(out, packetBytes(p.Tag, p.Body)...)
		if hit && !before {
			out = append(out, extra...)
		}
		done = done || hit
	}
	if !done {
		t.Fatalf("no packet with tag %d", tag)
	}
	return out
}

func TestParseKeysLenient(t *testing.T) {
	// What GnuPG skips must not cost us the key.
	g := testenv.NewKey(t, "lenient", testenv.KeyOptions{Created: testNow.AddDate(-1, 0, 0)})
	key := g.PublicBinary(t)
	other := testenv.NewKey(t, "other", testenv.KeyOptions{Created: testNow.AddDate(-1, 0, 0)})
	thirdParty := testenv.Sign(t, other.Primary(), []byte("not a certification at all"), testenv.SignOptions{Created: testNow.AddDate(0, -6, 0)})
	garbledSig := packetBytes(tagSignature, []byte{4, 0x13, 1, 8, 0, 9, 0xff, 0xff})
	unknownAlgoSig := packetBytes(tagSignature, append([]byte{4, 0x10, 99, 8, 0, 0, 0, 0, 0xab, 0xcd}, make([]byte, 20)...))
	tests := []struct {
		name string
		data []byte
	}{
		{"garbled certification after the user ID", insertAfterFirst(t, key, tagUserID, garbledSig)},
		{"certification with an unknown algorithm", insertAfterFirst(t, key, tagUserID, unknownAlgoSig)},
		{"third-party signature of a wrong type after the subkey", append(append([]byte{}, key...), thirdParty...)},
		{"trust packet (old binary keyrings)", insertAfterFirst(t, key, tagUserID, packetBytes(12, []byte{0, 3}))},
		{"non-critical unknown packet", insertAfterFirst(t, key, tagPublicKey, packetBytes(60, []byte("x")))},
		{"user attribute with a garbled signature", insertBeforeFirst(t, key, tagPublicSubkey, append(packetBytes(tagUserAttribute, []byte{5, 1, 0}), garbledSig...))},
		{"subkey of an unknown algorithm", append(append([]byte{}, key...), packetBytes(tagPublicSubkey, []byte{4, 0, 0, 0, 0, 99, 1, 2, 3})...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseKeys(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].Fingerprint != g.Fingerprint || keys[0].UserID == "" {
				t.Fatalf("got %v", keys)
			}
		})
	}
}

func TestParseKeysRejects(t *testing.T) {
	g := testenv.NewKey(t, "broken", testenv.KeyOptions{Created: testNow.AddDate(-1, 0, 0)})
	key := g.PublicBinary(t)
	ps, err := splitPackets(key)
	if err != nil {
		t.Fatal(err)
	}
	var noSelfSig, badSelfSig []byte
	for i, p := range ps {
		if p.Tag == tagSignature && ps[i-1].Tag == tagUserID {
			bad := append([]byte{}, p.Body...)
			bad[len(bad)-3] ^= 0x40 // inside the signature value
			badSelfSig = append(badSelfSig, packetBytes(p.Tag, bad)...)
			continue
		}
		noSelfSig = append(noSelfSig, packetBytes(p.Tag, p.Body)...)
		badSelfSig = append(badSelfSig, packetBytes(p.Tag, p.Body)...)
	}
	var secret bytes.Buffer
	if err := g.Entity.SerializePrivate(&secret, nil); err != nil {
		t.Fatal(err)
	}
	achow := readTestFile(t, btc+"keys/achow101.gpg")
	lines := strings.Split(string(achow), "\n")
	crcBroken := append([]string{}, lines...)
	for i, l := range crcBroken {
		if len(l) == 5 && l[0] == '=' {
			crcBroken[i] = "=AAAA"
		}
	}
	lines[5] = lines[5][:10] + "zz" + lines[5][12:]
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "no public key found"},
		{"not a key", "hello\n", "no \"PGP PUBLIC KEY BLOCK\" armor block"},
		{"no self-signature", string(noSelfSig), "no valid self-signature"},
		{"forged self-signature", string(badSelfSig), "no valid self-signature"},
		{"truncated binary", string(key[:len(key)-7]), "truncated"},
		{"truncated armor", string(achow[:len(achow)/2]), "no END line"},
		{"armor checksum mismatch", strings.Join(crcBroken, "\n"), "CRC-24"},
		{"garbled base64", strings.Join(lines, "\n"), "CRC-24"},
		{"secret key", secret.String(), "secret key"},
		{"signature given as key", string(readTestFile(t, btc+"achow101/all.SHA256SUMS.asc")), "\"PGP SIGNATURE\" block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeys([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestKeyPropertiesFromNewestSelfSignature(t *testing.T) {
	created := testNow.AddDate(-3, 0, 0)
	g := testenv.NewKey(t, "renewed", testenv.KeyOptions{Created: created, Lifetime: 365 * 24 * time.Hour})
	// Renew: a newer self-signature on the same user ID with a longer lifetime.
	var id string
	for name := range g.Entity.Identities {
		id = name
	}
	renewedAt := created.AddDate(0, 11, 0)
	life := uint32((5 * 365 * 24 * time.Hour) / time.Second)
	sig := &packet.Signature{
		Version: 4, SigType: packet.SigTypePositiveCert, PubKeyAlgo: g.Entity.PrimaryKey.PubKeyAlgo,
		Hash: g.Entity.Identities[id].SelfSignature.Hash, CreationTime: renewedAt, IssuerKeyId: &g.Entity.PrimaryKey.KeyId,
		KeyLifetimeSecs: &life, FlagsValid: true, FlagSign: true, FlagCertify: true,
	}
	if err := sig.SignUserId(id, g.Entity.PrimaryKey, g.Primary(), g.Config(renewedAt)); err != nil {
		t.Fatal(err)
	}
	// Written before the old self-signature: order in the file must not matter.
	g.Entity.Identities[id].Signatures = append([]*packet.Signature{sig}, g.Entity.Identities[id].Signatures...)
	k := parsed(t, g)[0]
	if want := created.Add(5 * 365 * 24 * time.Hour); !k.Expires.Equal(want) {
		t.Errorf("expires %v, want %v from the newest self-signature", k.Expires, want)
	}

	if err := g.Entity.RevokeKey(packet.KeySuperseded, "replaced", g.Config(renewedAt)); err != nil {
		t.Fatal(err)
	}
	if k := parsed(t, g)[0]; !k.Revoked {
		t.Error("a key with a valid revocation signature is not marked revoked")
	}
}
