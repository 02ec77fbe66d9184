package download

import (
	"fmt"
	"net/url"
	"strings"
)

// MirrorURL applies the mirror rule of docs/architecture.md §4: with mirror
// http://mirror.example, https://host/path?q becomes
// http://mirror.example/host/path?q. An empty mirror, and file:// URLs,
// leave rawURL as it is. The mirror cannot change what is installed: the
// pinned digests still decide.
func MirrorURL(mirror, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("invalid download URL %q", Redact(rawURL))
	}
	if mirror == "" || u.Scheme == "file" {
		return rawURL, nil
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("cannot download %s through a mirror: only http(s) URLs are mirrored", Redact(rawURL))
	}
	m, err := url.Parse(mirror)
	if err != nil || (m.Scheme != "http" && m.Scheme != "https") || m.Host == "" {
		return "", fmt.Errorf("%s=%q is not an http(s) URL", MirrorEnv, Redact(mirror))
	}
	out := strings.TrimSuffix(m.String(), "/") + "/" + u.Host + u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, nil
}
