package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	fake "gitlab.com/coinpipe/coinpipe/internal/fake/github"
)

const token = "ghp_S3cretT0kenThatMustNeverShow0000000000"

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// upstream is a fake GitHub serving repo with n releases v1..vn a day
// apart; every 10th is a prerelease, every 25th a draft.
func upstream(t *testing.T, repo string, n int) (*fake.Server, *httptest.Server) {
	t.Helper()
	f := fake.New()
	addReleases(f, repo, 1, n)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	return f, srv
}

func addReleases(f *fake.Server, repo string, from, to int) {
	for i := from; i <= to; i++ {
		f.AddRelease(repo, fake.Release{
			Tag:         fmt.Sprintf("v%d.0", i),
			Name:        fmt.Sprintf("Release %d.0", i),
			Prerelease:  i%10 == 0,
			Draft:       i%25 == 0,
			PublishedAt: epoch.Add(time.Duration(i) * 24 * time.Hour),
			Body:        fmt.Sprintf("notes for %d.0", i),
		})
	}
}

// want is what Releases should return for releases from..to, newest first.
func want(repo string, from, to int, drafts bool) []Release {
	var out []Release
	for i := to; i >= from; i-- {
		if i%25 == 0 && !drafts {
			continue
		}
		r := Release{
			Tag:         fmt.Sprintf("v%d.0", i),
			Name:        fmt.Sprintf("Release %d.0", i),
			Prerelease:  i%10 == 0,
			Draft:       i%25 == 0,
			PublishedAt: epoch.Add(time.Duration(i) * 24 * time.Hour),
			HTMLURL:     fmt.Sprintf("https://github.com/%s/releases/tag/v%d.0", repo, i),
			Body:        fmt.Sprintf("notes for %d.0", i),
		}
		if r.Draft {
			r.PublishedAt = time.Time{}
		}
		out = append(out, r)
	}
	return out
}

func newClient(t *testing.T, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func statuses(reqs []fake.Request) string {
	var s []string
	for _, r := range reqs {
		s = append(s, fmt.Sprint(r.Status))
	}
	return strings.Join(s, " ")
}

func TestReleasesFollowsEveryPage(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		token    string
		requests int
		drafts   bool
	}{
		{"250 releases with a token", 250, token, 3, true},
		{"250 releases without a token: drafts not shown", 250, "", 3, false},
		{"exactly one page", 100, token, 1, true},
		{"one release", 1, token, 1, true},
		{"no release", 0, token, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := upstream(t, "bitcoin/bitcoin", tt.n)
			f.AddRepo("bitcoin/bitcoin")
			c := newClient(t, Options{BaseURL: srv.URL, Token: tt.token, HTTP: srv.Client(), StateDir: t.TempDir()})
			got, err := c.Releases(t.Context(), "bitcoin/bitcoin")
			if err != nil {
				t.Fatal(err)
			}
			w := want("bitcoin/bitcoin", 1, tt.n, tt.drafts)
			if !reflect.DeepEqual(got, w) {
				t.Errorf("got %d releases, want %d; first got %+v", len(got), len(w), first(got))
			}
			if c.Requests() != tt.requests {
				t.Errorf("%d requests, want %d", c.Requests(), tt.requests)
			}
		})
	}
}

func first(r []Release) any {
	if len(r) == 0 {
		return nil
	}
	return r[0]
}

func TestReleasesStopsAfterFivePages(t *testing.T) {
	_, srv := upstream(t, "o/r", 620)
	var logs bytes.Buffer
	c := newClient(t, Options{BaseURL: srv.URL, Token: token, HTTP: srv.Client(), Log: slog.New(slog.NewTextHandler(&logs, nil))})
	got, err := c.Releases(t.Context(), "o/r")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 500 || got[0].Tag != "v620.0" || c.Requests() != 5 {
		t.Errorf("%d releases from %d requests, first %s; want the newest 500 from 5", len(got), c.Requests(), got[0].Tag)
	}
	if !strings.Contains(logs.String(), "github releases listing cut short") {
		t.Errorf("no warning logged: %s", logs.String())
	}
}

// TestSteadyState is the scheduled job's case: runs against an unchanged
// upstream, each a new Client over the same state dir.
func TestSteadyState(t *testing.T) {
	tests := []struct {
		name  string
		token string
		// spent is the rate-limit points a steady run costs per repository:
		// GitHub documents a 304 as free only for an authorized request.
		spent int
	}{
		{"with GITHUB_TOKEN", token, 0},
		{"without a token", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := upstream(t, "bitcoin/bitcoin", 250)
			addReleases(f, "monero-project/monero", 1, 30)
			state := t.TempDir()
			repos := []string{"bitcoin/bitcoin", "monero-project/monero"}
			auth := ""
			if tt.token != "" {
				auth = "Bearer " + tt.token
			}
			run := func() (*Client, map[string][]Release) {
				c := newClient(t, Options{BaseURL: srv.URL, Token: tt.token, HTTP: srv.Client(), StateDir: state})
				out := map[string][]Release{}
				for _, r := range repos {
					rels, err := c.Releases(t.Context(), r)
					if err != nil {
						t.Fatal(err)
					}
					out[r] = rels
				}
				return c, out
			}

			c1, firstRun := run()
			if c1.Requests() != 4 {
				t.Fatalf("first run: %d requests, want 4 (3 pages + 1)", c1.Requests())
			}
			for i := range 3 {
				before := f.RateLimit(auth).Remaining
				seen := len(f.Requests())
				c, again := run()
				reqs := f.Requests()[seen:]
				if c.Requests() != len(repos) || statuses(reqs) != "304 304" {
					t.Errorf("steady run %d: %d requests answered %q, want one 304 per repository", i+2, c.Requests(), statuses(reqs))
				}
				if spent := before - f.RateLimit(auth).Remaining; spent != tt.spent*len(repos) {
					t.Errorf("steady run %d cost %d rate-limit points, want %d", i+2, spent, tt.spent*len(repos))
				}
				if !reflect.DeepEqual(again, firstRun) {
					t.Errorf("steady run %d returned other releases", i+2)
				}
			}

			addReleases(f, "bitcoin/bitcoin", 251, 251)
			seen := len(f.Requests())
			c, after := run()
			if got := statuses(f.Requests()[seen:]); got != "200 200 200 304" || c.Requests() != 4 {
				t.Errorf("after a new release: %d requests answered %q, want 200 200 200 (bitcoin's 3 pages) 304 (monero)", c.Requests(), got)
			}
			if !reflect.DeepEqual(after["bitcoin/bitcoin"], want("bitcoin/bitcoin", 1, 251, tt.token != "")) {
				t.Errorf("after a new release: first %+v, %d releases", first(after["bitcoin/bitcoin"]), len(after["bitcoin/bitcoin"]))
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	f, _ := upstream(t, "zcash/zcash", 150)
	mux := http.NewServeMux()
	mux.Handle("/api/v3/", http.StripPrefix("/api/v3", f))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tests := []struct{ name, base string }{
		{"GITHUB_API_URL form", srv.URL + "/api/v3"},
		{"with a trailing slash", srv.URL + "/api/v3/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, Options{BaseURL: tt.base, Token: token, HTTP: srv.Client(), StateDir: t.TempDir()})
			got, err := c.Releases(t.Context(), "zcash/zcash")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want("zcash/zcash", 1, 150, true)) || c.Requests() != 2 {
				t.Errorf("%d releases in %d requests, want 150 in 2", len(got), c.Requests())
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	tests := []struct{ base, repo, want string }{
		{"ftp://ghe.example/api/v3", "o/r", `github API URL "ftp://ghe.example/api/v3": want http(s)://host[/path]`},
		{"https://user:hunter2@ghe.example/api/v3", "o/r", `github API URL "https://***@ghe.example/api/v3"`},
		{"api.github.com", "o/r", `github API URL "api.github.com"`},
		{"", "bitcoin", `github repository "bitcoin": want owner/repo`},
		{"", "a/b/c", `github repository "a/b/c": want owner/repo`},
	}
	for _, tt := range tests {
		t.Run(tt.base+" "+tt.repo, func(t *testing.T) {
			c, err := New(Options{BaseURL: tt.base})
			if err == nil {
				_, err = c.Releases(t.Context(), tt.repo)
			}
			var oe *OptionsError
			if !errors.As(err, &oe) || !oe.InvalidInput() || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %v, want an InvalidInput error starting %q", err, tt.want)
			}
			if c != nil && c.Requests() != 0 {
				t.Errorf("%d requests sent", c.Requests())
			}
		})
	}
}

// sleeper records the waits asked for, and really waits when real is set
// (go-github refuses to send before a known reset, by the real clock).
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
	real  bool
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	if !s.real {
		return ctx.Err()
	}
	return sleep(ctx, d)
}

func TestRateLimits(t *testing.T) {
	tests := []struct {
		name  string
		token string
		setup func(f *fake.Server, auth string)
		// wantErr is "" for success, else substrings of the error.
		wantErr         []string
		unauthenticated bool
		secondary       bool
		requests        int
		minWait         time.Duration // the wait asked for, at least
		maxWait         time.Duration // and at most
	}{
		{
			name: "primary limit resetting within MaxWait is waited out", token: token,
			setup:    func(f *fake.Server, auth string) { f.SetRate(auth, 0, time.Now().Add(2*time.Second)) },
			requests: 2, minWait: 900 * time.Millisecond, maxWait: 2 * time.Second,
		},
		{
			name: "primary limit an hour away", token: token,
			setup:    func(f *fake.Server, auth string) { f.SetRate(auth, 0, time.Now().Add(time.Hour)) },
			wantErr:  []string{"github rate limit exceeded until ", "longer than the 5s this run waits"},
			requests: 1,
		},
		{
			name: "primary limit as 429", token: token,
			setup: func(f *fake.Server, auth string) {
				f.PrimaryLimitStatus(http.StatusTooManyRequests)
				f.SetRate(auth, 0, time.Now().Add(time.Hour))
			},
			wantErr: []string{"github rate limit exceeded until "}, requests: 1,
		},
		{
			name:  "unauthenticated limit says to set GITHUB_TOKEN",
			setup: func(f *fake.Server, auth string) { f.SetRate(auth, 0, time.Now().Add(time.Hour)) },
			wantErr: []string{"github rate limit exceeded until ",
				": unauthenticated requests are limited to 60 an hour, set GITHUB_TOKEN"},
			unauthenticated: true, requests: 1,
		},
		{
			name: "secondary limit 403 with Retry-After", token: token,
			setup:    func(f *fake.Server, _ string) { f.SecondaryLimit(http.StatusForbidden, time.Second, 1) },
			requests: 2, minWait: time.Second, maxWait: time.Second,
		},
		{
			name: "secondary limit 429 with Retry-After", token: token,
			setup:    func(f *fake.Server, _ string) { f.SecondaryLimit(http.StatusTooManyRequests, time.Second, 1) },
			requests: 2, minWait: time.Second, maxWait: time.Second,
		},
		{
			name: "secondary limit longer than MaxWait", token: token,
			setup:     func(f *fake.Server, _ string) { f.SecondaryLimit(http.StatusForbidden, 10*time.Minute, -1) },
			wantErr:   []string{"github secondary rate limit exceeded until ", "(in 10m0s, longer than the 5s this run waits)"},
			secondary: true, requests: 1,
		},
		{
			name: "secondary limit without Retry-After: GitHub says wait a minute", token: token,
			setup:     func(f *fake.Server, _ string) { f.SecondaryLimit(http.StatusTooManyRequests, 0, -1) },
			wantErr:   []string{"github secondary rate limit exceeded until ", "(in 1m0s, longer than the 5s"},
			secondary: true, requests: 1,
		},
		{
			name: "still limited after waiting once", token: token,
			setup:     func(f *fake.Server, _ string) { f.SecondaryLimit(http.StatusForbidden, time.Second, -1) },
			wantErr:   []string{"github secondary rate limit exceeded until ", "still limited after waiting once"},
			secondary: true, requests: 2, minWait: time.Second, maxWait: time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, srv := upstream(t, "o/r", 3)
			auth := ""
			if tt.token != "" {
				auth = "Bearer " + tt.token
			}
			tt.setup(f, auth)
			sl := &sleeper{real: true}
			c := newClient(t, Options{BaseURL: srv.URL, Token: tt.token, HTTP: srv.Client(), MaxWait: 5 * time.Second, sleep: sl.sleep})
			began := time.Now()
			got, err := c.Releases(t.Context(), "o/r")
			took := time.Since(began)
			if c.Requests() != tt.requests {
				t.Errorf("%d requests, want %d", c.Requests(), tt.requests)
			}
			if len(sl.waits) > 0 && (sl.waits[0] < tt.minWait || sl.waits[0] > tt.maxWait) || len(sl.waits) == 0 && tt.minWait > 0 {
				t.Errorf("waits %v, want one of %s to %s", sl.waits, tt.minWait, tt.maxWait)
			}
			if tt.wantErr == nil {
				if err != nil || len(got) != 3 {
					t.Fatalf("got %d releases, error %v; want 3", len(got), err)
				}
				return
			}
			var rl *RateLimitError
			if !errors.As(err, &rl) {
				t.Fatalf("error %v (%T), want *RateLimitError", err, err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), rl.Reset.UTC().Format(time.RFC3339)) || rl.Reset.Before(began) {
				t.Errorf("error %q does not name the reset time %s", err, rl.Reset)
			}
			if rl.Unauthenticated != tt.unauthenticated || rl.Secondary != tt.secondary {
				t.Errorf("Unauthenticated %v Secondary %v, want %v %v", rl.Unauthenticated, rl.Secondary, tt.unauthenticated, tt.secondary)
			}
			if strings.Contains(err.Error(), "GITHUB_TOKEN") != tt.unauthenticated {
				t.Errorf("error %q: GITHUB_TOKEN advice only for the unauthenticated limit", err)
			}
			if tt.minWait == 0 && took > time.Second {
				t.Errorf("gave up after %s, want at once", took)
			}
		})
	}
}

func TestRateLimitWaitEndsWithContext(t *testing.T) {
	f, srv := upstream(t, "o/r", 1)
	f.SecondaryLimit(http.StatusForbidden, 30*time.Second, -1)
	c := newClient(t, Options{BaseURL: srv.URL, HTTP: srv.Client()})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := c.Releases(ctx, "o/r")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 5*time.Second {
		t.Errorf("error %v after %s, want the context's deadline at once", err, time.Since(began))
	}
}

func TestServerErrors(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(f *fake.Server)
		http     *http.Client
		wantErr  string // "" for success
		notFound bool
		requests int
		waits    int
	}{
		{name: "502 once then OK", setup: func(f *fake.Server) { f.Fail(fake.RouteReleases, 502, "", 1) }, requests: 2, waits: 1},
		{
			name: "503 always", setup: func(f *fake.Server) { f.Fail(fake.RouteReleases, 503, "", -1) },
			wantErr:  "GET %s/repos/o/r/releases: 503 Service Unavailable (tried 2 times)",
			requests: 2, waits: 1,
		},
		{
			name: "404", setup: func(f *fake.Server) {},
			wantErr:  "GET %s/repos/o/missing/releases: 404 Not Found",
			notFound: true, requests: 1,
		},
		{
			name: "401 is not tried again", setup: func(f *fake.Server) { f.RequireTokens("another") },
			wantErr:  "GET %s/repos/o/r/releases: 401 Unauthorized: Bad credentials",
			requests: 1,
		},
		{
			name: "a timeout once then OK", setup: func(f *fake.Server) { f.Delay(fake.RouteReleases, time.Hour, 1) },
			http: &http.Client{Timeout: 300 * time.Millisecond}, requests: 2, waits: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := upstream(t, "o/r", 2)
			tt.setup(f)
			hc := tt.http
			if hc == nil {
				hc = srv.Client()
			}
			sl := &sleeper{}
			c := newClient(t, Options{BaseURL: srv.URL, Token: token, HTTP: hc, StateDir: t.TempDir(), sleep: sl.sleep})
			repo := "o/r"
			if tt.notFound {
				repo = "o/missing"
			}
			got, err := c.Releases(t.Context(), repo)
			if c.Requests() != tt.requests || len(sl.waits) != tt.waits {
				t.Errorf("%d requests and %d waits, want %d and %d", c.Requests(), len(sl.waits), tt.requests, tt.waits)
			}
			if tt.wantErr == "" {
				if err != nil || len(got) != 2 {
					t.Fatalf("got %d releases, error %v", len(got), err)
				}
				return
			}
			if w := fmt.Sprintf(tt.wantErr, srv.URL); err == nil || err.Error() != w {
				t.Fatalf("error %v\nwant     %s", err, w)
			}
			if errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v", !tt.notFound)
			}
		})
	}
}

// TestTokenNeverShows runs every path with debug logging and looks for
// the token in logs, errors and the state dir.
func TestTokenNeverShows(t *testing.T) {
	f, srv := upstream(t, "o/r", 120)
	f.RequireTokens(token) // proves the token is sent
	state := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sl := &sleeper{real: true}
	c := newClient(t, Options{BaseURL: srv.URL, Token: token, HTTP: srv.Client(), StateDir: state, Log: log, MaxWait: 2 * time.Second, sleep: sl.sleep, backoff: time.Millisecond})
	var errs []string
	steps := []func(){
		func() {},
		func() {}, // 304
		func() { f.Fail(fake.RouteReleases, 503, "", 2) },
		func() { f.SecondaryLimit(http.StatusForbidden, time.Second, 1) },
		func() { f.SetRate("Bearer "+token, 0, time.Now().Add(time.Hour)) },
	}
	for _, step := range steps {
		step()
		if _, err := c.Releases(t.Context(), "o/r"); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if _, err := c.Releases(t.Context(), "o/missing"); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) != 3 {
		t.Errorf("errors %q, want 3: the 503, the rate limit, and go-github's own check refusing o/missing", errs)
	}
	if !strings.Contains(logs.String(), "github request") {
		t.Fatalf("nothing logged at debug: %s", logs.String())
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), token[4:20]) {
		t.Errorf("token in logs:\n%s", logs.String())
	}
	for _, e := range errs {
		if strings.Contains(e, token[4:20]) {
			t.Errorf("token in error %q", e)
		}
	}
	filepath.WalkDir(state, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(token[4:20])) {
				t.Errorf("token in %s", path)
			}
		}
		return nil
	})
}

func TestCacheFiles(t *testing.T) {
	_, srv := upstream(t, "o/r", 150)
	state := t.TempDir()
	c := newClient(t, Options{BaseURL: srv.URL, Token: token, HTTP: srv.Client(), StateDir: state})
	if _, err := c.Releases(t.Context(), "o/r"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(state, "github"))
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 || !strings.HasSuffix(e.Name(), ".json") || len(e.Name()) != 64+5 {
			t.Errorf("%s: mode %v, want <sha256>.json, 0600", e.Name(), info.Mode())
		}
		tr := &transport{log: slog.New(slog.DiscardHandler)}
		en := tr.load(filepath.Join(state, "github", e.Name()))
		if en == nil || en.ETag == "" || len(en.Body) == 0 {
			t.Fatalf("%s: not a valid entry", e.Name())
		}
		urls = append(urls, en.URL)
	}
	// Redacted as download.Redact does everywhere: no query.
	wantURLs := []string{srv.URL + "/repos/o/r/releases", srv.URL + "/repos/o/r/releases"}
	if !reflect.DeepEqual(urls, wantURLs) {
		t.Errorf("entries for %q, want %q (one per page, and no temporary file left)", urls, wantURLs)
	}
}

// TestDamagedCache: a damaged entry costs one full request, never the run,
// and is replaced by a good one.
func TestDamagedCache(t *testing.T) {
	damage := []struct {
		name   string
		damage func(path string) error
	}{
		{"truncated", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, b[:len(b)/2], 0o600)
		}},
		{"empty", func(p string) error { return os.WriteFile(p, nil, 0o600) }},
		{"not JSON", func(p string) error { return os.WriteFile(p, []byte("\x00\x01garbage"), 0o600) }},
		{"other version", func(p string) error { return rewrite(p, `"version":1`, `"version":99`) }},
		{"body changed", func(p string) error { return rewrite(p, `"body":"W3`, `"body":"W2`) }},
		{"no ETag", func(p string) error { return rewrite(p, `"etag":"\"`, `"etag":"","x":"\"`) }},
		{"a directory", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o700)
		}},
	}
	for _, tt := range damage {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := upstream(t, "o/r", 5)
			state := t.TempDir()
			var logs bytes.Buffer
			opts := Options{BaseURL: srv.URL, Token: token, HTTP: srv.Client(), StateDir: state, Log: slog.New(slog.NewTextHandler(&logs, nil))}
			if _, err := newClient(t, opts).Releases(t.Context(), "o/r"); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(state, "github", "*.json"))
			if len(files) != 1 {
				t.Fatalf("entries %q, want 1", files)
			}
			if err := tt.damage(files[0]); err != nil {
				t.Fatal(err)
			}
			seen := len(f.Requests())
			got, err := newClient(t, opts).Releases(t.Context(), "o/r")
			if err != nil || !reflect.DeepEqual(got, want("o/r", 1, 5, true)) {
				t.Fatalf("with a damaged entry: %d releases, error %v", len(got), err)
			}
			wantStatus := "200"
			if tt.name == "a directory" {
				wantStatus = "200" // the entry cannot be replaced; every run pays one full request
			}
			if s := statuses(f.Requests()[seen:]); s != wantStatus {
				t.Errorf("answers %q, want %q", s, wantStatus)
			}
			seen = len(f.Requests())
			if _, err := newClient(t, opts).Releases(t.Context(), "o/r"); err != nil {
				t.Fatal(err)
			}
			next := "304"
			if tt.name == "a directory" {
				next = "200"
			}
			if s := statuses(f.Requests()[seen:]); s != next {
				t.Errorf("next run answered %q, want %q (the entry rewritten)", s, next)
			}
			if tmp, _ := filepath.Glob(filepath.Join(state, "github", ".tmp-*")); len(tmp) != 0 {
				t.Errorf("temporary files left: %q", tmp)
			}
		})
	}
}

func rewrite(path, old, new string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(old)) {
		return fmt.Errorf("%s: no %q in %.200s", path, old, b)
	}
	return os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600)
}

// BenchmarkSteadyState100Repos: 100 repositories of 120 releases (two
// pages) behind 100 ms of latency, listed 16 at a time by one client, the
// way a scheduled run would; reports requests per repository of the first
// and of a steady run.
func BenchmarkSteadyState100Repos(b *testing.B) {
	f := fake.New()
	var repos []string
	for i := range 100 {
		repo := fmt.Sprintf("coin%d/coin%d", i, i)
		repos = append(repos, repo)
		addReleases(f, repo, 1, 120)
	}
	f.SetLatency(100 * time.Millisecond)
	srv := httptest.NewServer(f)
	b.Cleanup(srv.Close)
	b.Cleanup(f.Close)
	state := b.TempDir()
	run := func() (int, time.Duration) {
		c, err := New(Options{BaseURL: srv.URL, Token: token, HTTP: srv.Client(), StateDir: state})
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		sem := make(chan struct{}, 16)
		var wg sync.WaitGroup
		for _, r := range repos {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if rels, err := c.Releases(context.Background(), r); err != nil || len(rels) != 120 {
					b.Errorf("%s: %d releases, %v", r, len(rels), err)
				}
			}()
		}
		wg.Wait()
		return c.Requests(), time.Since(began)
	}
	firstRequests, firstTook := run()
	b.ResetTimer()
	var steady int
	for range b.N {
		steady, _ = run()
	}
	b.StopTimer()
	b.ReportMetric(float64(firstRequests)/100, "first-run-requests/repo")
	b.ReportMetric(firstTook.Seconds(), "first-run-s")
	b.ReportMetric(float64(steady)/100, "steady-requests/repo")
}
