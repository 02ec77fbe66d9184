package verify

import (
	"os"
	"reflect"
	"sync"
	"testing"
)

// The same key file is parsed and checked once: later calls, also
// concurrent ones, get the cached parse, each as copies of its own.
func TestParseKeysParsesEachFileOnce(t *testing.T) {
	data, err := os.ReadFile("../coins/bitcoin/keys/Sjors.asc")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := parseKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	got := make([][]*Key, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			keys, err := ParseKeys(data)
			if err != nil {
				t.Error(err)
			}
			got[i] = keys
		})
	}
	wg.Wait()
	e := parsedKeys.entries[string(data)]
	if e == nil {
		t.Fatal("the key file was not cached")
	}
	for i, keys := range got {
		if !reflect.DeepEqual(keys, fresh) {
			t.Fatalf("call %d: the cached parse differs from a fresh one", i)
		}
		// One parse: every call shares the go-crypto key it made.
		if keys[0].pub != e.keys[0].pub {
			t.Errorf("call %d parsed the file again", i)
		}
	}
	got[0][0].UserIDs[0] = "changed by a caller"
	got[0][0].Subkeys = nil
	if again, _ := ParseKeys(data); !reflect.DeepEqual(again, fresh) {
		t.Error("a caller's change reached the cache")
	}
}

// A broken file gives the same error every time.
func TestParseKeysCachesErrors(t *testing.T) {
	data := []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64\n-----END PGP PUBLIC KEY BLOCK-----\n")
	_, want := parseKeys(data)
	if want == nil {
		t.Fatal("a broken key file parsed")
	}
	for range 2 {
		if _, err := ParseKeys(data); err == nil || err.Error() != want.Error() {
			t.Errorf("ParseKeys: %v, want %v", err, want)
		}
	}
}
