// Package push puts a built image into its registry under the tag its
// manifest names (docs/architecture.md §5): never moving a tag that exists,
// uploading nothing when the image is already there.
package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"gitlab.com/coinpipe/coinpipe/internal/ecr"
)

// Status of a push.
const (
	Pushed        = "pushed"
	AlreadyPushed = "already pushed"
)

// Target is where an image goes: a repository and how to log in to it.
type Target struct {
	Repository name.Repository
	Auth       authn.Authenticator
	// Created says the repository was created for this push (ECR).
	Created bool
}

// Options describe one push.
type Options struct {
	// Archive is the OCI archive (buildah's oci-archive) holding the image.
	Archive string
	Target  Target
	// Coin and Tag name the image: the manifest's name and ImageTag.
	Coin, Tag string
	// Manifest is the coin.yaml path named in the advice when a tag is
	// already taken.
	Manifest string
	// Transport carries every registry request; nil: the default.
	Transport http.RoundTripper
	Log       *slog.Logger
}

// Result is what a push did.
type Result struct {
	Coin string `json:"coin"`
	Tag  string `json:"tag"`
	// Reference is <registry>/<repository>:<tag>@<digest>.
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	Status    string `json:"status"`
	// Created: the repository was created by this push.
	Created bool `json:"repository_created"`
	// BlobsUploaded counts the blob uploads this push started.
	BlobsUploaded int           `json:"blobs_uploaded"`
	Elapsed       time.Duration `json:"-"`
}

// Line is the result as one line of output.
func (r Result) Line() string {
	if r.Status == AlreadyPushed {
		return r.Reference + " (already pushed)"
	}
	return r.Reference
}

// ReleasedError is a tag that already names another image: tags are
// immutable, so this image cannot ship under it (exit 3, whatever the
// registry's own setting).
type ReleasedError struct {
	Coin, Tag, Existing, Image, Manifest string
}

func (e ReleasedError) Error() string {
	return fmt.Sprintf("%s:%s already released as %s (this image is %s); tags are never moved: bump image.revision in %s to ship a rebuild",
		e.Coin, e.Tag, e.Existing, e.Image, e.Manifest)
}

// VerificationFailed makes it exit 3: the image is not the one released.
func (ReleasedError) VerificationFailed() bool { return true }

// Push reads the image from the archive and pushes it to the target as
// Coin:Tag, unless the tag exists: the same digest is a no-op, another one
// a ReleasedError.
func Push(ctx context.Context, opts Options) (Result, error) {
	start := time.Now()
	res := Result{Coin: opts.Coin, Tag: opts.Tag, Created: opts.Target.Created}
	ref := opts.Target.Repository.Tag(opts.Tag)

	dir, err := os.MkdirTemp("", "coinpipe-push-")
	if err != nil {
		return res, fmt.Errorf("unpacking %s: %w", opts.Archive, err)
	}
	defer os.RemoveAll(dir)
	img, err := ReadArchive(ctx, opts.Archive, dir, opts.Coin+":"+opts.Tag, opts.Tag)
	if err != nil {
		return res, err
	}
	res.Digest = img.Digest.String()
	res.Reference = ref.Name() + "@" + res.Digest

	rt := opts.Transport
	if rt == nil {
		// A pool of its own, as crane does: measured faster than sharing
		// the package-wide one.
		rt = remote.DefaultTransport.(*http.Transport).Clone()
	}
	counter := &uploadCounter{next: rt}
	auth := opts.Target.Auth
	if auth == nil {
		auth = authn.Anonymous
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(counter)}

	done, err := released(ctx, opts, ref, img, ropts)
	if err != nil || done {
		res.Status = AlreadyPushed
		return res, err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Info("pushing", "image", ref.Name(), "digest", res.Digest, "from", opts.Archive)
	if img.Index != nil {
		err = remote.WriteIndex(ref, img.Index, ropts...)
	} else {
		err = remote.Write(ref, img.Image, ropts...)
	}
	res.BlobsUploaded = int(counter.n.Load())
	if err != nil {
		// Someone else pushed the tag since we looked, and the registry
		// keeps tags immutable: decide on what is there now.
		var terr *transport.Error
		if errors.As(err, &terr) && hasCode(terr, "TAG_INVALID") {
			if done, rerr := released(ctx, opts, ref, img, ropts); done || rerr != nil {
				res.Status = AlreadyPushed
				return res, rerr
			}
		}
		return res, fmt.Errorf("pushing %s: %w", ref.Name(), err)
	}
	res.Status = Pushed
	res.Elapsed = time.Since(start)
	log.Info("pushed", "image", res.Reference, "blobs_uploaded", res.BlobsUploaded, "elapsed", res.Elapsed.Round(time.Millisecond).String())
	return res, nil
}

// released looks the tag up: true when it already names this image, a
// ReleasedError when it names another, false when it is free.
func released(ctx context.Context, opts Options, ref name.Tag, img Image, ropts []remote.Option) (bool, error) {
	desc, err := remote.Head(ref, ropts...)
	var terr *transport.Error
	switch {
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
		return false, nil
	case err != nil:
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("looking up %s: %w", ref.Name(), err)
	case desc.Digest == img.Digest:
		return true, nil
	}
	return false, ReleasedError{Coin: opts.Coin, Tag: opts.Tag, Existing: desc.Digest.String(), Image: img.Digest.String(), Manifest: opts.Manifest}
}

func hasCode(e *transport.Error, code string) bool {
	for _, d := range e.Errors {
		if string(d.Code) == code {
			return true
		}
	}
	return false
}

// uploadCounter counts blob uploads started (POST …/blobs/uploads/).
type uploadCounter struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *uploadCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/blobs/uploads") {
		c.n.Add(1)
	}
	return c.next.RoundTrip(req)
}

// TokenSource is where ECR logins come from (ecr.Client).
type TokenSource interface {
	AuthToken(ctx context.Context) (ecr.Token, error)
}

// ECRTarget ensures the coin's ECR repository (created immutable, with
// the manifest's KMS key or AES256, when missing; an existing one is left
// alone) and logs in to its registry with the account's token, refreshed
// when it nears expiry even in the middle of a push.
func ECRTarget(ctx context.Context, c *ecr.Client, repository, kmsKey string, log *slog.Logger) (Target, error) {
	repo, created, err := c.EnsureRepository(ctx, repository, kmsKey)
	if err != nil {
		return Target{}, err
	}
	if log != nil {
		switch {
		case created:
			log.Info("created ECR repository", "repository", repo.Name, "tags", "immutable", "encryption", repo.Encryption)
		case !repo.Immutable:
			log.Warn("ECR repository keeps tags mutable; coinpipe still never moves a tag", "repository", repo.Name)
		}
	}
	tok, err := c.AuthToken(ctx)
	if err != nil {
		return Target{}, err
	}
	var nopts []name.Option
	if tok.Insecure() {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.NewRepository(tok.Host()+"/"+repository, nopts...)
	if err != nil {
		return Target{}, fmt.Errorf("naming ECR repository %s at %s: %w", repository, tok.Host(), err)
	}
	return Target{Repository: r, Auth: ecrAuth{c}, Created: created}, nil
}

// RegistryTarget is a repository of any OCI registry (--repository), with
// the credentials keychain finds for it (Docker's config and credential
// helpers). A reference holding a tag or digest is refused: the tag comes
// from the manifest.
func RegistryTarget(ctx context.Context, ref string, keychain authn.Keychain) (Target, error) {
	r, err := name.NewRepository(ref)
	if err != nil {
		return Target{}, invalidf("--repository %q: %v; name a repository such as registry.gitlab.com/group/bitcoin (the tag comes from coin.yaml)", ref, err)
	}
	auth, err := authn.Resolve(ctx, keychain, r)
	if err != nil {
		return Target{}, fmt.Errorf("finding credentials for %s: %w", r.RegistryStr(), err)
	}
	return Target{Repository: r, Auth: auth}, nil
}

// ecrAuth logs in with the client's cached token.
type ecrAuth struct{ src TokenSource }

func (a ecrAuth) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	t, err := a.src.AuthToken(ctx)
	if err != nil {
		return nil, err
	}
	return &authn.AuthConfig{Username: t.User, Password: t.Password}, nil
}

// Authorization is never called: go-containerregistry prefers
// AuthorizationContext, and a token fetch needs the run's context.
func (a ecrAuth) Authorization() (*authn.AuthConfig, error) {
	return nil, errors.New("logging in to ECR: needs a context")
}
