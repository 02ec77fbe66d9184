// Package ecr is coinpipe's thin client of Amazon ECR's API
// (aws-sdk-go-v2/service/ecr): registry credentials, cached until shortly
// before they expire, and the repository a coin's images are pushed to,
// created immutable when missing (docs/architecture.md §5).
package ecr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// RefreshBefore is how long before its expiry a cached token is replaced:
// a push that starts with a token must not see it expire half way.
const RefreshBefore = 5 * time.Minute

// API is the part of the SDK's client coinpipe calls.
type API interface {
	GetAuthorizationToken(ctx context.Context, in *ecr.GetAuthorizationTokenInput, opts ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error)
	DescribeRepositories(ctx context.Context, in *ecr.DescribeRepositoriesInput, opts ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error)
	CreateRepository(ctx context.Context, in *ecr.CreateRepositoryInput, opts ...func(*ecr.Options)) (*ecr.CreateRepositoryOutput, error)
}

// Client talks to one account's registry. It is safe for concurrent use.
type Client struct {
	api API
	now func() time.Time

	mu    sync.Mutex
	token *Token
}

// New returns a client over the SDK client built from cfg; endpoint, when
// set, replaces the SDK's own (AWS_ENDPOINT_URL_ECR). now is the clock
// token expiry is judged by.
func New(cfg aws.Config, endpoint string, now func() time.Time) *Client {
	api := ecr.NewFromConfig(cfg, func(o *ecr.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return NewWithAPI(api, now)
}

// NewWithAPI returns a client over any implementation of the API.
func NewWithAPI(api API, now func() time.Time) *Client {
	if now == nil {
		now = time.Now
	}
	return &Client{api: api, now: now}
}

// Token is a registry login: docker's user name and password for Endpoint.
type Token struct {
	User, Password string
	// Endpoint is the registry's URL, https://<account>.dkr.ecr.<region>.amazonaws.com.
	Endpoint string
	Expires  time.Time
}

// String never shows the password: a token printed by mistake leaks
// nothing.
func (t Token) String() string {
	return fmt.Sprintf("%s@%s (password redacted, expires %s)", t.User, t.Endpoint, t.Expires.UTC().Format(time.RFC3339))
}

// Host is the registry's host[:port], as image references name it.
func (t Token) Host() string {
	h := strings.TrimPrefix(strings.TrimPrefix(t.Endpoint, "https://"), "http://")
	return strings.TrimSuffix(h, "/")
}

// Insecure reports whether the registry speaks plain HTTP: only a local
// stand-in does.
func (t Token) Insecure() bool { return strings.HasPrefix(t.Endpoint, "http://") }

// AuthToken returns the registry login, from GetAuthorizationToken, cached
// until RefreshBefore its expiry.
func (c *Client) AuthToken(ctx context.Context) (Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != nil && c.now().Before(c.token.Expires.Add(-RefreshBefore)) {
		return *c.token, nil
	}
	out, err := c.api.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return Token{}, fmt.Errorf("getting an ECR authorization token: %w", err)
	}
	if len(out.AuthorizationData) == 0 {
		return Token{}, errors.New("getting an ECR authorization token: the answer holds no authorization data")
	}
	data := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(data.AuthorizationToken))
	if err != nil {
		return Token{}, errors.New("getting an ECR authorization token: the token is not base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		// The decoded token is the password: never quote it.
		return Token{}, errors.New("getting an ECR authorization token: the token is not user:password")
	}
	t := Token{User: user, Password: pass, Endpoint: aws.ToString(data.ProxyEndpoint), Expires: aws.ToTime(data.ExpiresAt)}
	if t.Endpoint == "" {
		return Token{}, errors.New("getting an ECR authorization token: the answer names no proxy endpoint")
	}
	c.token = &t
	return t, nil
}

// Repository is an ECR repository as coinpipe sees it.
type Repository struct {
	Name string
	// URI is <registry host>/<name>.
	URI       string
	Immutable bool
	// Encryption is AES256 or KMS; KMSKey the key's ARN with KMS.
	Encryption, KMSKey string
}

// EnsureRepository returns the repository name, creating it when it is
// missing: tags immutable, encrypted with kmsKey (a KMS key ID, alias or
// ARN), or AES256 when kmsKey is empty. An existing repository is left as
// it is, whatever its settings. created says whether this call made it.
func (c *Client) EnsureRepository(ctx context.Context, name, kmsKey string) (repo Repository, created bool, err error) {
	out, err := c.api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	var missing *types.RepositoryNotFoundException
	switch {
	case err == nil && len(out.Repositories) == 1:
		return repository(out.Repositories[0]), false, nil
	case err == nil:
		return Repository{}, false, fmt.Errorf("describing ECR repository %s: %d repositories came back, want 1", name, len(out.Repositories))
	case !errors.As(err, &missing):
		return Repository{}, false, fmt.Errorf("describing ECR repository %s: %w", name, err)
	}
	enc := &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeAes256}
	if kmsKey != "" {
		enc = &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeKms, KmsKey: aws.String(kmsKey)}
	}
	made, err := c.api.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName:          aws.String(name),
		ImageTagMutability:      types.ImageTagMutabilityImmutable,
		EncryptionConfiguration: enc,
	})
	var exists *types.RepositoryAlreadyExistsException
	if errors.As(err, &exists) {
		// Another push created it between the two calls: use that one.
		return c.describe(ctx, name)
	}
	if err != nil {
		return Repository{}, false, fmt.Errorf("creating ECR repository %s: %w", name, err)
	}
	if made.Repository == nil {
		return Repository{}, false, fmt.Errorf("creating ECR repository %s: the answer describes no repository", name)
	}
	return repository(*made.Repository), true, nil
}

func (c *Client) describe(ctx context.Context, name string) (Repository, bool, error) {
	out, err := c.api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	if err != nil {
		return Repository{}, false, fmt.Errorf("describing ECR repository %s: %w", name, err)
	}
	if len(out.Repositories) != 1 {
		return Repository{}, false, fmt.Errorf("describing ECR repository %s: %d repositories came back, want 1", name, len(out.Repositories))
	}
	return repository(out.Repositories[0]), false, nil
}

func repository(r types.Repository) Repository {
	out := Repository{
		Name:      aws.ToString(r.RepositoryName),
		URI:       aws.ToString(r.RepositoryUri),
		Immutable: r.ImageTagMutability == types.ImageTagMutabilityImmutable || r.ImageTagMutability == types.ImageTagMutabilityImmutableWithExclusion,
	}
	if e := r.EncryptionConfiguration; e != nil {
		out.Encryption, out.KMSKey = string(e.EncryptionType), aws.ToString(e.KmsKey)
	}
	return out
}
