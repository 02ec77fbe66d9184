// Package ecr is a fake Amazon ECR for tests: the control plane's JSON
// protocol (POST /, X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>,
// application/x-amz-json-1.1) for GetAuthorizationToken,
// DescribeRepositories and CreateRepository with their documented error
// types, and a registry with ECR's semantics (registry.go): blobs scoped
// per repository, pushes only to repositories that exist, immutable tags
// refused with TAG_INVALID, Basic auth with the tokens the API issued.
package ecr

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TargetPrefix is what every X-Amz-Target of ECR's API starts with.
const TargetPrefix = "AmazonEC2ContainerRegistry_V20150921."

// DefaultTokenTTL is how long ECR's authorization tokens are valid.
const DefaultTokenTTL = 12 * time.Hour

// Repository is a repository the fake holds.
type Repository struct {
	Name               string
	ImageTagMutability string // MUTABLE or IMMUTABLE
	EncryptionType     string // AES256 or KMS
	KMSKey             string
	CreatedAt          time.Time
}

// Call is one API request the fake answered.
type Call struct {
	Op     string
	Status int
	Body   map[string]any
}

// Server is the fake ECR: its API and its registry. Call New.
type Server struct {
	// Account is the registry ID (an AWS account) in ARNs and messages.
	Account, Region string
	// Registry is the fake's registry, started by Start.
	Registry *Registry
	// OnTag, set before Start, is told each tag pushed (Tagged).
	OnTag func(repo, tag, digest string)

	mu        sync.Mutex
	now       func() time.Time
	ttl       time.Duration
	repos     map[string]*Repository
	passwords map[string]time.Time // issued password → expiry
	calls     []Call
	regURL    string
}

// New returns an empty fake registry of account 111122223333 in us-east-1.
func New() *Server {
	s := &Server{
		Account:   "111122223333",
		Region:    "us-east-1",
		now:       time.Now,
		ttl:       DefaultTokenTTL,
		repos:     map[string]*Repository{},
		passwords: map[string]time.Time{},
	}
	s.Registry = NewRegistry(RegistryOptions{
		Authorize: s.validPassword,
		Exists:    func(repo string) bool { _, ok := s.Repository(repo); return ok },
		Immutable: func(repo string) bool {
			r, ok := s.Repository(repo)
			return ok && r.ImageTagMutability == "IMMUTABLE"
		},
		NotFound: func(repo string) string {
			return fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", repo, s.Account)
		},
		Tagged: func(repo, tag, digest string) {
			if s.OnTag != nil {
				s.OnTag(repo, tag, digest)
			}
		},
	})
	return s
}

// Start serves the API and the registry on loopback until the test ends
// and returns the API's URL (AWS_ENDPOINT_URL_ECR). Tokens name the
// registry's URL as their proxy endpoint.
func (s *Server) Start(t testing.TB) string {
	t.Helper()
	reg := httptest.NewServer(s.Registry)
	t.Cleanup(reg.Close)
	api := httptest.NewServer(s)
	t.Cleanup(api.Close)
	s.mu.Lock()
	s.regURL = reg.URL
	s.mu.Unlock()
	return api.URL
}

// RegistryHost is the registry's host:port, once started.
func (s *Server) RegistryHost() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.TrimPrefix(s.regURL, "http://")
}

// SetClock makes the fake judge token expiry by now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AddRepository creates a repository as someone else did, outside coinpipe.
func (s *Server) AddRepository(name string, immutable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := "MUTABLE"
	if immutable {
		m = "IMMUTABLE"
	}
	s.repos[name] = &Repository{Name: name, ImageTagMutability: m, EncryptionType: "AES256", CreatedAt: s.now()}
}

// Repository returns the named repository.
func (s *Server) Repository(name string) (Repository, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[name]
	if !ok {
		return Repository{}, false
	}
	return *r, true
}

// Calls returns how many times op was called (any answer).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Op == op {
			n++
		}
	}
	return n
}

// Log returns every call answered, in order.
func (s *Server) Log() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// ExpireTokens makes every token issued so far invalid, as if its 12
// hours had passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.passwords {
		s.passwords[p] = time.Time{}
	}
}

func (s *Server) validPassword(user, pass string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.passwords[pass]
	return user == "AWS" && ok && s.now().Before(exp)
}

// awsError is ECR's JSON error: the type in __type, as the SDK reads it.
type awsError struct {
	status int
	Type   string `json:"__type"`
	Msg    string `json:"message"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op := strings.TrimPrefix(target, TargetPrefix)
	var body map[string]any
	out, aerr := func() (any, *awsError) {
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/":
			return nil, &awsError{http.StatusNotFound, "UnknownOperationException", "ECR's API is POST /"}
		case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="):
			return nil, &awsError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
		case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1"):
			return nil, &awsError{http.StatusBadRequest, "SerializationException", "Content-Type must be application/x-amz-json-1.1"}
		case !strings.HasPrefix(target, TargetPrefix):
			return nil, &awsError{http.StatusBadRequest, "UnknownOperationException", ""}
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return nil, &awsError{http.StatusBadRequest, "SerializationException", err.Error()}
		}
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &body); err != nil {
				return nil, &awsError{http.StatusBadRequest, "SerializationException", "the body is not JSON"}
			}
		}
		switch op {
		case "GetAuthorizationToken":
			return s.getAuthorizationToken()
		case "DescribeRepositories":
			return s.describeRepositories(body)
		case "CreateRepository":
			return s.createRepository(body)
		}
		return nil, &awsError{http.StatusBadRequest, "UnknownOperationException", ""}
	}()
	status := http.StatusOK
	if aerr != nil {
		status, out = aerr.status, aerr
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Op: op, Status: status, Body: body})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) getAuthorizationToken() (any, *awsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pass := "fake-ecr-" + requestID() + requestID()
	exp := s.now().Add(s.ttl)
	s.passwords[pass] = exp
	return map[string]any{"authorizationData": []map[string]any{{
		"authorizationToken": base64.StdEncoding.EncodeToString([]byte("AWS:" + pass)),
		"expiresAt":          float64(exp.UnixMilli()) / 1000,
		"proxyEndpoint":      s.regURL,
	}}}, nil
}

func (s *Server) describeRepositories(body map[string]any) (any, *awsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := stringList(body["repositoryNames"])
	if len(names) == 0 {
		for n := range s.repos {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	var out []map[string]any
	for _, n := range names {
		r, ok := s.repos[n]
		if !ok {
			return nil, &awsError{http.StatusBadRequest, "RepositoryNotFoundException",
				fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", n, s.Account)}
		}
		out = append(out, s.describe(r))
	}
	return map[string]any{"repositories": out}, nil
}

// repositoryName is CreateRepository's documented pattern.
var repositoryName = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

func (s *Server) createRepository(body map[string]any) (any, *awsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, _ := body["repositoryName"].(string)
	if len(name) < 2 || len(name) > 256 || !repositoryName.MatchString(name) {
		return nil, &awsError{http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf("Invalid parameter at 'repositoryName' failed to satisfy constraint: '%s'", name)}
	}
	if _, ok := s.repos[name]; ok {
		return nil, &awsError{http.StatusBadRequest, "RepositoryAlreadyExistsException",
			fmt.Sprintf("The repository with name '%s' already exists in the registry with id '%s'", name, s.Account)}
	}
	r := &Repository{Name: name, ImageTagMutability: "MUTABLE", EncryptionType: "AES256", CreatedAt: s.now()}
	if m, ok := body["imageTagMutability"].(string); ok {
		if m != "MUTABLE" && m != "IMMUTABLE" {
			return nil, &awsError{http.StatusBadRequest, "InvalidParameterException", "Invalid parameter at 'imageTagMutability'"}
		}
		r.ImageTagMutability = m
	}
	if enc, ok := body["encryptionConfiguration"].(map[string]any); ok {
		t, _ := enc["encryptionType"].(string)
		k, _ := enc["kmsKey"].(string)
		switch {
		case t != "AES256" && t != "KMS":
			return nil, &awsError{http.StatusBadRequest, "InvalidParameterException", "Invalid parameter at 'encryptionType'"}
		case t == "AES256" && k != "":
			return nil, &awsError{http.StatusBadRequest, "InvalidParameterException", "Invalid parameter: kmsKey can only be specified with the KMS encryption type"}
		}
		r.EncryptionType, r.KMSKey = t, k
	}
	s.repos[name] = r
	return map[string]any{"repository": s.describe(r)}, nil
}

func (s *Server) describe(r *Repository) map[string]any {
	enc := map[string]any{"encryptionType": r.EncryptionType}
	if r.KMSKey != "" {
		enc["kmsKey"] = r.KMSKey
	}
	return map[string]any{
		"repositoryArn":              fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", s.Region, s.Account, r.Name),
		"registryId":                 s.Account,
		"repositoryName":             r.Name,
		"repositoryUri":              strings.TrimPrefix(s.regURL, "http://") + "/" + r.Name,
		"createdAt":                  float64(r.CreatedAt.UnixMilli()) / 1000,
		"imageTagMutability":         r.ImageTagMutability,
		"imageScanningConfiguration": map[string]any{"scanOnPush": false},
		"encryptionConfiguration":    enc,
	}
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func requestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
