package manifest

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"gitlab.com/coinpipe/coinpipe/internal/readcap"
	"gitlab.com/coinpipe/coinpipe/verify"
)

var (
	namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	// A version becomes an image tag and a systemd instance name.
	versionPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// Paths and names that reach shell, Dockerfile and systemd lines: a
	// conservative character set, so that rendering never needs quoting to
	// be safe. Components may not start with '-' (an option to tar or docker).
	safePathPattern = regexp.MustCompile(`^[A-Za-z0-9_.+][A-Za-z0-9_.+-]*(/[A-Za-z0-9_.+][A-Za-z0-9_.+-]*)*$`)
	tagPattern      = regexp.MustCompile(`^[A-Za-z0-9_.+/-]*\{version\}[A-Za-z0-9_.+/-]*$`)
	// Descriptions land in comments, labels and systemd: one printable line.
	descriptionPattern = regexp.MustCompile(`^[^\x00-\x1f\x7f"\\$%` + "`" + `]+$`)
	// GitHub's own rules: an owner is 1-39 letters, digits and '-', not
	// starting with '-'; a repository 1-100 letters, digits, '.', '_', '-'.
	githubOwnerPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
	githubRepoPattern  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	githubPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)
	// urlPattern is what a release URL may look like: https, a host name,
	// an optional port, and a path and query of letters, digits and
	// - . _ ~ % / : @ + = & ? , with {version} and {signer} placeholders.
	// No userinfo, no fragment, nothing a shell or a Dockerfile line would
	// read as syntax; anything else is percent-encoded.
	urlPattern = regexp.MustCompile(`^https://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._~%/:@+=&?,{}-]*)?$`)
	// EC2 tags (deploy.instances) as AWS allows them, restricted to ASCII:
	// they end up in SSM filters and shell lines.
	tagKeyPattern      = regexp.MustCompile(`^[A-Za-z0-9 _.:/=+@-]{1,128}$`)
	tagValuePattern    = regexp.MustCompile(`^[A-Za-z0-9 _.:/=+@-]{0,256}$`)
	linePattern        = regexp.MustCompile(`^~> [0-9]+(\.[0-9]+)*$`)
	sha256Pattern      = regexp.MustCompile(`^[0-9a-f]{64}$`)
	fingerprintPattern = regexp.MustCompile(`^[0-9A-F]{40}$`)
	signerPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	placeholderPattern = regexp.MustCompile(`\{[^}]*\}`)
	// A reference pinned by digest: registry/path[:tag]@sha256:<hex>.
	imagePattern   = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[0-9a-f]{64}$`)
	packagePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$`)
	// debianSnapshotPattern is a snapshot.debian.org timestamp, as its
	// /archive/<archive>/<timestamp>/ URLs take it.
	debianSnapshotPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z$`)
	userPattern           = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	portNamePattern       = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	// ECR repository names, as the CreateRepository API documents them.
	ecrPattern   = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
	slackPattern = regexp.MustCompile(`^#[a-z0-9][a-z0-9_-]{0,79}$`)
	// KMS keys as ECR's encryptionConfiguration.kmsKey takes them: a key
	// ID, alias/NAME, or the ARN of either.
	kmsKeyPattern = regexp.MustCompile(`^(` + kmsKeyID + `|` + kmsAlias + `|arn:aws(-cn|-us-gov|-iso|-iso-b)?:kms:[a-z0-9-]+:[0-9]{12}:(key/(` + kmsKeyID + `)|` + kmsAlias + `))$`)
	// Platforms the base images used here publish.
	platforms = map[string]bool{"linux/amd64": true, "linux/arm64": true, "linux/arm/v7": true, "linux/386": true, "linux/ppc64le": true, "linux/s390x": true, "linux/riscv64": true}
)

const (
	kmsKeyID = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}`
	kmsAlias = `alias/[A-Za-z0-9/_-]{1,250}`
	// maxTagLength is the longest image tag OCI registries accept.
	maxTagLength = 128
)

// Where the generated image puts things (templates/docker/Dockerfile.tmpl).
const (
	// HomeDir is the daemon user's home and working directory.
	HomeDir = "/node"
	// BinDir holds the verified release binaries.
	BinDir = "/usr/local/bin"
	// EntryPoint is the generated docker-entrypoint.sh.
	EntryPoint = BinDir + "/docker-entrypoint.sh"
)

// ownScripts are what the generated image installs in BinDir beside the
// release's binaries: a binary of the same name would be overwritten.
var ownScripts = map[string]bool{"docker-entrypoint.sh": true, "coinpipe-height": true, "coinpipe-health": true}

// Defaults applied to fields left out.
const (
	DefaultMaxUnavailable = 1
	DefaultHealthTimeout  = Duration(15 * time.Minute)
	DefaultStopSignal     = "SIGTERM"
	// DefaultStallAfter: an hour without a new block is far beyond any
	// shipped chain's block time (Bitcoin's 10 minutes, with variance).
	DefaultStallAfter = Duration(time.Hour)
	// DefaultRevision: the first build of a version is tagged with the
	// version alone.
	DefaultRevision = 1
)

// validator collects problems for one manifest.
type validator struct {
	m        *Manifest
	problems Problems
}

func (v *validator) addf(path, format string, args ...any) {
	p := v.m.Pos(path)
	v.problems = append(v.problems, Problem{File: v.m.File, Line: p.Line, Col: p.Col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks every field of a decoded manifest and returns all problems
// at once, sorted by position. It reads the key and config files it names.
// Fields left out get their defaults.
func Validate(m *Manifest) Problems {
	v := &validator{m: m}
	v.identity()
	v.upstream()
	binaries := v.release()
	v.image()
	v.runtime(binaries)
	v.deploy()
	v.committed()
	v.warnings()
	if _, err := m.Sources(); err != nil {
		v.fileError(filepath.ToSlash(filepath.Join(m.Dir, SourcesFile)), err)
	}
	if c := m.Notify.SlackChannel; c != "" && !slackPattern.MatchString(c) {
		v.addf("notify.slack_channel", "%q is not a Slack channel such as \"#coin-nodes\"", excerpt(c))
	}
	if !m.Has("deploy.max_unavailable") {
		m.Deploy.MaxUnavailable = DefaultMaxUnavailable
	}
	if !m.Has("deploy.health_timeout") {
		m.Deploy.HealthTimeout = DefaultHealthTimeout
	}
	if !m.Has("runtime.stall_after") {
		m.Runtime.StallAfter = DefaultStallAfter
	}
	if !m.Has("image.revision") {
		m.Image.Revision = DefaultRevision
	}
	v.problems.Sort()
	return v.problems
}

func (v *validator) required(path, value string) bool {
	if value == "" {
		v.addf(path, "is required")
		return false
	}
	return true
}

func (v *validator) identity() {
	c := v.m.Coin
	if v.required("name", c.Name) {
		folder := filepath.Base(v.m.Dir)
		switch {
		case !namePattern.MatchString(c.Name):
			v.addf("name", "%q must be lower-case letters, digits and inner dashes ([a-z0-9-]+)", excerpt(c.Name))
		case folder != "." && folder != c.Name:
			v.addf("name", "%q does not match its folder %q", excerpt(c.Name), excerpt(folder))
		}
	}
	if v.required("description", c.Description) && !descriptionPattern.MatchString(c.Description) {
		v.addf("description", "must be one line without quotes, backslashes, $, %% or backticks")
	}
	if v.required("version", c.Version) && !versionPattern.MatchString(c.Version) {
		v.addf("version", "%q is not a version usable as an image tag: letters, digits, '.', '_' and '-', at most 128", excerpt(c.Version))
	}
}

func (v *validator) upstream() {
	u := v.m.Upstream
	if v.required("upstream.github", u.GitHub) {
		owner, repo, ok := strings.Cut(u.GitHub, "/")
		switch {
		case !ok || strings.Contains(repo, "/"):
			v.addf("upstream.github", "%q must be owner/repo, e.g. bitcoin/bitcoin", excerpt(u.GitHub))
		case !githubOwnerPattern.MatchString(owner):
			v.addf("upstream.github", "%q: the owner must be 1-39 letters, digits and '-', not starting with '-'", excerpt(u.GitHub))
		case !githubRepoPattern.MatchString(repo) || repo == "." || repo == "..":
			v.addf("upstream.github", "%q: the repository must be 1-100 letters, digits, '.', '_' and '-', other than . and ..", excerpt(u.GitHub))
		}
	}
	switch {
	case !v.required("upstream.tag", u.Tag):
	case !strings.Contains(u.Tag, VersionPlaceholder):
		v.addf("upstream.tag", "%q must contain {version}, e.g. v{version}", excerpt(u.Tag))
	case !tagPattern.MatchString(u.Tag):
		v.addf("upstream.tag", "%q may hold only letters, digits, '.', '_', '+', '-', '/' and {version}", excerpt(u.Tag))
	}
	if u.Line != "" && !linePattern.MatchString(u.Line) {
		v.addf("upstream.line", "%q must look like \"~> 26.0\" (stay on 26.x)", excerpt(u.Line))
	}
	if u.MinAge < 0 {
		v.addf("upstream.min_age", "must not be negative")
	}
}

// release checks release.* and returns the installed binaries' names.
func (v *validator) release() map[string]bool {
	r := v.m.Release
	if len(r.Artifacts) == 0 {
		v.addf("release.artifacts", "at least one platform is required, e.g. linux/amd64")
	}
	for _, platform := range r.Platforms() {
		a := r.Artifacts[platform]
		p := join("release.artifacts", platform)
		if !platforms[platform] {
			v.addf(p, "unknown platform %q; use one of %s", excerpt(platform), strings.Join(sortedKeys(platforms), ", "))
		}
		if v.url(p+".url", a.URL, false) && !strings.Contains(a.URL, VersionPlaceholder) {
			v.addf(p+".url", "must contain {version} so the watcher can move it to a new release")
		}
		if v.required(p+".sha256", a.SHA256) && !sha256Pattern.MatchString(a.SHA256) {
			v.addf(p+".sha256", "must be 64 lower-case hex digits, got %q", excerpt(a.SHA256))
		}
	}

	binaries := map[string]bool{}
	if len(r.Binaries) == 0 {
		v.addf("release.binaries", "at least one binary is required")
	}
	for i, b := range r.Binaries {
		p := fmt.Sprintf("release.binaries[%d]", i)
		// {version} is checked on its own; a neutral stand-in keeps one bad
		// version from failing every path too.
		resolved := strings.ReplaceAll(b, VersionPlaceholder, "0")
		switch {
		case b == "":
			v.addf(p, "is empty")
		case !safePathPattern.MatchString(resolved) || path.Clean(resolved) != resolved || strings.Contains("/"+resolved+"/", "/../"):
			v.addf(p, "%q must be a clean relative path inside the archive (letters, digits, '.', '_', '+', '-'; no part may start with '-')", excerpt(b))
		case binaries[path.Base(b)]:
			v.addf(p, "%q installs %s a second time", excerpt(b), excerpt(path.Base(b)))
		case ownScripts[path.Base(resolved)]:
			v.addf(p, "%q would be replaced by coinpipe's own %s in %s", excerpt(b), path.Base(resolved), BinDir)
		}
		binaries[path.Base(b)] = true
	}
	v.signatures()
	return binaries
}

func (v *validator) signatures() {
	r := v.m.Release
	s := r.Signatures
	needsChecksums := s.Mode == ModeDetached || s.Mode == ModeClearsigned
	switch s.Mode {
	case ModeDetached:
		v.url("release.signatures.url", s.URL, true)
	case ModeClearsigned, ModeArtifact:
		if s.URL != "" {
			v.addf("release.signatures.url", "must be empty in %s mode (the signature is %s)", s.Mode, map[string]string{
				ModeClearsigned: "inside the checksums file", ModeArtifact: "at <artifact url>.asc"}[s.Mode])
		}
	case ModeNone:
		if s.URL != "" || s.Threshold != 0 || len(s.Keys) != 0 {
			v.addf("release.signatures", "mode none takes no url, threshold or keys")
		}
		return
	case "":
		v.addf("release.signatures.mode", "is required: detached, clearsigned, artifact or none")
		return
	default:
		v.addf("release.signatures.mode", "unknown mode %q; use detached, clearsigned, artifact or none", excerpt(s.Mode))
		return
	}

	if needsChecksums {
		if v.url("release.checksums.url", r.Checksums.URL, true) {
			switch r.Checksums.Format {
			case FormatSHA256Sum, FormatMonero, FormatGitianAssert:
			case "":
				v.addf("release.checksums.format", "is required: sha256sum, monero or gitian-assert")
			default:
				v.addf("release.checksums.format", "unknown format %q; use sha256sum, monero or gitian-assert", excerpt(r.Checksums.Format))
			}
		}
	} else if r.Checksums != (Checksums{}) {
		v.addf("release.checksums", "is not used in %s mode; remove it", s.Mode)
	}

	if len(s.Keys) == 0 {
		v.addf("release.signatures.keys", "at least one pinned key is required in %s mode", s.Mode)
	} else if s.Threshold < 1 || s.Threshold > len(s.Keys) {
		v.addf("release.signatures.threshold", "must be between 1 and the number of keys (%d), got %d", len(s.Keys), s.Threshold)
	}
	v.keys(r.PerSigner())
}

func (v *validator) keys(perSigner bool) {
	seenFpr, seenSigner := map[string]bool{}, map[string]bool{}
	for i, k := range v.m.Release.Signatures.Keys {
		p := fmt.Sprintf("release.signatures.keys[%d]", i)
		fprOK := false
		if v.required(p+".fingerprint", k.Fingerprint) {
			switch {
			case !fingerprintPattern.MatchString(k.Fingerprint):
				v.addf(p+".fingerprint", "must be 40 upper-case hex digits without spaces, got %q", excerpt(k.Fingerprint))
			case seenFpr[k.Fingerprint]:
				v.addf(p+".fingerprint", "%s is pinned twice", k.Fingerprint)
			default:
				fprOK = true
			}
			seenFpr[k.Fingerprint] = true
		}
		if v.required(p+".file", k.File) {
			if data, ok := v.coinFile(p+".file", k.File, KeysDir); ok && fprOK {
				v.keyFile(p, path.Clean(k.File), data, k.Fingerprint)
			}
		}
		switch {
		case perSigner && k.Signer == "":
			v.addf(p+".signer", "is required: the checksums or signature url uses {signer}")
		case !perSigner && k.Signer != "":
			v.addf(p+".signer", "is only used with {signer} in the checksums or signature url")
		case k.Signer != "" && !signerPattern.MatchString(k.Signer):
			v.addf(p+".signer", "%q must be letters, digits, '.', '_' and '-'", excerpt(k.Signer))
		case k.Signer != "" && seenSigner[k.Signer]:
			v.addf(p+".signer", "%q is used twice", excerpt(k.Signer))
		}
		seenSigner[k.Signer] = true
	}
}

// keyFile checks the pinned fingerprint is a primary key in the file.
func (v *validator) keyFile(p, rel string, data []byte, fingerprint string) {
	file := filepath.ToSlash(filepath.Join(v.m.Dir, filepath.FromSlash(rel)))
	keys, err := verify.ParseKeys(data)
	if err != nil {
		v.addf(p+".file", "reading key file %s: %v", file, err)
		return
	}
	var found []string
	for _, k := range keys {
		if k.Fingerprint == fingerprint {
			return
		}
		found = append(found, k.Fingerprint)
	}
	v.addf(p+".fingerprint", "%s is not a primary key in %s (it holds %s)", fingerprint, file, strings.Join(found, ", "))
}

func (v *validator) image() {
	im := v.m.Image
	if v.required("image.base", im.Base) {
		switch {
		case !imagePattern.MatchString(im.Base):
			v.addf("image.base", "%q must be pinned by digest: name[:tag]@sha256:<64 hex>", excerpt(im.Base))
		case strings.Contains(im.Base, ":latest@"):
			v.addf("image.base", "name a real tag, not latest, next to the digest")
		}
	}
	for i, pkg := range im.Packages {
		if !packagePattern.MatchString(pkg) {
			v.addf(fmt.Sprintf("image.packages[%d]", i), "%q is not a Debian package name", excerpt(pkg))
		}
	}
	v.debianSnapshot()
	v.revision()
	if v.required("image.user", im.User) {
		switch {
		case !userPattern.MatchString(im.User):
			v.addf("image.user", "%q is not a valid user name", excerpt(im.User))
		case im.User == "root":
			v.addf("image.user", "the daemon must not run as root")
		}
	}
	switch {
	case !v.m.Has("image.uid"):
		v.addf("image.uid", "is required: a fixed uid keeps host volumes' owner stable")
	case im.UID == 0:
		v.addf("image.uid", "must not be 0 (root)")
	case im.UID < 1000 || im.UID > 2147483646:
		v.addf("image.uid", "must be between 1000 and 2147483646, got %d", im.UID)
	case im.UID == 65534 || im.UID == 65535:
		v.addf("image.uid", "%d is nobody/nogroup or reserved; pick another fixed uid", im.UID)
	}
}

// revision checks image.revision, and that the tag it makes with the
// version is one a registry takes (docs/architecture.md §3).
func (v *validator) revision() {
	r := v.m.Image.Revision
	if !v.m.Has("image.revision") {
		return
	}
	if r < 1 {
		v.addf("image.revision", "must be at least 1, got %d", r)
		return
	}
	if tag := v.m.ImageTag(); len(tag) > maxTagLength && versionPattern.MatchString(v.m.Version) {
		v.addf("image.revision", "makes the image tag %q, %d characters; a tag is at most %d", excerpt(tag), len(tag), maxTagLength)
	}
}

// debianSnapshot checks image.debian_snapshot: the runtime stage installs
// its packages (the manifest's and, with runtime.snapshot, the entry
// point's download tools) from the Debian archive as it was at that time,
// so it is needed exactly when there is a package to install
// (docs/architecture.md §3).
func (v *validator) debianSnapshot() {
	stamp := v.m.Image.DebianSnapshot
	installs := len(v.m.Image.Packages) > 0 || v.m.Runtime.Snapshot
	switch {
	case stamp == "" && installs:
		v.addf("image.debian_snapshot", "is required when the runtime image installs packages (image.packages, or runtime.snapshot's download tools): the snapshot.debian.org time, such as 20260918T000000Z, that pins their versions")
	case stamp == "":
	case !installs:
		v.addf("image.debian_snapshot", "the runtime image installs no package (no image.packages, no runtime.snapshot): remove it")
	case !validSnapshotTime(stamp):
		v.addf("image.debian_snapshot", "%q is not a snapshot.debian.org time such as 20260918T000000Z (UTC, YYYYMMDDTHHMMSSZ)", excerpt(stamp))
	}
}

func validSnapshotTime(s string) bool {
	if !debianSnapshotPattern.MatchString(s) {
		return false
	}
	_, err := time.Parse("20060102T150405Z", s)
	return err == nil
}

func (v *validator) runtime(binaries map[string]bool) {
	rt := v.m.Runtime
	v.argv("runtime.command", rt.Command, binaries, true)
	v.argv("runtime.height", rt.Height, binaries, false)
	dataDir := ""
	if v.required("runtime.data_dir", rt.DataDir) && v.absPath("runtime.data_dir", rt.DataDir) && v.dataDir(rt.DataDir) {
		dataDir = rt.DataDir
	}
	// Config files go to the node's home or the coin's own folder in /etc:
	// nowhere else, so that none can replace a verified binary, the entry
	// point or a system file.
	configDirs := []string{HomeDir + "/", "/etc/" + v.m.Name + "/"}
	allowed := fmt.Sprintf("config files go under %s or %s", configDirs[0], configDirs[1])
	var seen []string
	for i, c := range rt.Config {
		p := fmt.Sprintf("runtime.config[%d]", i)
		if v.required(p+".file", c.File) {
			v.coinFile(p+".file", c.File, FilesDir)
		}
		if !v.required(p+".path", c.Path) || !v.absPath(p+".path", c.Path) {
			continue
		}
		switch {
		case c.Path == EntryPoint:
			v.addf(p+".path", "%s would replace the entry point; %s", excerpt(c.Path), allowed)
		case path.Dir(c.Path) == BinDir && binaries[path.Base(c.Path)]:
			v.addf(p+".path", "%s would replace the verified binary %s; %s", excerpt(c.Path), excerpt(path.Base(c.Path)), allowed)
		case !strings.HasPrefix(c.Path, configDirs[0]) && !strings.HasPrefix(c.Path, configDirs[1]):
			v.addf(p+".path", "%s is outside %s and %s, the only places config files may go", excerpt(c.Path), configDirs[0], configDirs[1])
		case dataDir != "" && strings.HasPrefix(c.Path, dataDir+"/"):
			v.addf(p+".path", "%s is inside data_dir %s, a volume that hides it at run time", excerpt(c.Path), excerpt(dataDir))
		case dataDir != "" && (c.Path == dataDir || strings.HasPrefix(dataDir, c.Path+"/")):
			v.addf(p+".path", "%s would replace data_dir %s", excerpt(c.Path), excerpt(dataDir))
		default:
			for _, other := range seen {
				if other == c.Path {
					v.addf(p+".path", "%s is installed twice", excerpt(c.Path))
					break
				}
				if strings.HasPrefix(c.Path, other+"/") || strings.HasPrefix(other, c.Path+"/") {
					v.addf(p+".path", "%s and %s cannot both be files", excerpt(c.Path), excerpt(other))
					break
				}
			}
		}
		seen = append(seen, c.Path)
	}
	v.overlays()
	v.ports(rt.Ports)
	v.memory(rt.Memory)
	switch rt.StopSignal {
	case "":
		v.m.Runtime.StopSignal = DefaultStopSignal
	case "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP":
	default:
		v.addf("runtime.stop_signal", "%q is not one of SIGTERM, SIGINT, SIGQUIT, SIGHUP", excerpt(rt.StopSignal))
	}
	switch {
	case !v.m.Has("runtime.stop_timeout"):
		v.addf("runtime.stop_timeout", "is required: how long the daemon may take to stop cleanly, e.g. 10m")
	case rt.StopTimeout < Duration(time.Second) || time.Duration(rt.StopTimeout)%time.Second != 0:
		v.addf("runtime.stop_timeout", "%s must be a whole number of seconds, at least 1s (docker and systemd count seconds)", rt.StopTimeout)
	case rt.StopTimeout > Duration(time.Hour):
		v.addf("runtime.stop_timeout", "%s is more than 1h", rt.StopTimeout)
	}
	// coinpipe-health compares `date +%s` values: whole seconds.
	if v.m.Has("runtime.stall_after") {
		switch {
		case len(rt.Height) == 0:
			v.addf("runtime.stall_after", "needs runtime.height: without a block height nothing can be seen to stall")
		case rt.StallAfter < Duration(time.Second) || time.Duration(rt.StallAfter)%time.Second != 0:
			v.addf("runtime.stall_after", "%s must be a whole number of seconds, at least 1s (coinpipe-health counts seconds)", rt.StallAfter)
		}
	}
}

// memoryPattern is docker's --memory in the units a node needs: whole MiB
// or GiB, at most 7 digits so the value cannot overflow.
var memoryPattern = regexp.MustCompile(`^([1-9][0-9]{0,6})([mg])$`)

// memory checks runtime.memory, the optional docker memory limit.
func (v *validator) memory(mem string) {
	if !v.m.Has("runtime.memory") {
		return
	}
	// docker refuses a limit under 6 MiB only when the container starts;
	// say so here instead.
	switch sub := memoryPattern.FindStringSubmatch(mem); {
	case sub == nil:
		v.addf("runtime.memory", "%q is not a memory limit such as 512m or 8g (a whole number of MiB or GiB)", excerpt(mem))
	case sub[2] == "m" && len(sub[1]) == 1 && sub[1] < "6":
		v.addf("runtime.memory", "%s is below docker's minimum of 6m", mem)
	}
}

// DefaultRPCAddress publishes every port outside the p2p group on the
// host's loopback only.
const DefaultRPCAddress = "127.0.0.1"

// rpcAddress checks deploy.rpc_address and applies its default. RPC is
// never published on every address (p2p is): one loopback or private IPv4
// address, the form docker's --publish takes without brackets.
func (v *validator) rpcAddress(addr string) {
	if !v.m.Has("deploy.rpc_address") {
		v.m.Deploy.RPCAddress = DefaultRPCAddress
		return
	}
	switch a, err := netip.ParseAddr(addr); {
	case err != nil || !a.Is4():
		v.addf("deploy.rpc_address", "%q is not an IPv4 address such as 127.0.0.1 or 10.0.1.5", excerpt(addr))
	case a.IsUnspecified():
		v.addf("deploy.rpc_address", "0.0.0.0 would publish RPC on every address of the host; name one loopback or private address")
	case !a.IsLoopback() && !a.IsPrivate():
		v.addf("deploy.rpc_address", "%s is a public address; RPC is published only on loopback or a private address (10/8, 172.16/12, 192.168/16)", a)
	}
}

// overlays checks runtime.config[].overlay: the host has one overlay file,
// so at most one config file takes it, and the image keeps that file's base
// at <path>.base, which no other entry may install.
func (v *validator) overlays() {
	first := -1
	for i, c := range v.m.Runtime.Config {
		if !c.Overlay {
			continue
		}
		p := fmt.Sprintf("runtime.config[%d].overlay", i)
		if first >= 0 {
			v.addf(p, "only one config file may take the overlay: the host has one, /etc/coinpipe/%s.conf, and runtime.config[%d] takes it", v.m.Name, first)
			continue
		}
		first = i
		for j, other := range v.m.Runtime.Config {
			if j != i && c.Path != "" && other.Path == c.Path+OverlayBaseSuffix {
				v.addf(fmt.Sprintf("runtime.config[%d].path", j), "%s is where the image keeps the base of the overlay config %s", excerpt(other.Path), excerpt(c.Path))
			}
		}
	}
}

// OverlayBaseSuffix names the image's copy of an overlay config: the
// entry point writes <path> (a link into /run/coinpipe) from <path>.base and the
// host's overlay.
const OverlayBaseSuffix = ".base"

// MaxWarning is the length of a warning in runes: one line of a README.
const MaxWarning = 300

// warnings checks the top-level warnings: one printable line each.
func (v *validator) warnings() {
	for i, w := range v.m.Warnings {
		p := fmt.Sprintf("warnings[%d]", i)
		switch n := len([]rune(w)); {
		case strings.TrimSpace(w) == "":
			v.addf(p, "is empty")
		case strings.ContainsFunc(w, unicode.IsControl):
			v.addf(p, "must be one line without control characters (a newline or tab)")
		case n > MaxWarning:
			v.addf(p, "is %d characters; keep a warning to one line of at most %d and put the details in %s", n, MaxWarning, SourcesFile)
		}
	}
}

// argv checks a command line whose first word is an installed binary or an
// absolute path.
func (v *validator) argv(p string, argv []string, binaries map[string]bool, required bool) {
	if len(argv) == 0 {
		if required {
			v.addf(p, "is required: the daemon's command line")
		}
		return
	}
	if first := argv[0]; !path.IsAbs(first) && !binaries[first] {
		v.addf(p+"[0]", "%q is not one of release.binaries (%s) nor an absolute path", excerpt(first), strings.Join(sortedKeys(binaries), ", "))
	}
}

func (v *validator) ports(ports map[string][]Port) {
	seen := map[Port]string{}
	for _, name := range sortedKeys(ports) {
		if !portNamePattern.MatchString(name) {
			v.addf(join("runtime.ports", name), "%q must be a lower-case name such as rpc or p2p", excerpt(name))
		}
		for i, port := range ports[name] {
			p := fmt.Sprintf("%s[%d]", join("runtime.ports", name), i)
			switch {
			case port.Number < 1 || port.Number > 65535:
				v.addf(p, "%d is not a port (1-65535)", port.Number)
			case seen[port] != "":
				v.addf(p, "%s is already listed under %s", port, seen[port])
			default:
				seen[port] = name
			}
		}
	}
}

func (v *validator) deploy() {
	d := v.m.Deploy
	if v.required("deploy.ecr_repository", d.ECRRepository) && (!ecrPattern.MatchString(d.ECRRepository) || len(d.ECRRepository) < 2 || len(d.ECRRepository) > 256) {
		v.addf("deploy.ecr_repository", "%q is not an ECR repository name (lower-case, '/', '.', '_', '-')", excerpt(d.ECRRepository))
	}
	const tagChars = "letters, digits, spaces and _ . : / = + - @"
	if v.required("deploy.instances.tag", d.Instances.Tag) {
		switch {
		case !tagKeyPattern.MatchString(d.Instances.Tag):
			v.addf("deploy.instances.tag", "%q must be an EC2 tag key: 1-128 %s", excerpt(d.Instances.Tag), tagChars)
		case len(d.Instances.Tag) >= 4 && strings.EqualFold(d.Instances.Tag[:4], "aws:"):
			v.addf("deploy.instances.tag", "%q starts with aws:, which AWS keeps for its own tags", excerpt(d.Instances.Tag))
		}
	}
	if v.required("deploy.instances.value", d.Instances.Value) && !tagValuePattern.MatchString(d.Instances.Value) {
		v.addf("deploy.instances.value", "%q must be an EC2 tag value: at most 256 %s", excerpt(d.Instances.Value), tagChars)
	}
	if v.m.Has("deploy.max_unavailable") && d.MaxUnavailable < 1 {
		v.addf("deploy.max_unavailable", "must be at least 1, got %d", d.MaxUnavailable)
	}
	if v.m.Has("deploy.health_timeout") && d.HealthTimeout <= 0 {
		v.addf("deploy.health_timeout", "must be more than 0")
	}
	if v.m.Has("deploy.kms_key") && !kmsKeyPattern.MatchString(d.KMSKey) {
		v.addf("deploy.kms_key", "%q is not a KMS key: a key ID, alias/NAME, or the ARN of a key or an alias (arn:aws:kms:REGION:ACCOUNT:key/ID)", excerpt(d.KMSKey))
	}
	v.rpcAddress(d.RPCAddress)
}

// committed checks the coin's release/ folder, when there is one: it must
// hold exactly signed files the manifest's URLs name for the pinned version
// (ReleaseFiles), regular files only, within the size caps. Per signer, a
// signer's files are all there or none (not every builder signs every
// release), and at least threshold signers' are. Whether they verify is
// `coinpipe verify`'s question, and the image build's.
func (v *validator) committed() {
	m := v.m
	base := filepath.ToSlash(filepath.Join(m.Dir, strings.TrimSuffix(ReleaseDir, "/")))
	have, err := m.Committed()
	if err != nil {
		v.fileError(base, err)
		return
	}
	if have == nil {
		return
	}
	want, err := m.ReleaseFiles()
	if err != nil {
		v.problems = append(v.problems, Problem{File: base, Msg: err.Error()})
		return
	}
	named := strings.Join(want, ", ")
	if named == "" {
		named = "none: mode " + m.Release.Signatures.Mode + " signs nothing"
	}
	fileProblem := func(rel, format string, args ...any) {
		v.problems = append(v.problems, Problem{File: base + "/" + rel, Msg: fmt.Sprintf(format, args...)})
	}
	var total int64
	for _, rel := range have {
		if !slices.Contains(want, rel) {
			fileProblem(rel, "is not a signed file of %s %s; release/ holds only the files coin.yaml's URLs name (%s): remove it", m.Name, excerpt(m.Version), named)
			continue
		}
		data, err := m.ReadFile(ReleaseDir + rel)
		if err != nil {
			v.fileError(base+"/"+rel, err)
			continue
		}
		total += int64(len(data))
	}
	if total > MaxReleaseTotalSize {
		v.problems = append(v.problems, Problem{File: base, Msg: fmt.Sprintf("holds %s, more than the %s limit", readcap.Size(total), readcap.Size(MaxReleaseTotalSize))})
	}
	// Which signers' files are there: per signer a signer's set is whole or
	// absent; otherwise every file is required.
	bySigner := map[string][]string{}
	for _, rel := range want {
		signer, _, ok := strings.Cut(rel, "/")
		if !ok || !m.Release.PerSigner() {
			signer = ""
		}
		bySigner[signer] = append(bySigner[signer], rel)
	}
	present := 0
	for _, signer := range sortedKeys(bySigner) {
		files := bySigner[signer]
		n := 0
		for _, rel := range files {
			if slices.Contains(have, rel) {
				n++
			}
		}
		if signer != "" && n == 0 {
			continue
		}
		present++
		for _, rel := range files {
			if !slices.Contains(have, rel) {
				fileProblem(rel, "is missing: release/ must hold every signed file coin.yaml's URLs name for %s %s (%s)", m.Name, excerpt(m.Version), named)
			}
		}
	}
	if m.Release.PerSigner() && present < m.Release.Signatures.Threshold {
		v.problems = append(v.problems, Problem{File: base, Msg: fmt.Sprintf("holds the files of %d signers, fewer than the threshold of %d", present, m.Release.Signatures.Threshold)})
	}
}

// fileError reports a coin folder file that cannot be read, as
// "<file>: <reason>".
func (v *validator) fileError(file string, err error) {
	var refused *readcap.Error
	if errors.As(err, &refused) {
		v.problems = append(v.problems, Problem{File: refused.Path, Msg: refused.Reason})
		return
	}
	v.problems = append(v.problems, Problem{File: file, Msg: err.Error()})
}

// url checks an https URL template whose only placeholders are {version}
// and, where allowed, {signer}.
func (v *validator) url(p, raw string, signerAllowed bool) bool {
	if !v.required(p, raw) {
		return false
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		v.addf(p, "%q must not contain spaces or control characters; percent-encode a space as %%20", excerpt(raw))
		return false
	}
	for _, ph := range placeholderPattern.FindAllString(raw, -1) {
		if ph != VersionPlaceholder && (ph != SignerPlaceholder || !signerAllowed) {
			v.addf(p, "unknown placeholder %s", excerpt(ph))
			return false
		}
	}
	u, err := url.Parse(strings.NewReplacer(VersionPlaceholder, "1", SignerPlaceholder, "s").Replace(raw))
	switch {
	case err == nil && u.User != nil:
		// The URL is not quoted: it holds the credentials.
		v.addf(p, "must not hold credentials (user:password@ before the host): pinned URLs are public")
	case err != nil || u.Scheme != "https" || u.Host == "":
		v.addf(p, "%q must be an absolute https:// URL with a host", excerpt(raw))
	case strings.Contains(raw, "#"):
		v.addf(p, "%q must not have a #fragment", excerpt(raw))
	case !urlPattern.MatchString(raw):
		v.addf(p, "%q may hold only a host name, an optional port, and letters, digits and - . _ ~ %% / : @ + = & ? , after it; percent-encode anything else", excerpt(raw))
	default:
		return true
	}
	return false
}

// systemDirs are folders of the base image a data dir may not be, hold or
// be inside of: chowning or mounting a volume over them breaks the system.
var systemDirs = []string{"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var/lock", "/var/run", "/var/tmp"}

// dataDir checks data_dir is a dedicated folder: at least two levels deep
// (so never /, /var, /home, /node or /srv themselves) and not a system
// folder or under one.
func (v *validator) dataDir(dir string) bool {
	for _, sys := range systemDirs {
		if dir == sys || strings.HasPrefix(dir, sys+"/") {
			v.addf("runtime.data_dir", "%s is under %s, a system folder; use a folder of its own such as %s/data", excerpt(dir), sys, HomeDir)
			return false
		}
	}
	if strings.Count(dir, "/") < 2 {
		v.addf("runtime.data_dir", "%s must be a folder of its own at least two levels deep, such as %s/data or /var/lib/%s", excerpt(dir), HomeDir, v.m.Name)
		return false
	}
	return true
}

func (v *validator) absPath(p, value string) bool {
	if !path.IsAbs(value) || path.Clean(value) != value || value != "/" && !safePathPattern.MatchString(value[1:]) {
		v.addf(p, "%q must be a clean absolute path of letters, digits, '.', '_', '+' and '-'", excerpt(value))
		return false
	}
	return true
}

// coinFile checks a path names a regular file under the coin folder's dir
// (keys/ or files/), inside the folder and within its size cap, and returns
// its content.
func (v *validator) coinFile(p, rel, dir string) ([]byte, bool) {
	clean := path.Clean(rel)
	if path.IsAbs(rel) || !strings.HasPrefix(clean, dir) || !safePathPattern.MatchString(clean) {
		v.addf(p, "%q must be a path under %s of letters, digits, '.', '_', '+' and '-'", excerpt(rel), dir)
		return nil, false
	}
	data, err := v.m.ReadFile(clean)
	if err != nil {
		v.addf(p, "%v", err)
		return nil, false
	}
	return data, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
