package verify

import (
	"bytes"
	"encoding/base64"
	"fmt"
)

// OpenPGP armor is decoded here rather than with go-crypto's armor package
// because that one stops at the first block, does not check the CRC-24 and
// accepts a block without its END line; a truncated or corrupted signature
// file must be reported as such, and Bitcoin Core's SHA256SUMS.asc is several
// blocks in a row.

// armorBlock is one decoded "-----BEGIN <Type>-----" ... "-----END <Type>-----" block.
type armorBlock struct {
	Type string
	Line int // where the BEGIN line is, for messages
	Data []byte
}

const crc24Init, crc24Poly = 0xb704ce, 0x1864cfb

func crc24(data []byte) uint32 {
	crc := uint32(crc24Init)
	for _, b := range data {
		crc ^= uint32(b) << 16
		for i := 0; i < 8; i++ {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= crc24Poly
			}
		}
	}
	return crc & 0xffffff
}

// isArmored tells armored text from binary OpenPGP packets: every packet
// header has its top bit set, and no armored file starts with such a byte.
func isArmored(data []byte) bool {
	return len(data) > 0 && data[0]&0x80 == 0
}

// splitLines splits on LF and drops a trailing CR and surrounding blanks,
// so CRLF files (michilumin's key) read the same as LF files.
func splitLines(data []byte) [][]byte {
	lines := bytes.Split(data, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimSpace(l)
	}
	return lines
}

// decodeArmor decodes every armor block in data. Text outside blocks is
// ignored, as GnuPG does: it is never hashed nor used. Blocks of another type
// than want are an error, so a key file given as a signature is caught.
func decodeArmor(data []byte, want string) ([]armorBlock, error) {
	lines := splitLines(data)
	var blocks []armorBlock
	for i := 0; i < len(lines); i++ {
		typ, ok := armorLine(lines[i], "-----BEGIN ")
		if !ok {
			continue
		}
		if typ != want {
			return nil, fmt.Errorf("line %d: found a %q block where a %q block was expected", i+1, typ, want)
		}
		b, next, err := decodeArmorBody(lines, i)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
		i = next
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("no %q armor block found", want)
	}
	return blocks, nil
}

// armorLine returns the type named by a "-----BEGIN X-----" or "-----END X-----" line.
func armorLine(line []byte, prefix string) (string, bool) {
	if !bytes.HasPrefix(line, []byte(prefix)) || !bytes.HasSuffix(line, []byte("-----")) || len(line) < len(prefix)+5 {
		return "", false
	}
	return string(line[len(prefix) : len(line)-5]), true
}

// decodeArmorBody reads the block whose BEGIN line is lines[begin] and
// returns it with the index of its END line.
func decodeArmorBody(lines [][]byte, begin int) (armorBlock, int, error) {
	typ, _ := armorLine(lines[begin], "-----BEGIN ")
	b := armorBlock{Type: typ, Line: begin + 1}
	i := begin + 1
	// Headers ("Version: ...", "Comment: ...") run to the first blank line.
	// Base64 has no ':', so a body that starts without the blank line is
	// still recognised.
	for ; i < len(lines) && len(lines[i]) > 0 && bytes.IndexByte(lines[i], ':') >= 0; i++ {
	}
	var body []byte
	var checksum []byte
	for ; i < len(lines); i++ {
		line := lines[i]
		if end, ok := armorLine(line, "-----END "); ok {
			if end != typ {
				return b, 0, fmt.Errorf("armor block at line %d: BEGIN %s ends with END %s at line %d", b.Line, typ, end, i+1)
			}
			data, err := base64.StdEncoding.DecodeString(string(body))
			if err != nil {
				return b, 0, fmt.Errorf("armor block at line %d: corrupt base64: %w", b.Line, err)
			}
			if checksum != nil {
				want := uint32(checksum[0])<<16 | uint32(checksum[1])<<8 | uint32(checksum[2])
				if crc24(data) != want {
					return b, 0, fmt.Errorf("armor block at line %d: CRC-24 checksum mismatch: the block is corrupted", b.Line)
				}
			}
			b.Data = data
			return b, i, nil
		}
		switch {
		case len(line) == 0:
		case checksum != nil:
			return b, 0, fmt.Errorf("armor block at line %d: unexpected text after the checksum line at line %d", b.Line, i+1)
		case line[0] == '=' && len(line) == 5:
			sum, err := base64.StdEncoding.DecodeString(string(line[1:]))
			if err != nil || len(sum) != 3 {
				return b, 0, fmt.Errorf("armor block at line %d: malformed checksum line %d", b.Line, i+1)
			}
			checksum = sum
		default:
			body = append(body, line...)
		}
	}
	return b, 0, fmt.Errorf("armor block %q at line %d has no END line: the file is truncated", typ, b.Line)
}
