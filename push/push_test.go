package push

import (
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gitlab.com/coinpipe/coinpipe/internal/ecr"
	fakeecr "gitlab.com/coinpipe/coinpipe/internal/fake/ecr"
)

// clock is a settable clock shared by the fake and the client.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	fake   *fakeecr.Server
	client *ecr.Client
	clock  *clock
}

func newEnv(t testing.TB) *env {
	t.Helper()
	f := fakeecr.New()
	c := &clock{t: time.Date(2026, 9, 18, 12, 0, 0, 0, time.UTC)}
	f.SetClock(c.Now)
	api := f.Start(t)
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDFAKE", "fake-secret", ""),
	}
	return &env{fake: f, client: ecr.New(cfg, api, c.Now), clock: c}
}

func (e *env) push(t testing.TB, archive, tag, kms string) (Result, error) {
	t.Helper()
	target, err := ECRTarget(t.Context(), e.client, "coin-daemons/bitcoin", kms, nil)
	if err != nil {
		t.Fatalf("ECRTarget: %v", err)
	}
	return Push(t.Context(), Options{Archive: archive, Target: target, Coin: "bitcoin", Tag: tag, Manifest: "coins/bitcoin/coin.yaml"})
}

func digestOf(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// A first push uploads every blob, creates the repository (immutable,
// AES256) and points the tag at the image; the same archive again uploads
// nothing; another image for the tag is refused, the tag left alone.
func TestPushRepushClobber(t *testing.T) {
	e := newEnv(t)
	img := fakeecr.RandomImage(t, 1024, 3)
	archive := fakeecr.WriteArchive(t, img, "bitcoin:31.1")
	want := digestOf(t, img)

	res, err := e.push(t, archive, "31.1", "")
	if err != nil {
		t.Fatal(err)
	}
	ref := e.fake.RegistryHost() + "/coin-daemons/bitcoin:31.1@" + want
	if res.Status != Pushed || res.Reference != ref || res.Line() != ref || !res.Created {
		t.Errorf("first push: %+v, want pushed %s to a new repository", res, ref)
	}
	if got, _ := e.fake.Registry.Tag("coin-daemons/bitcoin", "31.1"); got != want {
		t.Errorf("registry tag 31.1 = %s, want %s", got, want)
	}
	// 3 layers and the config.
	if s := e.fake.Registry.Stats(); s.BlobsStored != 4 || s.ManifestPuts != 1 || res.BlobsUploaded != 4 {
		t.Errorf("first push stored %+v, client counted %d uploads; want 4 blobs, 1 manifest", s, res.BlobsUploaded)
	}
	repo, _ := e.fake.Repository("coin-daemons/bitcoin")
	if repo.ImageTagMutability != "IMMUTABLE" || repo.EncryptionType != "AES256" || repo.KMSKey != "" {
		t.Errorf("created repository %+v, want IMMUTABLE, AES256", repo)
	}

	before := e.fake.Registry.Stats()
	res, err = e.push(t, archive, "31.1", "")
	if err != nil {
		t.Fatalf("re-push: %v", err)
	}
	if res.Status != AlreadyPushed || res.Reference != ref || res.BlobsUploaded != 0 || res.Created {
		t.Errorf("re-push: %+v, want already pushed, 0 uploads", res)
	}
	if res.Line() != ref+" (already pushed)" {
		t.Errorf("re-push line %q", res.Line())
	}
	if after := e.fake.Registry.Stats(); after != before {
		t.Errorf("re-push changed the registry: %+v → %+v", before, after)
	}
	if n := e.fake.Calls("CreateRepository"); n != 1 {
		t.Errorf("CreateRepository called %d times, want 1", n)
	}

	other := fakeecr.RandomImage(t, 1024, 3)
	_, err = e.push(t, fakeecr.WriteArchive(t, other, "bitcoin:31.1"), "31.1", "")
	var rel ReleasedError
	if !errors.As(err, &rel) || !rel.VerificationFailed() {
		t.Fatalf("clobber: %v, want a ReleasedError", err)
	}
	wantMsg := "bitcoin:31.1 already released as " + want + " (this image is " + digestOf(t, other) + "); tags are never moved: bump image.revision in coins/bitcoin/coin.yaml to ship a rebuild"
	if err.Error() != wantMsg {
		t.Errorf("clobber message:\n%s\nwant:\n%s", err, wantMsg)
	}
	if got, _ := e.fake.Registry.Tag("coin-daemons/bitcoin", "31.1"); got != want {
		t.Errorf("after the refused clobber tag 31.1 = %s, want %s", got, want)
	}
}

// coinpipe refuses to move a tag even where the registry would let it.
func TestClobberRefusedInMutableRepository(t *testing.T) {
	e := newEnv(t)
	e.fake.AddRepository("coin-daemons/bitcoin", false)
	first := fakeecr.RandomImage(t, 512, 1)
	if _, err := e.push(t, fakeecr.WriteArchive(t, first, ""), "31.1", ""); err != nil {
		t.Fatal(err)
	}
	_, err := e.push(t, fakeecr.WriteArchive(t, fakeecr.RandomImage(t, 512, 1), ""), "31.1", "")
	var rel ReleasedError
	if !errors.As(err, &rel) {
		t.Fatalf("clobber in a mutable repository: %v, want a ReleasedError", err)
	}
	if got, _ := e.fake.Registry.Tag("coin-daemons/bitcoin", "31.1"); got != digestOf(t, first) {
		t.Errorf("tag moved to %s", got)
	}
	if n := e.fake.Calls("CreateRepository"); n != 0 {
		t.Errorf("an existing repository was created again (%d calls)", n)
	}
}

// The fake registry itself refuses to move an immutable tag, as ECR does:
// what push relies on when another push wins the race.
func TestRegistryRefusesImmutableTag(t *testing.T) {
	e := newEnv(t)
	img := fakeecr.RandomImage(t, 256, 1)
	if _, err := e.push(t, fakeecr.WriteArchive(t, img, ""), "31.1", ""); err != nil {
		t.Fatal(err)
	}
	target, err := ECRTarget(t.Context(), e.client, "coin-daemons/bitcoin", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Write straight to the registry, past coinpipe's own check.
	other := fakeecr.RandomImage(t, 256, 1)
	err = writeDirect(t, target, "31.1", other)
	if err == nil || !strings.Contains(err.Error(), "TAG_INVALID: The image tag '31.1' already exists in the 'coin-daemons/bitcoin' repository and cannot be overwritten because the repository is immutable.") {
		t.Fatalf("direct overwrite: %v", err)
	}
}

// A KMS key from the manifest encrypts a repository push creates.
func TestRepositoryWithKMSKey(t *testing.T) {
	e := newEnv(t)
	const key = "arn:aws:kms:us-east-1:111122223333:alias/coin-daemons"
	if _, err := e.push(t, fakeecr.WriteArchive(t, fakeecr.RandomImage(t, 256, 1), ""), "31.1", key); err != nil {
		t.Fatal(err)
	}
	repo, _ := e.fake.Repository("coin-daemons/bitcoin")
	if repo.EncryptionType != "KMS" || repo.KMSKey != key || repo.ImageTagMutability != "IMMUTABLE" {
		t.Errorf("repository %+v, want IMMUTABLE with KMS %s", repo, key)
	}
}

// The login is cached until shortly before it expires, then fetched
// again; the registry refuses the expired one.
func TestTokenExpiry(t *testing.T) {
	e := newEnv(t)
	first, err := e.client.AuthToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.push(t, fakeecr.WriteArchive(t, fakeecr.RandomImage(t, 256, 1), ""), "31.1", ""); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Calls("GetAuthorizationToken"); n != 1 {
		t.Fatalf("GetAuthorizationToken called %d times within the token's life, want 1", n)
	}
	e.clock.Add(12*time.Hour - ecr.RefreshBefore + time.Second)
	if _, err := e.push(t, fakeecr.WriteArchive(t, fakeecr.RandomImage(t, 256, 1), ""), "31.1-2", ""); err != nil {
		t.Fatalf("push after the token neared expiry: %v", err)
	}
	if n := e.fake.Calls("GetAuthorizationToken"); n != 2 {
		t.Errorf("GetAuthorizationToken called %d times, want 2 (refreshed)", n)
	}
	second, _ := e.client.AuthToken(t.Context())
	if second.Password == first.Password {
		t.Error("the token was not replaced")
	}
	e.clock.Add(ecr.RefreshBefore) // past the first token's 12 hours
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v2/", nil)
	req.SetBasicAuth("AWS", first.Password)
	e.fake.Registry.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("expired token: registry answered %d, want 401", rec.Code)
	}
	if strings.Contains(first.String(), first.Password) {
		t.Error("Token.String shows the password")
	}
}

// --repository: any OCI registry, anonymous here.
func TestPushToPlainRegistry(t *testing.T) {
	reg := fakeecr.NewRegistry(fakeecr.RegistryOptions{})
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	target, err := RegistryTarget(t.Context(), host+"/nodes/bitcoin", authn.NewMultiKeychain())
	if err != nil {
		t.Fatal(err)
	}
	img := fakeecr.RandomImage(t, 256, 2)
	res, err := Push(t.Context(), Options{Archive: fakeecr.WriteArchive(t, img, "bitcoin:31.1"), Target: target, Coin: "bitcoin", Tag: "31.1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := host + "/nodes/bitcoin:31.1@" + digestOf(t, img); res.Reference != want {
		t.Errorf("reference %s, want %s", res.Reference, want)
	}
	if got, _ := reg.Tag("nodes/bitcoin", "31.1"); got != digestOf(t, img) {
		t.Errorf("tag = %s", got)
	}
	if _, err := RegistryTarget(t.Context(), host+"/nodes/bitcoin:31.1", authn.NewMultiKeychain()); err == nil || !strings.Contains(err.Error(), "the tag comes from coin.yaml") {
		t.Errorf("a reference with a tag: %v", err)
	}
}

// Blobs are scoped per repository, as in ECR: pushing the same image to a
// second repository uploads its blobs again.
func TestBlobsScopedPerRepository(t *testing.T) {
	e := newEnv(t)
	img := fakeecr.RandomImage(t, 256, 2)
	archive := fakeecr.WriteArchive(t, img, "")
	if _, err := e.push(t, archive, "31.1", ""); err != nil {
		t.Fatal(err)
	}
	target, err := ECRTarget(t.Context(), e.client, "coin-daemons/bitcoin-copy", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Push(t.Context(), Options{Archive: archive, Target: target, Coin: "bitcoin", Tag: "31.1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobsUploaded != 3 {
		t.Errorf("push to a second repository uploaded %d blobs, want 3", res.BlobsUploaded)
	}
}
