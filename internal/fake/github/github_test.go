package github

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// get sends one GET with optional headers and returns status, headers, body.
func get(t *testing.T, url string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

func tags(t *testing.T, body string) []string {
	t.Helper()
	var list []struct {
		Tag  string `json:"tag_name"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	var out []string
	for _, r := range list {
		out = append(out, r.Tag+r.Name)
	}
	return out
}

// start serves a fake holding owner/repo with n releases v1..vn, published
// a minute apart (vn newest).
func start(t *testing.T, n int) (*Server, *httptest.Server) {
	t.Helper()
	f := New()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		f.AddRelease("owner/repo", Release{Tag: fmt.Sprintf("v%d", i), PublishedAt: base.Add(time.Duration(i) * time.Minute)})
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	return f, srv
}

func TestPagination(t *testing.T) {
	_, srv := start(t, 250)
	u := srv.URL + "/repos/owner/repo/releases"
	tests := []struct {
		name      string
		query     string
		first     string // first tag on the page
		count     int
		link      string
		wantLinks bool
	}{
		{"page 1 of 3", "?per_page=100", "v250", 100,
			`<` + u + `?page=2&per_page=100>; rel="next", <` + u + `?page=3&per_page=100>; rel="last"`, true},
		{"middle page", "?per_page=100&page=2", "v150", 100,
			`<` + u + `?page=1&per_page=100>; rel="prev", <` + u + `?page=3&per_page=100>; rel="next", <` + u + `?page=3&per_page=100>; rel="last", <` + u + `?page=1&per_page=100>; rel="first"`, true},
		{"last page", "?per_page=100&page=3", "v50", 50,
			`<` + u + `?page=2&per_page=100>; rel="prev", <` + u + `?page=1&per_page=100>; rel="first"`, true},
		{"past the end", "?per_page=100&page=9", "", 0, `<` + u + `?page=1&per_page=100>; rel="first"`, true},
		{"default per_page is 30", "", "v250", 30,
			`<` + u + `?page=2&per_page=30>; rel="next", <` + u + `?page=9&per_page=30>; rel="last"`, true},
		{"per_page capped at 100", "?per_page=500", "v250", 100,
			`<` + u + `?page=2&per_page=100>; rel="next", <` + u + `?page=3&per_page=100>; rel="last"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := get(t, u+tt.query)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			got := tags(t, body)
			if len(got) != tt.count {
				t.Fatalf("%d releases, want %d", len(got), tt.count)
			}
			if tt.count > 0 && got[0] != tt.first+tt.first {
				t.Errorf("first release %q, want %q", got[0], tt.first)
			}
			if h.Get("Link") != tt.link {
				t.Errorf("Link:\n got %s\nwant %s", h.Get("Link"), tt.link)
			}
		})
	}
}

func TestSinglePageHasNoLink(t *testing.T) {
	_, srv := start(t, 3)
	status, h, body := get(t, srv.URL+"/repos/OWNER/Repo/releases?per_page=100")
	if status != http.StatusOK || h.Get("Link") != "" {
		t.Fatalf("status %d, Link %q", status, h.Get("Link"))
	}
	if got := strings.Join(tags(t, body), " "); got != "v3v3 v2v2 v1v1" {
		t.Errorf("releases %q, want newest first; repository names are not case sensitive", got)
	}
}

func TestConditionalRequests(t *testing.T) {
	tests := []struct {
		name          string
		auth          string
		wantSpent304  int // rate-limit points a 304 costs
		wantRemaining int // after the 200 and the 304
	}{
		{"authorized 304 is free", "Bearer t0ken", 0, AuthenticatedLimit - 1},
		{"unauthenticated 304 counts", "", 1, UnauthenticatedLimit - 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := start(t, 2)
			u := srv.URL + "/repos/owner/repo/releases"
			status, h, _ := get(t, u, "Authorization", tt.auth)
			etag := h.Get("ETag")
			if status != http.StatusOK || !strings.HasPrefix(etag, `"`) {
				t.Fatalf("status %d, ETag %q: want 200 with a strong ETag", status, etag)
			}
			before, _ := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
			status, h, body := get(t, u, "Authorization", tt.auth, "If-None-Match", etag)
			if status != http.StatusNotModified || body != "" {
				t.Fatalf("status %d body %q, want 304 without a body", status, body)
			}
			after, _ := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
			if before-after != tt.wantSpent304 || f.RateLimit(tt.auth).Remaining != tt.wantRemaining {
				t.Errorf("304 cost %d points (remaining %d), want %d (remaining %d)", before-after, f.RateLimit(tt.auth).Remaining, tt.wantSpent304, tt.wantRemaining)
			}
			if h.Get("ETag") != etag {
				t.Errorf("304 ETag %q, want %q", h.Get("ETag"), etag)
			}
			// A weak form of the same tag matches too (weak comparison).
			if status, _, _ := get(t, u, "Authorization", tt.auth, "If-None-Match", `"x", W/`+etag); status != http.StatusNotModified {
				t.Errorf("weak If-None-Match: status %d, want 304", status)
			}
			f.AddRelease("owner/repo", Release{Tag: "v3", PublishedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
			status, h, body = get(t, u, "Authorization", tt.auth, "If-None-Match", etag)
			if status != http.StatusOK || h.Get("ETag") == etag || tags(t, body)[0] != "v3v3" {
				t.Errorf("after a new release: status %d ETag %q first %v, want 200, a new ETag, v3 first", status, h.Get("ETag"), tags(t, body))
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	reset := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name    string
		auth    string
		status  int
		message string
	}{
		{"unauthenticated", "", http.StatusForbidden, "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)"},
		{"authenticated", "Bearer t0ken", http.StatusForbidden, "API rate limit exceeded for user ID 1."},
		{"as 429", "Bearer t0ken", http.StatusTooManyRequests, "API rate limit exceeded for user ID 1."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := start(t, 1)
			f.PrimaryLimitStatus(tt.status)
			f.SetRate(tt.auth, 1, reset)
			u := srv.URL + "/repos/owner/repo/releases"
			if status, h, _ := get(t, u, "Authorization", tt.auth); status != http.StatusOK || h.Get("X-RateLimit-Remaining") != "0" {
				t.Fatalf("last allowed request: status %d remaining %q", status, h.Get("X-RateLimit-Remaining"))
			}
			status, h, body := get(t, u, "Authorization", tt.auth)
			var e struct{ Message, Documentation_URL string }
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatal(err)
			}
			if status != tt.status || e.Message != tt.message || e.Documentation_URL != docRateLimit {
				t.Errorf("got %d %q %q", status, e.Message, e.Documentation_URL)
			}
			want := map[string]string{
				"X-RateLimit-Remaining": "0",
				"X-RateLimit-Reset":     strconv.FormatInt(reset.Unix(), 10),
				"X-RateLimit-Resource":  "core",
			}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s: %q, want %q", k, h.Get(k), v)
				}
			}
			limit := UnauthenticatedLimit
			if tt.auth != "" {
				limit = AuthenticatedLimit
			}
			if h.Get("X-RateLimit-Limit") != strconv.Itoa(limit) || h.Get("X-RateLimit-Used") != strconv.Itoa(limit) {
				t.Errorf("limit %q used %q, want %d", h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Used"), limit)
			}
		})
	}
}

func TestRateLimitResets(t *testing.T) {
	f, srv := start(t, 1)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.SetClock(func() time.Time { return now })
	f.SetRate("", 0, now.Add(time.Minute))
	u := srv.URL + "/repos/owner/repo/releases"
	if status, _, _ := get(t, u); status != http.StatusForbidden {
		t.Fatalf("exhausted: status %d, want 403", status)
	}
	now = now.Add(time.Minute)
	status, h, _ := get(t, u)
	if status != http.StatusOK || h.Get("X-RateLimit-Remaining") != "59" {
		t.Errorf("after reset: status %d remaining %q, want 200 and 59", status, h.Get("X-RateLimit-Remaining"))
	}
}

func TestSecondaryLimitAndFaults(t *testing.T) {
	f, srv := start(t, 1)
	u := srv.URL + "/repos/owner/repo/releases"
	f.SecondaryLimit(http.StatusTooManyRequests, 2*time.Second, 1)
	status, h, body := get(t, u)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "2" || !strings.Contains(body, "secondary rate limit") || !strings.Contains(body, "#about-secondary-rate-limits") {
		t.Errorf("secondary: %d Retry-After %q %s", status, h.Get("Retry-After"), body)
	}
	if h.Get("X-RateLimit-Remaining") != "60" {
		t.Errorf("secondary limit spent a primary point: remaining %q", h.Get("X-RateLimit-Remaining"))
	}
	f.Fail(RouteReleases, http.StatusBadGateway, "", 2)
	for i, want := range []int{502, 502, 200} {
		if status, _, _ := get(t, u); status != want {
			t.Errorf("request %d after Fail(502, 2): %d, want %d", i+1, status, want)
		}
	}
	f.Fail(RouteTags, http.StatusServiceUnavailable, `{"message":"down"}`, -1)
	for range 3 {
		if status, _, body := get(t, srv.URL+"/repos/owner/repo/tags"); status != 503 || body != `{"message":"down"}` {
			t.Errorf("tags: %d %s, want 503 always", status, body)
		}
	}
	if status, _, _ := get(t, u); status != 200 {
		t.Errorf("a fault on tags reached releases: %d", status)
	}
	if got := f.Count(http.StatusServiceUnavailable); got != 3 {
		t.Errorf("Count(503) = %d, want 3", got)
	}
}

func TestDelay(t *testing.T) {
	f, srv := start(t, 1)
	f.Delay(RouteReleases, time.Hour, 1)
	client := &http.Client{Timeout: 200 * time.Millisecond}
	began := time.Now()
	if _, err := client.Get(srv.URL + "/repos/owner/repo/releases"); err == nil {
		t.Fatal("a request held for an hour did not time out")
	}
	if time.Since(began) > 5*time.Second {
		t.Errorf("took %s", time.Since(began))
	}
	if status, _, _ := get(t, srv.URL+"/repos/owner/repo/releases"); status != 200 {
		t.Errorf("second request: %d", status)
	}
}

func TestRoutes(t *testing.T) {
	f := New()
	f.AddRelease("o/r", Release{Tag: "v1.0.0", PublishedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
	f.AddRelease("o/r", Release{Tag: "v2.0.0rc1", Prerelease: true, PublishedAt: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)})
	f.AddRelease("o/r", Release{Tag: "v2.0.0", Draft: true})
	f.AddRepo("o/empty")
	f.RequireTokens("good")
	mux := http.NewServeMux()
	mux.Handle("/api/v3/", http.StripPrefix("/api/v3", f))
	mux.Handle("/", f)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		name, path, auth string
		status           int
		want             string // substring of the body
		absent           string
	}{
		{"drafts hidden without a token", "/repos/o/r/releases", "", 200, `"tag_name":"v2.0.0rc1"`, `"tag_name":"v2.0.0"`},
		{"drafts listed with one", "/repos/o/r/releases", "Bearer good", 200, `"draft":true`, ""},
		{"draft has no published_at", "/repos/o/r/releases", "token good", 200, `"published_at":null`, ""},
		{"latest skips prereleases and drafts", "/repos/o/r/releases/latest", "", 200, `"tag_name":"v1.0.0"`, "rc1"},
		{"latest of none", "/repos/o/empty/releases/latest", "", 404, `"message":"Not Found"`, ""},
		{"tags", "/repos/o/r/tags", "", 200, `"name":"v2.0.0rc1"`, `"name":"v2.0.0"`},
		{"unknown repository", "/repos/o/none/releases", "", 404, `"documentation_url":"` + docListReleases + `"`, ""},
		{"unknown route", "/repos/o/r/pulls", "", 404, "Not Found", ""},
		{"bad token", "/repos/o/r/releases", "Bearer bad", 401, `"message":"Bad credentials"`, ""},
		{"GHE prefix", "/api/v3/repos/o/r/releases", "", 200, `"url":"` + srv.URL + `/api/v3/repos/o/r/releases/`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := get(t, srv.URL+tt.path, "Authorization", tt.auth)
			if status != tt.status || !strings.Contains(body, tt.want) || (tt.absent != "" && strings.Contains(body, tt.absent)) {
				t.Errorf("%d %s\nwant %d with %s and without %q", status, body, tt.status, tt.want, tt.absent)
			}
		})
	}
	for _, r := range f.Requests() {
		if a := r.Header.Get("Authorization"); a != "" && a != "REDACTED" {
			t.Errorf("request log holds Authorization %q", a)
		}
	}
}

func TestGHELinks(t *testing.T) {
	f, _ := start(t, 150)
	mux := http.NewServeMux()
	mux.Handle("/api/v3/", http.StripPrefix("/api/v3", f))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, h, _ := get(t, srv.URL+"/api/v3/repos/owner/repo/releases?per_page=100")
	want := `<` + srv.URL + `/api/v3/repos/owner/repo/releases?page=2&per_page=100>; rel="next", <` + srv.URL + `/api/v3/repos/owner/repo/releases?page=2&per_page=100>; rel="last"`
	if h.Get("Link") != want {
		t.Errorf("Link %s\nwant %s", h.Get("Link"), want)
	}
}
