package push

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"gitlab.com/coinpipe/coinpipe/internal/ctxio"
)

// Caps on what an archive may hold (docs/architecture.md §5): the layout's
// index and the whole image.
const (
	maxIndexSize   = 4 << 20
	maxArchiveSize = 16 << 30
)

// refNameAnnotation names an image inside an OCI layout; buildah's
// oci-archive:FILE:NAME writes NAME there.
const refNameAnnotation = "org.opencontainers.image.ref.name"

var blobPath = regexp.MustCompile(`^blobs/sha256/[0-9a-f]{64}$`)

// InvalidArchiveError is an archive coinpipe cannot read an image from:
// the input's fault (exit 2).
type InvalidArchiveError struct{ msg string }

func (e InvalidArchiveError) Error() string    { return e.msg }
func (InvalidArchiveError) InvalidInput() bool { return true }

func invalidf(format string, args ...any) error {
	return InvalidArchiveError{fmt.Sprintf(format, args...)}
}

// Image is one image (or multi-platform index) read from an archive.
type Image struct {
	// Image or Index is set, as the layout's entry is.
	Image v1.Image
	Index v1.ImageIndex
	// Digest is its manifest's digest: what the registry will call it.
	Digest v1.Hash
	// Name is the layout's ref name for it, "" when it has none.
	Name string
}

// ReadArchive unpacks the OCI archive file (a tar of an OCI image layout,
// as `buildah push … oci-archive:FILE:NAME` writes it) into dir and returns
// the image to push: the only one, or the one whose ref name is one of
// names (e.g. "bitcoin:31.1", "31.1").
func ReadArchive(ctx context.Context, file, dir string, names ...string) (Image, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return Image{}, invalidf("reading image archive %s: no such file", file)
	}
	if err != nil {
		return Image{}, fmt.Errorf("reading image archive %s: %w", file, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return Image{}, invalidf("reading image archive %s: not a regular file", file)
	}
	if err := untar(ctx, ctxio.Reader(ctx, f), dir); err != nil {
		return Image{}, fmt.Errorf("reading image archive %s: %w", file, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return Image{}, invalidf("reading image archive %s: not an OCI image layout: %v", file, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return Image{}, invalidf("reading image archive %s: %v", file, err)
	}
	var chosen *v1.Descriptor
	var found []string
	for i, d := range im.Manifests {
		n := d.Annotations[refNameAnnotation]
		found = append(found, fmt.Sprintf("%q", n))
		for _, want := range names {
			if n == want && chosen == nil {
				chosen = &im.Manifests[i]
			}
		}
	}
	switch {
	case chosen != nil:
	case len(im.Manifests) == 1:
		chosen = &im.Manifests[0]
	case len(im.Manifests) == 0:
		return Image{}, invalidf("reading image archive %s: it holds no image", file)
	default:
		return Image{}, invalidf("reading image archive %s: it holds %d images (%s) and none is named %s", file, len(im.Manifests), strings.Join(found, ", "), strings.Join(names, " or "))
	}
	out := Image{Digest: chosen.Digest, Name: chosen.Annotations[refNameAnnotation]}
	switch {
	case chosen.MediaType.IsIndex():
		out.Index, err = idx.ImageIndex(chosen.Digest)
	case chosen.MediaType.IsImage():
		out.Image, err = idx.Image(chosen.Digest)
	default:
		return Image{}, invalidf("reading image archive %s: %s is a %s, not an image", file, chosen.Digest, chosen.MediaType)
	}
	if err != nil {
		return Image{}, invalidf("reading image archive %s: %v", file, err)
	}
	return out, nil
}

// untar writes the layout's files (oci-layout, index.json, blobs/sha256/*)
// into dir: regular files and folders only, nothing outside dir.
func untar(ctx context.Context, r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return InvalidArchiveError{"not a tar archive: " + err.Error()}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		switch {
		case h.Typeflag == tar.TypeDir:
			if name == "." || name == "blobs" || name == "blobs/sha256" {
				continue
			}
			return invalidf("unexpected folder %q: an OCI layout holds oci-layout, index.json and blobs/sha256/", h.Name)
		case h.Typeflag != tar.TypeReg:
			return invalidf("%q is not a regular file: an OCI layout holds none", h.Name)
		case name != "oci-layout" && name != "index.json" && !blobPath.MatchString(name):
			return invalidf("unexpected file %q: an OCI layout holds oci-layout, index.json and blobs/sha256/<digest>", h.Name)
		case name == "index.json" && h.Size > maxIndexSize:
			return invalidf("index.json is %d bytes, over the cap of %d", h.Size, maxIndexSize)
		}
		if total += h.Size; total > maxArchiveSize {
			return invalidf("the image is over the cap of %d GiB", maxArchiveSize>>30)
		}
		if err := writeFile(filepath.Join(dir, filepath.FromSlash(name)), tr, h.Size); err != nil {
			return err
		}
	}
}

func writeFile(p string, r io.Reader, size int64) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return invalidf("%s is in the archive twice", filepath.Base(p))
		}
		return err
	}
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return f.Close()
}
