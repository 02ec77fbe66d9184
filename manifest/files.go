package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"gitlab.com/coinpipe/coinpipe/internal/readcap"
)

// Size caps of the files a coin folder holds. A real coin.yaml is a few KiB,
// an armored key with its signatures tens of KiB, a daemon config a few KiB:
// the caps leave room and stop a manifest from making coinpipe read (and copy
// into an image) anything big.
const (
	MaxManifestSize = 256 << 10
	MaxKeyFileSize  = 1 << 20
	MaxConfigSize   = 1 << 20
	// SOURCES.md: the shipped ones are under 11 KiB.
	MaxSourcesSize = 1 << 20
	// Committed release material (ReleaseDir): Bitcoin Core's SHA256SUMS
	// with a dozen builders' signatures is under 100 KiB; the caps match
	// what a download of such a file may hold (64 MiB) in total.
	MaxReleaseFileSize  = 16 << 20
	MaxReleaseTotalSize = 64 << 20
)

// Folders of a coin folder that manifests may name files in.
const (
	KeysDir  = "keys/"
	FilesDir = "files/"
	// ReleaseDir holds the verified checksums and signature files of the
	// pinned version, laid out as release.Dir reads them (ReleaseFiles);
	// the daemon repository's release.sh uses them instead of downloading.
	ReleaseDir = "release/"
	// SourcesFile, beside coin.yaml, says where every value of the
	// manifest comes from and what to know before deploying; the daemon
	// repository carries a copy.
	SourcesFile = "SOURCES.md"
)

// linkReason completes "<path> is a symbolic link; ...": coinpipe refuses
// links outright rather than resolving them, so that no manifest can make
// it read (and copy into an image) a file outside its own folder, such as
// /proc/self/environ holding the CI job's secrets.
const linkReason = "is a symbolic link; coinpipe reads only regular files inside the coin folder"

// ReadFile reads a file the manifest names (a key under keys/, a config
// file under files/, committed release material under release/) or
// SOURCES.md, relative to the coin folder. It refuses absolute paths, ".." and any symbolic link
// along the path, anything but a regular file, and files over
// MaxKeyFileSize, MaxConfigSize, MaxReleaseFileSize or MaxSourcesSize. Refusals are
// *readcap.Error (invalid input).
//
// Each file is read once per loaded manifest: validation, the key table
// and the copy into the daemon repository then see the same bytes, and a
// fleet's generate does not pay the checks and reads three times over.
// The bytes are shared between calls: read them, never change them.
func (m *Manifest) ReadFile(rel string) ([]byte, error) {
	if m.read == nil {
		return m.readFile(rel)
	}
	key := m.Dir + "\x00" + rel // rel as given: ../x is refused, not read as another file
	m.read.mu.Lock()
	data, ok := m.read.files[key]
	m.read.mu.Unlock()
	if ok {
		return data, nil
	}
	data, err := m.readFile(rel)
	if err != nil {
		return nil, err
	}
	m.read.mu.Lock()
	m.read.files[key] = data
	m.read.mu.Unlock()
	return data, nil
}

// readMemo is ReadFile's memory, by coin folder (a copy of a manifest may
// change Dir) and relative path.
type readMemo struct {
	mu    sync.Mutex
	files map[string][]byte
}

// readFile is ReadFile without the memory.
func (m *Manifest) readFile(rel string) ([]byte, error) {
	var max int64
	switch {
	case path.IsAbs(rel) || path.Clean(rel) != rel || strings.Contains("/"+rel+"/", "/../"):
		return nil, &readcap.Error{Path: rel, Reason: "must be a clean path relative to the coin folder"}
	case strings.HasPrefix(rel, KeysDir):
		max = MaxKeyFileSize
	case strings.HasPrefix(rel, FilesDir):
		max = MaxConfigSize
	case strings.HasPrefix(rel, ReleaseDir):
		max = MaxReleaseFileSize
	case rel == SourcesFile:
		max = MaxSourcesSize
	default:
		return nil, &readcap.Error{Path: rel, Reason: "is outside keys/, files/ and release/, the only folders coinpipe reads in a coin folder"}
	}
	file := filepath.Join(m.Dir, filepath.FromSlash(rel))
	// Every folder between the coin folder and the file must be a real
	// folder: a link anywhere could lead out of the coin folder.
	dir := m.Dir
	parts := strings.Split(rel, "/")
	for _, part := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, part)
		if err := realDir(dir); err != nil {
			return nil, err
		}
	}
	// NoLink: the file itself must not be a link either; readcap's own
	// lstat finds one, and the refusal says why links are refused here.
	buf := scratch.Get().(*[]byte)
	defer scratch.Put(buf)
	data, err := readcap.AppendFileNoLink((*buf)[:0], filepath.ToSlash(file), max)
	var refused *readcap.Error
	if errors.As(err, &refused) && refused.Type&fs.ModeSymlink != 0 {
		return nil, &readcap.Error{Path: refused.Path, Reason: linkReason, Type: refused.Type}
	}
	if err != nil {
		return nil, err
	}
	*buf = data // keep what the buffer grew to
	return shared.intern(data), nil
}

// scratch holds the buffers coin files are read into before shared.intern
// keeps them: memory the process already touched, where a buffer per file
// costs allocating, zeroing and faulting in fresh memory, a third of a
// fleet's generate on a VM.
var scratch = sync.Pool{New: func() any {
	b := make([]byte, 0, 64<<10) // a large key file
	return &b
}}

// maxSharedBytes bounds the distinct file contents shared keeps: far above
// a fleet's keys and configs, low enough that a long run over many
// distinct files cannot grow it without end (past it, each file gets its
// own copy).
const maxSharedBytes = 64 << 20

// shared is the one copy of each distinct file content read: a fleet pins
// the same keys in many coins, and 1000 coins would otherwise hold a
// thousand copies of each (192 MiB for coins/bitcoin's 15 keys). Equal
// bytes are the same file to every reader: ReadFile's bytes are never
// changed.
var shared = internTable{files: map[string][]byte{}}

type internTable struct {
	mu    sync.Mutex
	files map[string][]byte
	bytes int
}

// intern returns the kept copy of data, keeping one when there is none;
// data itself is never kept (it is a scratch buffer).
func (t *internTable) intern(data []byte) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if kept, ok := t.files[string(data)]; ok {
		return kept
	}
	kept := bytes.Clone(data)         // not nil for an empty file: Sources tells it from none
	kept = kept[:len(kept):len(kept)] // a caller's append copies, never writes past the end
	// Twice: the map's key is a copy of its own.
	if t.bytes+2*len(kept) <= maxSharedBytes {
		t.files[string(kept)] = kept
		t.bytes += 2 * len(kept)
	}
	return kept
}

// Sources returns the coin's SOURCES.md, or nil when the coin has none. A
// link or anything but a regular file is refused like any coin file.
func (m *Manifest) Sources() ([]byte, error) {
	if _, err := os.Lstat(filepath.Join(m.Dir, SourcesFile)); os.IsNotExist(err) {
		return nil, nil
	}
	return m.ReadFile(SourcesFile)
}

// realDir refuses a path that is a link or not a folder.
func realDir(dir string) error {
	info, err := os.Lstat(dir)
	switch {
	case os.IsNotExist(err):
		return &readcap.Error{Path: filepath.ToSlash(dir), Reason: "does not exist", Err: err}
	case err != nil:
		return fmt.Errorf("reading %s: %w", dir, err)
	case info.Mode()&fs.ModeSymlink != 0:
		return &readcap.Error{Path: filepath.ToSlash(dir), Reason: linkReason}
	case !info.IsDir():
		return &readcap.Error{Path: filepath.ToSlash(dir), Reason: "is " + readcap.Kind(info.Mode()) + ", not a folder"}
	}
	return nil
}

// ReleaseFiles lists the signed files of the pinned version that the
// manifest's URLs name, relative to ReleaseDir and in the layout
// release.Dir reads: <file name>, or <signer>/<file name> per signer; in
// artifact mode <artifact file>.asc per platform; none in mode none.
// Sorted. These are the files a coin may commit under release/.
func (m *Manifest) ReleaseFiles() ([]string, error) {
	r := m.Release
	var files []string
	add := func(rawURL, signer string) error {
		name := URLFileName(rawURL)
		if name == "" || name == "." || name == "/" || name == ".." {
			return fmt.Errorf("listing release files: %s names no file", rawURL)
		}
		files = append(files, path.Join(signer, name))
		return nil
	}
	switch r.Signatures.Mode {
	case ModeArtifact:
		for _, p := range r.Platforms() {
			if err := add(m.ExpandVersion(r.Artifacts[p].URL)+".asc", ""); err != nil {
				return nil, err
			}
		}
	case ModeDetached, ModeClearsigned:
		signers := []string{""}
		if r.PerSigner() {
			signers = nil
			for _, k := range r.Signatures.Keys {
				signers = append(signers, k.Signer)
			}
		}
		for _, s := range signers {
			if err := add(m.Expand(r.Checksums.URL, s), s); err != nil {
				return nil, err
			}
			if r.Signatures.Mode == ModeDetached {
				if err := add(m.Expand(r.Signatures.URL, s), s); err != nil {
					return nil, err
				}
			}
		}
	}
	sort.Strings(files)
	return slices.Compact(files), nil
}

// URLFileName is the name a release file is kept under: the last element
// of its URL's path (a query string is not part of it).
func URLFileName(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return path.Base(u.Path)
	}
	return path.Base(rawURL)
}

// Committed lists the files under the coin's release/ folder, relative to
// it and sorted; nil when the coin has no such folder. Links, and anything
// but regular files and folders, are refused (*readcap.Error): committed
// material is read into images and verified offline, so it must be the
// coin folder's own.
func (m *Manifest) Committed() ([]string, error) {
	root := filepath.Join(m.Dir, filepath.FromSlash(strings.TrimSuffix(ReleaseDir, "/")))
	if _, err := os.Lstat(root); os.IsNotExist(err) {
		return nil, nil
	}
	if err := realDir(root); err != nil {
		return nil, err
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("listing %s: %w", filepath.ToSlash(root), err)
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			return &readcap.Error{Path: filepath.ToSlash(p), Reason: linkReason}
		case t.IsDir():
			return nil
		case !t.IsRegular():
			return &readcap.Error{Path: filepath.ToSlash(p), Reason: "is " + readcap.Kind(t) + ", not a regular file; release/ holds only the signed release files"}
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}
