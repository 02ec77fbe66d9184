package ecr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RegistryOptions give a registry ECR's rules; the zero value is a plain
// OCI registry that anyone may push to and tags that can be moved.
type RegistryOptions struct {
	// Authorize checks Basic credentials; nil: no authentication.
	Authorize func(user, pass string) bool
	// Exists says whether a repository may be pushed to; nil: any.
	Exists func(repo string) bool
	// NotFound is the message for a push to a repository that does not exist.
	NotFound func(repo string) string
	// Immutable says whether a repository's tags may not be moved.
	Immutable func(repo string) bool
	// Tagged, when set, is told each tag a push made or moved, after the
	// registry serves it: e.g. a simulated fleet's hosts can pull it then.
	Tagged func(repo, tag, digest string)
}

// Stats counts what was pushed.
type Stats struct {
	// UploadsStarted counts POST /v2/<repo>/blobs/uploads/ (a blob upload
	// begins with one); BlobsStored counts blobs written, BytesStored their
	// size; ManifestPuts counts PUT /v2/<repo>/manifests/<ref> accepted.
	UploadsStarted, BlobsStored, ManifestPuts int
	BytesStored                               int64
}

// Registry is go-containerregistry's in-process registry (pkg/registry)
// with ECR's semantics added in front of it. Build it with NewRegistry.
type Registry struct {
	opts  RegistryOptions
	inner http.Handler
	store *scopedBlobs

	mu    sync.Mutex
	tags  map[string]map[string]string // repo → tag → manifest digest
	stats Stats
}

// NewRegistry returns a registry with the given rules.
func NewRegistry(opts RegistryOptions) *Registry {
	r := &Registry{opts: opts, tags: map[string]map[string]string{}}
	r.store = &scopedBlobs{blobs: map[string]map[v1.Hash][]byte{}, stored: r.countBlob}
	r.inner = registry.New(registry.WithBlobHandler(r.store), registry.Logger(log.New(io.Discard, "", 0)))
	return r
}

// Stats returns the counters so far.
func (r *Registry) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Tag returns the manifest digest repo:tag points at.
func (r *Registry) Tag(repo, tag string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.tags[repo][tag]
	return d, ok
}

// HasBlob reports whether repo holds the blob.
func (r *Registry) HasBlob(repo string, h v1.Hash) bool {
	_, err := r.store.Stat(context.Background(), repo, h)
	return err == nil
}

func (r *Registry) countBlob(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.BlobsStored++
	r.stats.BytesStored += n
}

func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.opts.Authorize != nil {
		user, pass, ok := req.BasicAuth()
		if !ok || !r.opts.Authorize(user, pass) {
			// ECR's challenge: Basic, so clients send the token's user:password.
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="https://%s/",service="ecr.amazonaws.com"`, req.Host))
			ociError(w, http.StatusUnauthorized, "DENIED", "Not Authorized")
			return
		}
	}
	repo, kind, ref := parse(req.URL.Path)
	if repo != "" && r.opts.Exists != nil && !r.opts.Exists(repo) {
		ociError(w, http.StatusNotFound, "NAME_UNKNOWN", r.opts.NotFound(repo))
		return
	}
	switch {
	case kind == "uploads" && req.Method == http.MethodPost:
		r.mu.Lock()
		r.stats.UploadsStarted++
		r.mu.Unlock()
	case kind == "manifests" && req.Method == http.MethodPut:
		r.putManifest(w, req, repo, ref)
		return
	}
	r.inner.ServeHTTP(w, req)
}

// putManifest refuses to move a tag of an immutable repository, as ECR
// does (even to the same digest), and records where tags point.
func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, repo, ref string) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 4<<20))
	if err != nil {
		ociError(w, http.StatusBadRequest, "MANIFEST_INVALID", err.Error())
		return
	}
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	isTag := !strings.HasPrefix(ref, "sha256:")
	if isTag && r.opts.Immutable != nil && r.opts.Immutable(repo) {
		if _, exists := r.Tag(repo, ref); exists {
			ociError(w, http.StatusBadRequest, "TAG_INVALID", fmt.Sprintf("The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", ref, repo))
			return
		}
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w}
	r.inner.ServeHTTP(sw, req)
	if sw.status != http.StatusCreated {
		return
	}
	r.mu.Lock()
	r.stats.ManifestPuts++
	if isTag {
		if r.tags[repo] == nil {
			r.tags[repo] = map[string]string{}
		}
		r.tags[repo][ref] = digest
	}
	r.mu.Unlock()
	if isTag && r.opts.Tagged != nil {
		r.opts.Tagged(repo, ref, digest)
	}
}

// parse splits /v2/<repo>/<kind>/<ref>: kind is blobs, uploads (for
// /blobs/uploads/[id]), manifests or tags; repo is "" for anything else.
func parse(p string) (repo, kind, ref string) {
	elem := strings.Split(strings.TrimSuffix(strings.TrimPrefix(p, "/v2/"), "/"), "/")
	n := len(elem)
	switch {
	case n >= 3 && elem[n-2] == "blobs" && elem[n-1] == "uploads":
		return strings.Join(elem[:n-2], "/"), "uploads", ""
	case n >= 4 && elem[n-3] == "blobs" && elem[n-2] == "uploads":
		return strings.Join(elem[:n-3], "/"), "uploads", elem[n-1]
	case n >= 3 && (elem[n-2] == "blobs" || elem[n-2] == "manifests"):
		return strings.Join(elem[:n-2], "/"), elem[n-2], elem[n-1]
	case n >= 3 && elem[n-2] == "tags" && elem[n-1] == "list":
		return strings.Join(elem[:n-2], "/"), "tags", ""
	}
	return "", "", ""
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func ociError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// scopedBlobs keeps each repository's blobs apart, as ECR does:
// go-containerregistry's own memory store shares them across repositories,
// which would make a push to a new repository upload nothing.
type scopedBlobs struct {
	mu     sync.Mutex
	blobs  map[string]map[v1.Hash][]byte
	stored func(n int64)
}

func (b *scopedBlobs) Stat(_ context.Context, repo string, h v1.Hash) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.blobs[repo][h]
	if !ok {
		return 0, registry.ErrNotFound
	}
	return int64(len(data)), nil
}

func (b *scopedBlobs) Get(_ context.Context, repo string, h v1.Hash) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.blobs[repo][h]
	if !ok {
		return nil, registry.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *scopedBlobs) Put(_ context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err // the digest check's error, which the registry answers as DIGEST_INVALID
	}
	b.mu.Lock()
	if b.blobs[repo] == nil {
		b.blobs[repo] = map[v1.Hash][]byte{}
	}
	b.blobs[repo][h] = data
	b.mu.Unlock()
	b.stored(int64(len(data)))
	return nil
}
