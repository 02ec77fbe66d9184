package verify

import (
	"slices"
	"sync"
)

// maxCachedKeyBytes bounds the key files the cache keeps: far above a
// fleet's pinned keys (coins/bitcoin's 15 keys are 192 KiB), low enough that
// a long fuzzing run cannot grow it without end.
const maxCachedKeyBytes = 64 << 20

// parsedKeys remembers what ParseKeys made of each key file. Checking a
// key's self-signatures and subkey bindings is RSA and ECC work that
// dominates generate and validate: a fleet pins the same few keys in many
// coins, and each coin is checked by validation and again by the key
// table of its release.sh. Parsing depends only on the bytes (never on the
// clock), so the result for the same bytes is the same. The cache is keyed
// by the bytes themselves: the map's hash and comparison of a key file cost
// a fraction of a sha256 of it, which a fleet's generate paid twice per
// coin, and equal bytes is an exact match, no digest to trust.
var parsedKeys = keyCache{entries: map[string]*keyCacheEntry{}}

type keyCache struct {
	mu      sync.Mutex
	entries map[string]*keyCacheEntry
	bytes   int
}

type keyCacheEntry struct {
	once sync.Once
	keys []*Key
	err  error
}

// parse returns copies of the keys in data, parsing data only the first
// time it is seen; concurrent callers with the same bytes wait for one
// parse instead of doing it twice.
func (c *keyCache) parse(data []byte) ([]*Key, error) {
	c.mu.Lock()
	e, ok := c.entries[string(data)] // no copy: a lookup does not keep the key
	if !ok {
		e = &keyCacheEntry{}
		if c.bytes+len(data) <= maxCachedKeyBytes {
			c.entries[string(data)] = e
			c.bytes += len(data)
		}
	}
	c.mu.Unlock()
	e.once.Do(func() { e.keys, e.err = parseKeys(data) })
	if e.err != nil {
		return nil, e.err
	}
	out := make([]*Key, len(e.keys))
	for i, k := range e.keys {
		out[i] = k.clone()
	}
	return out, nil
}

// clone copies k deeply enough that changing the copy's fields or slices
// leaves the cached key as it was. The go-crypto public keys are shared:
// nothing writes to them after parsing.
func (k *Key) clone() *Key {
	c := *k
	c.UserIDs = slices.Clone(k.UserIDs)
	c.Subkeys = nil
	for _, s := range k.Subkeys {
		sc := *s
		c.Subkeys = append(c.Subkeys, &sc)
	}
	return &c
}
