package verify

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// OpenPGP packet tags this package cares about (RFC 9580 §5).
const (
	tagSignature        = 2
	tagOnePassSignature = 4
	tagSecretKey        = 5
	tagPublicKey        = 6
	tagSecretSubkey     = 7
	tagCompressed       = 8
	tagMarker           = 10
	tagLiteralData      = 11
	tagUserID           = 13
	tagPublicSubkey     = 14
	tagUserAttribute    = 17
)

// rawPacket is one packet as framed on the wire, before its body is parsed.
// Framing is done here so that a body go-crypto cannot parse (an unknown
// algorithm, a garbled third-party certification) can be skipped on its own,
// while a framing error — which leaves no way to find the next packet — is
// always fatal.
type rawPacket struct {
	Tag    uint8
	Body   []byte
	Offset int
}

// splitPackets frames every packet in data (old and new formats, partial
// body lengths included).
func splitPackets(data []byte) ([]rawPacket, error) {
	var out []rawPacket
	for off := 0; off < len(data); {
		p, n, err := nextPacket(data[off:])
		if err != nil {
			return nil, fmt.Errorf("packet at byte %d: %w", off, err)
		}
		p.Offset = off
		out = append(out, p)
		off += n
	}
	return out, nil
}

// nextPacket frames the packet at the start of data and returns it with the
// number of bytes it takes.
func nextPacket(data []byte) (rawPacket, int, error) {
	if len(data) == 0 || data[0]&0x80 == 0 {
		return rawPacket{}, 0, fmt.Errorf("not an OpenPGP packet header")
	}
	if data[0]&0x40 == 0 {
		return oldFormatPacket(data)
	}
	p := rawPacket{Tag: data[0] & 0x3f}
	off := 1
	for {
		n, partial, used, err := newFormatLength(data[off:])
		if err != nil {
			return p, 0, err
		}
		off += used
		if n > len(data)-off {
			return p, 0, fmt.Errorf("truncated packet: %d bytes announced, %d left", n, len(data)-off)
		}
		p.Body = append(p.Body, data[off:off+n]...)
		off += n
		if !partial {
			return p, off, nil
		}
	}
}

func newFormatLength(b []byte) (n int, partial bool, used int, err error) {
	if len(b) == 0 {
		return 0, false, 0, fmt.Errorf("truncated packet length")
	}
	switch c := int(b[0]); {
	case c < 192:
		return c, false, 1, nil
	case c < 224:
		if len(b) < 2 {
			return 0, false, 0, fmt.Errorf("truncated packet length")
		}
		return (c-192)<<8 + int(b[1]) + 192, false, 2, nil
	case c < 255:
		return 1 << (c & 0x1f), true, 1, nil
	default:
		if len(b) < 5 {
			return 0, false, 0, fmt.Errorf("truncated packet length")
		}
		l := binary.BigEndian.Uint32(b[1:5])
		if uint64(l) > uint64(len(b)) {
			return 0, false, 0, fmt.Errorf("truncated packet: %d bytes announced", l)
		}
		return int(l), false, 5, nil
	}
}

func oldFormatPacket(data []byte) (rawPacket, int, error) {
	p := rawPacket{Tag: (data[0] >> 2) & 0x0f}
	var n, off int
	switch data[0] & 3 {
	case 0:
		if len(data) < 2 {
			return p, 0, fmt.Errorf("truncated packet length")
		}
		n, off = int(data[1]), 2
	case 1:
		if len(data) < 3 {
			return p, 0, fmt.Errorf("truncated packet length")
		}
		n, off = int(binary.BigEndian.Uint16(data[1:3])), 3
	case 2:
		if len(data) < 5 {
			return p, 0, fmt.Errorf("truncated packet length")
		}
		l := binary.BigEndian.Uint32(data[1:5])
		if uint64(l) > uint64(len(data)) {
			return p, 0, fmt.Errorf("truncated packet: %d bytes announced", l)
		}
		n, off = int(l), 5
	default: // indeterminate length: the packet runs to the end of the input
		n, off = len(data)-1, 1
	}
	if n > len(data)-off {
		return p, 0, fmt.Errorf("truncated packet: %d bytes announced, %d left", n, len(data)-off)
	}
	p.Body = data[off : off+n]
	return p, off + n, nil
}

// parse hands the packet to go-crypto, re-framed with a definite length.
func (p rawPacket) parse() (packet.Packet, error) {
	var buf bytes.Buffer
	buf.Grow(len(p.Body) + 6)
	buf.WriteByte(0xc0 | p.Tag)
	buf.WriteByte(0xff)
	_ = binary.Write(&buf, binary.BigEndian, uint32(len(p.Body)))
	buf.Write(p.Body)
	return packet.Read(&buf)
}

// decodePackets turns a key or signature file, armored or binary, into framed packets.
func decodePackets(data []byte, armorType string) ([]rawPacket, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark some editors add
	if !isArmored(data) {
		return splitPackets(data)
	}
	blocks, err := decodeArmor(data, armorType)
	if err != nil {
		return nil, err
	}
	var all []rawPacket
	for _, b := range blocks {
		ps, err := splitPackets(b.Data)
		if err != nil {
			return nil, fmt.Errorf("armor block at line %d: %w", b.Line, err)
		}
		all = append(all, ps...)
	}
	return all, nil
}
