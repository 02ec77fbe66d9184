// Package github is an in-memory GitHub REST API for tests: an
// http.Handler serving a repository's releases and tags the way
// api.github.com documents them (docs.github.com/rest/releases/releases,
// .../using-pagination-in-the-rest-api, .../rate-limits-for-the-rest-api,
// .../best-practices-for-using-the-rest-api):
//
//   - GET /repos/{owner}/{repo}/releases, .../releases/latest, .../tags,
//     also under /api/v3 as GitHub Enterprise Server mounts them;
//   - pagination by per_page (default 30, at most 100) and page, with a
//     Link header of rel="prev", "next", "last", "first" URLs;
//   - an ETag on every 200 and If-None-Match answered 304 without a body;
//   - primary rate limits per caller (60 an hour without Authorization,
//     5000 with), reported in X-RateLimit-* headers, and 403 with GitHub's
//     JSON body once exhausted; a 304 to an authorized request costs
//     nothing, as documented, while an unauthenticated one still counts;
//   - secondary rate limits (403 or 429 with Retry-After) on request;
//   - drafts listed only to authorized callers ("Only users with push
//     access will receive listings for draft releases");
//   - per-route faults and latency, and a log of every request.
//
// It is safe for concurrent use.
package github

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Routes, as named in Fail, Delay and Request.Route.
const (
	RouteReleases = "GET /repos/{owner}/{repo}/releases"
	RouteLatest   = "GET /repos/{owner}/{repo}/releases/latest"
	RouteTags     = "GET /repos/{owner}/{repo}/tags"
)

// Documentation URLs GitHub puts in its error bodies. go-github tells a
// secondary rate limit from a permission error by the suffix of this one.
const (
	docRateLimit     = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
	docSecondary     = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	docListReleases  = "https://docs.github.com/rest/releases/releases#list-releases"
	docLatestRelease = "https://docs.github.com/rest/releases/releases#get-the-latest-release"
	docListTags      = "https://docs.github.com/rest/repos/repos#list-repository-tags"
	docAuth          = "https://docs.github.com/rest"
)

// Rate limits of the core resource, per hour.
const (
	UnauthenticatedLimit = 60
	AuthenticatedLimit   = 5000
)

// Release is a release as a test declares it. Zero fields get GitHub-like
// defaults when added: an ID, a Name equal to Tag, a commit SHA.
type Release struct {
	ID              int64
	Tag             string
	Name            string
	TargetCommitish string
	Draft           bool
	Prerelease      bool
	// PublishedAt orders the listing, newest first (GitHub orders by
	// creation date). A draft is listed with "published_at": null.
	PublishedAt time.Time
	Body        string
	Assets      []Asset
	// CommitSHA is the tag's commit in the tags listing.
	CommitSHA string
}

// Asset is a release's uploaded file.
type Asset struct {
	ID                 int64
	Name               string
	ContentType        string
	Size               int64
	BrowserDownloadURL string
}

// Request is one request the fake answered.
type Request struct {
	Method string
	Path   string // as received, /api/v3 prefix included
	Query  string
	Route  string // one of the Route constants, "" when none matched
	// Header is the request's headers with Authorization's value
	// replaced by "REDACTED", so a test can print it.
	Header http.Header
	Status int
}

// Rate is one caller's primary rate limit.
type Rate struct {
	Limit, Remaining, Used int
	Reset                  time.Time
}

// Server is the fake API. Create it with New and serve it with
// httptest.NewServer (or under http.StripPrefix("/api/v3", ...)).
type Server struct {
	mu       sync.Mutex
	now      func() time.Time
	repos    map[string]*repo // by lower-case owner/repo: names are not case sensitive
	nextID   int64
	rates    map[string]*Rate // by caller: "" unauthenticated, else the Authorization value
	tokens   []string         // when set, the only tokens accepted
	limit403 int              // status of an exhausted primary limit
	second   secondary
	faults   map[string]*fault
	latency  time.Duration
	requests []Request
	done     chan struct{}
}

type repo struct {
	id       int64
	name     string // as first given
	releases []*Release
}

type secondary struct {
	status     int
	retryAfter time.Duration
	count      int
}

type fault struct {
	status int
	body   string
	count  int // how many more requests; < 0: every one
	delay  time.Duration
	delays int
}

// New returns an empty fake with the real clock.
func New() *Server {
	return &Server{
		now:      time.Now,
		repos:    map[string]*repo{},
		rates:    map[string]*Rate{},
		faults:   map[string]*fault{},
		limit403: http.StatusForbidden,
		done:     make(chan struct{}),
	}
}

// SetClock replaces the clock that drives rate-limit windows and Retry-After.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AddRepo makes an empty repository exist (unknown ones answer 404).
func (s *Server) AddRepo(ownerRepo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(ownerRepo)
}

func (s *Server) repo(ownerRepo string) *repo {
	key := strings.ToLower(ownerRepo)
	r := s.repos[key]
	if r == nil {
		s.nextID++
		r = &repo{id: 100000 + s.nextID, name: ownerRepo}
		s.repos[key] = r
	}
	return r
}

// AddRelease publishes r in ownerRepo (creating the repository) and
// returns it with its defaults filled in. A tag already released is
// replaced, as editing a release on GitHub would.
func (s *Server) AddRelease(ownerRepo string, r Release) Release {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(ownerRepo)
	s.nextID++
	if r.ID == 0 {
		r.ID = s.nextID
	}
	if r.Name == "" {
		r.Name = r.Tag
	}
	if r.TargetCommitish == "" {
		r.TargetCommitish = "master"
	}
	if r.PublishedAt.IsZero() {
		r.PublishedAt = s.now().UTC().Truncate(time.Second)
	}
	if r.CommitSHA == "" {
		sum := sha256.Sum256([]byte(ownerRepo + "@" + r.Tag))
		r.CommitSHA = hex.EncodeToString(sum[:20])
	}
	for i := range r.Assets {
		if r.Assets[i].ID == 0 {
			s.nextID++
			r.Assets[i].ID = s.nextID
		}
		if r.Assets[i].ContentType == "" {
			r.Assets[i].ContentType = "application/octet-stream"
		}
	}
	stored := r
	stored.Assets = slices.Clone(r.Assets)
	rp.releases = slices.DeleteFunc(rp.releases, func(old *Release) bool { return old.Tag == r.Tag })
	rp.releases = append(rp.releases, &stored)
	// Newest first; the later-added first among equal dates.
	slices.SortStableFunc(rp.releases, func(a, b *Release) int { return b.PublishedAt.Compare(a.PublishedAt) })
	return r
}

// DeleteRelease removes ownerRepo's release of tag.
func (s *Server) DeleteRelease(ownerRepo, tag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(ownerRepo)
	rp.releases = slices.DeleteFunc(rp.releases, func(r *Release) bool { return r.Tag == tag })
}

// RequireTokens makes the fake accept only these tokens (as "Bearer T" or
// "token T"); any other Authorization is answered 401 "Bad credentials".
// Without it any Authorization is an authenticated caller.
func (s *Server) RequireTokens(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = slices.Clone(tokens)
}

// SetRate sets the primary rate limit of the unauthenticated caller
// (authorization "") or of the caller sending that Authorization header
// value (e.g. "Bearer TOKEN"): remaining requests until reset.
func (s *Server) SetRate(authorization string, remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rate(authorization)
	r.Remaining = remaining
	r.Used = r.Limit - remaining
	r.Reset = reset.Truncate(time.Second)
}

// RateLimit returns the caller's current primary rate limit (see SetRate).
func (s *Server) RateLimit(authorization string) Rate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.rate(authorization)
}

// PrimaryLimitStatus sets the status of an exhausted primary limit:
// 403 (the default) or 429, both documented.
func (s *Server) PrimaryLimitStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit403 = status
}

// SecondaryLimit answers the next count requests (count < 0: all) with a
// secondary rate limit: status 403 or 429, and Retry-After in whole
// seconds when retryAfter > 0 (GitHub sometimes omits it).
func (s *Server) SecondaryLimit(status int, retryAfter time.Duration, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.second = secondary{status: status, retryAfter: retryAfter, count: count}
}

// Fail answers the next count requests on route (count < 0: all of them;
// 0 clears the fault) with status and body (GitHub's JSON error body with
// the status text when body is "").
func (s *Server) Fail(route string, status int, body string, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault(route)
	f.status, f.body, f.count = status, body, count
}

// Delay holds the next count requests on route (count < 0: all) for d
// before answering, or until the client gives up.
func (s *Server) Delay(route string, d time.Duration, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault(route)
	f.delay, f.delays = d, count
}

// SetLatency delays every response by d (the benchmark's 100 ms).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Close releases requests still held by Delay or SetLatency.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

func (s *Server) fault(route string) *fault {
	f := s.faults[route]
	if f == nil {
		f = &fault{}
		s.faults[route] = f
	}
	return f
}

// Requests returns every request answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Count is how many requests were answered with status (0: any status).
func (s *Server) Count(status int) int {
	n := 0
	for _, r := range s.Requests() {
		if status == 0 || r.Status == status {
			n++
		}
	}
	return n
}

// rate returns the caller's window, refilled when its reset has passed.
// Called with s.mu held.
func (s *Server) rate(authorization string) *Rate {
	r := s.rates[authorization]
	now := s.now()
	if r == nil || !now.Before(r.Reset) {
		limit := UnauthenticatedLimit
		if authorization != "" {
			limit = AuthenticatedLimit
		}
		r = &Rate{Limit: limit, Remaining: limit, Reset: now.Add(time.Hour).Truncate(time.Second)}
		s.rates[authorization] = r
	}
	return r
}

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	route, owner, name, ok := match(req)
	defer func() {
		h := req.Header.Clone()
		if h.Get("Authorization") != "" {
			h.Set("Authorization", "REDACTED")
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{
			Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery,
			Route: route, Header: h, Status: rec.status,
		})
		s.mu.Unlock()
	}()
	if !s.wait(req, route) {
		rec.status = 499 // the client went away; nothing is written
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	auth := req.Header.Get("Authorization")
	if auth != "" && len(s.tokens) > 0 && !slices.ContainsFunc(s.tokens, func(t string) bool {
		return auth == "Bearer "+t || auth == "token "+t
	}) {
		writeError(rec, http.StatusUnauthorized, "Bad credentials", docAuth)
		return
	}
	rate := s.rate(auth)
	if f := s.faults[route]; ok && f != nil && f.status != 0 && f.count != 0 {
		if f.count > 0 {
			f.count--
		}
		s.spend(rec, rate)
		if f.body != "" {
			rec.Header().Set("Content-Type", "application/json; charset=utf-8")
			rec.WriteHeader(f.status)
			fmt.Fprint(rec, f.body)
			return
		}
		writeError(rec, f.status, http.StatusText(f.status), "")
		return
	}
	if s.second.count != 0 && s.second.status != 0 {
		if s.second.count > 0 {
			s.second.count--
		}
		// A secondary limit leaves the primary one as it was: the headers
		// are those of a healthy caller, only the body and Retry-After differ.
		setRateHeaders(rec, rate)
		if s.second.retryAfter > 0 {
			rec.Header().Set("Retry-After", strconv.Itoa(int((s.second.retryAfter+time.Second-1)/time.Second)))
		}
		writeError(rec, s.second.status, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.", docSecondary)
		return
	}
	if rate.Remaining <= 0 {
		setRateHeaders(rec, rate)
		who := "127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)"
		if auth != "" {
			who = "user ID 1."
		}
		writeError(rec, s.limit403, "API rate limit exceeded for "+who, docRateLimit)
		return
	}
	if !ok {
		s.spend(rec, rate)
		writeError(rec, http.StatusNotFound, "Not Found", docAuth)
		return
	}
	rp := s.repos[strings.ToLower(owner+"/"+name)]
	if rp == nil {
		s.spend(rec, rate)
		doc := map[string]string{RouteReleases: docListReleases, RouteLatest: docLatestRelease, RouteTags: docListTags}[route]
		writeError(rec, http.StatusNotFound, "Not Found", doc)
		return
	}

	var body any
	switch route {
	case RouteReleases:
		var list []any
		for _, r := range rp.releases {
			if r.Draft && auth == "" {
				continue
			}
			list = append(list, releaseJSON(req, rp, r))
		}
		body = paginate(rec, req, list)
	case RouteTags:
		var list []any
		for _, r := range rp.releases {
			if r.Draft {
				continue // a draft's tag is not pushed yet
			}
			list = append(list, tagJSON(req, rp, r))
		}
		body = paginate(rec, req, list)
	case RouteLatest:
		// "the most recent non-prerelease, non-draft release"
		i := slices.IndexFunc(rp.releases, func(r *Release) bool { return !r.Draft && !r.Prerelease })
		if i < 0 {
			s.spend(rec, rate)
			writeError(rec, http.StatusNotFound, "Not Found", docLatestRelease)
			return
		}
		body = releaseJSON(req, rp, rp.releases[i])
	}
	data, err := json.Marshal(body)
	if err != nil {
		writeError(rec, http.StatusInternalServerError, err.Error(), "")
		return
	}
	// The ETag depends on the caller too: GitHub gives each token its own
	// (github/docs#34689), so a changed token revalidates nothing.
	sum := sha256.Sum256(append([]byte(auth+"\n"), data...))
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	rec.Header().Set("ETag", etag)
	rec.Header().Set("Cache-Control", "private, max-age=60, s-maxage=60")
	rec.Header().Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
	if matchesETag(req.Header.Get("If-None-Match"), etag) {
		// Documented: a 304 to an authorized request is free; the
		// unauthenticated caller pays for it like any other request.
		if auth == "" {
			s.spend(rec, rate)
		} else {
			setRateHeaders(rec, rate)
		}
		rec.Header().Del("Link")
		rec.WriteHeader(http.StatusNotModified)
		return
	}
	s.spend(rec, rate)
	rec.Header().Set("Content-Type", "application/json; charset=utf-8")
	rec.WriteHeader(http.StatusOK)
	rec.Write(data)
}

// wait applies latency and Delay faults; false when the client gave up.
func (s *Server) wait(req *http.Request, route string) bool {
	s.mu.Lock()
	d := s.latency
	if f := s.faults[route]; f != nil && f.delays != 0 {
		if f.delays > 0 {
			f.delays--
		}
		d += f.delay
	}
	done := s.done
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-req.Context().Done():
		return false
	case <-done:
		return false
	}
}

// spend counts one request against the caller's limit and reports it.
// Called with s.mu held.
func (s *Server) spend(w http.ResponseWriter, r *Rate) {
	if r.Remaining > 0 {
		r.Remaining--
		r.Used++
	}
	setRateHeaders(w, r)
}

func setRateHeaders(w http.ResponseWriter, r *Rate) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(r.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(r.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(r.Reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(r.Used))
	h.Set("X-RateLimit-Resource", "core")
}

// paginate returns the requested page of list and sets the Link header.
// Like GitHub it caps per_page at 100, takes junk for the default, and
// answers a page past the end with [].
func paginate(w http.ResponseWriter, req *http.Request, list []any) any {
	q := req.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := max(1, (len(list)+perPage-1)/perPage)
	var links []string
	link := func(p int, rel string) {
		u := linkBase(req)
		v := u.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = v.Encode()
		links = append(links, fmt.Sprintf("<%s>; rel=%q", u, rel))
	}
	if page > 1 && page <= last+1 {
		link(page-1, "prev")
	}
	if page < last {
		link(page+1, "next")
		link(last, "last")
	}
	if page > 1 {
		link(1, "first")
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := min((page-1)*perPage, len(list))
	end := min(start+perPage, len(list))
	out := list[start:end]
	if out == nil {
		out = []any{}
	}
	return out
}

// linkBase is the absolute URL the client used, /api/v3 prefix included
// even when the fake is mounted under http.StripPrefix.
func linkBase(req *http.Request) *url.URL {
	u, err := url.ParseRequestURI(req.RequestURI)
	if err != nil || req.RequestURI == "" {
		u = &url.URL{Path: req.URL.Path, RawQuery: req.URL.RawQuery}
	}
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: req.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
}

// match routes a request; owner and repo are path-unescaped.
func match(req *http.Request) (route, owner, repo string, ok bool) {
	path := strings.TrimPrefix(req.URL.Path, "/api/v3")
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if req.Method != http.MethodGet || len(parts) < 4 || parts[0] != "repos" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	owner, repo = parts[1], parts[2]
	switch strings.Join(parts[3:], "/") {
	case "releases":
		return RouteReleases, owner, repo, true
	case "releases/latest":
		return RouteLatest, owner, repo, true
	case "tags":
		return RouteTags, owner, repo, true
	}
	return "", "", "", false
}

func apiBase(req *http.Request) string {
	u := linkBase(req)
	u.RawQuery = ""
	p := u.Path
	if i := strings.Index(p, "/repos/"); i >= 0 {
		p = p[:i]
	}
	u.Path, u.RawPath = p, ""
	return u.String()
}

func releaseJSON(req *http.Request, rp *repo, r *Release) map[string]any {
	api := apiBase(req) + "/repos/" + rp.name
	web := "https://github.com/" + rp.name
	var published any
	if !r.Draft {
		published = r.PublishedAt.UTC().Format(time.RFC3339)
	}
	assets := []any{}
	for _, a := range r.Assets {
		dl := a.BrowserDownloadURL
		if dl == "" {
			dl = web + "/releases/download/" + url.PathEscape(r.Tag) + "/" + url.PathEscape(a.Name)
		}
		assets = append(assets, map[string]any{
			"url":                  fmt.Sprintf("%s/releases/assets/%d", api, a.ID),
			"id":                   a.ID,
			"node_id":              fmt.Sprintf("RA_%d", a.ID),
			"name":                 a.Name,
			"label":                "",
			"content_type":         a.ContentType,
			"state":                "uploaded",
			"size":                 a.Size,
			"download_count":       0,
			"created_at":           r.PublishedAt.UTC().Format(time.RFC3339),
			"updated_at":           r.PublishedAt.UTC().Format(time.RFC3339),
			"browser_download_url": dl,
		})
	}
	return map[string]any{
		"url":              fmt.Sprintf("%s/releases/%d", api, r.ID),
		"html_url":         web + "/releases/tag/" + url.PathEscape(r.Tag),
		"assets_url":       fmt.Sprintf("%s/releases/%d/assets", api, r.ID),
		"upload_url":       fmt.Sprintf("https://uploads.github.com/repos/%s/releases/%d/assets{?name,label}", rp.name, r.ID),
		"tarball_url":      api + "/tarball/" + url.PathEscape(r.Tag),
		"zipball_url":      api + "/zipball/" + url.PathEscape(r.Tag),
		"id":               r.ID,
		"node_id":          fmt.Sprintf("RE_%d", r.ID),
		"tag_name":         r.Tag,
		"target_commitish": r.TargetCommitish,
		"name":             r.Name,
		"draft":            r.Draft,
		"prerelease":       r.Prerelease,
		"created_at":       r.PublishedAt.UTC().Format(time.RFC3339),
		"published_at":     published,
		"author":           map[string]any{"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
		"assets":           assets,
		"body":             r.Body,
	}
}

func tagJSON(req *http.Request, rp *repo, r *Release) map[string]any {
	api := apiBase(req) + "/repos/" + rp.name
	return map[string]any{
		"name":        r.Tag,
		"zipball_url": api + "/zipball/refs/tags/" + url.PathEscape(r.Tag),
		"tarball_url": api + "/tarball/refs/tags/" + url.PathEscape(r.Tag),
		"commit":      map[string]any{"sha": r.CommitSHA, "url": api + "/commits/" + r.CommitSHA},
		"node_id":     "REF_" + r.CommitSHA[:12],
	}
}

// matchesETag is If-None-Match's weak comparison (RFC 9110 §13.1.2).
func matchesETag(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	strip := func(t string) string { return strings.TrimPrefix(strings.TrimSpace(t), "W/") }
	for t := range strings.SplitSeq(ifNoneMatch, ",") {
		if strings.TrimSpace(t) == "*" || strip(t) == strip(etag) {
			return true
		}
	}
	return false
}

func writeError(w http.ResponseWriter, status int, message, doc string) {
	body := map[string]string{"message": message, "status": strconv.Itoa(status)}
	if doc != "" {
		body["documentation_url"] = doc
	}
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(data)
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
