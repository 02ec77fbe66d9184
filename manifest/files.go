package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

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
)

// Folders of a coin folder that manifests may name files in.
const (
	KeysDir  = "keys/"
	FilesDir = "files/"
)

// linkReason completes "<path> is a symbolic link; ...": coinpipe refuses
// links outright rather than resolving them, so that no manifest can make
// it read (and copy into an image) a file outside its own folder, such as
// /proc/self/environ holding the CI job's secrets.
const linkReason = "is a symbolic link; coinpipe reads only regular files inside the coin folder"

// ReadFile reads a file the manifest names (a key under keys/, a config
// file under files/), relative to the coin folder. It refuses absolute
// paths, ".." and any symbolic link along the path, anything but a regular
// file, and files over MaxKeyFileSize or MaxConfigSize. Refusals are
// *readcap.Error (invalid input).
func (m *Manifest) ReadFile(rel string) ([]byte, error) {
	var max int64
	switch {
	case path.IsAbs(rel) || path.Clean(rel) != rel || strings.Contains("/"+rel+"/", "/../"):
		return nil, &readcap.Error{Path: rel, Reason: "must be a clean path relative to the coin folder"}
	case strings.HasPrefix(rel, KeysDir):
		max = MaxKeyFileSize
	case strings.HasPrefix(rel, FilesDir):
		max = MaxConfigSize
	default:
		return nil, &readcap.Error{Path: rel, Reason: "is outside keys/ and files/, the only folders coinpipe reads in a coin folder"}
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
	if info, err := os.Lstat(file); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		return nil, &readcap.Error{Path: filepath.ToSlash(file), Reason: linkReason}
	}
	// NoLink: a link swapped in after the check above is refused too.
	return readcap.ReadFileNoLink(filepath.ToSlash(file), max)
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
