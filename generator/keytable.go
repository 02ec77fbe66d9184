package generator

import (
	"fmt"

	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/release"
)

// keyRow is one line of release.sh's key table: a pinned key's primary or
// subkey, with the expiry that applies to the signatures it makes.
type keyRow struct {
	Fingerprint, Primary string
	Expires              int64  // Unix time; 0: never
	ExpiresDay           string // 2006-01-02 (UTC), "-" for never
	CanSign              bool
}

// keyTable reads the pinned keys with the Go key reader, so that release.sh
// judges each signature's expiry by the key that made it, as verify does
// (docs/architecture.md §7).
func keyTable(m *manifest.Manifest) ([]keyRow, error) {
	keys, err := release.PinnedKeys(m)
	if err != nil {
		return nil, fmt.Errorf("rendering the key table of %s: %w", m.Name, err)
	}
	var rows []keyRow
	for _, k := range keys {
		for _, s := range k.Key.SignerKeys() {
			r := keyRow{Fingerprint: s.Fingerprint, Primary: s.Primary, ExpiresDay: "-", CanSign: s.CanSign}
			if !s.Expires.IsZero() {
				r.Expires, r.ExpiresDay = s.Expires.Unix(), s.Expires.UTC().Format("2006-01-02")
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}
