package generator

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"gitlab.com/coinpipe/coinpipe/manifest"
)

// data is what the templates see: the manifest with {version} resolved and
// everything precomputed, so templates stay free of logic.
type data struct {
	Name        string
	Description string
	Version     string
	Tag         string // the image tag: manifest.ImageTag, what push, the unit and rollout use
	ManifestRef string // coins/<coin>/coin.yaml, named in "generated from" headers
	EnvVersion  string // BITCOIN_VERSION
	Source      string // https://github.com/<owner>/<repo>
	Revision    string // the upstream tag of this version
	Base        string
	Artifacts   []artifactData
	Binaries    []binaryData
	Checksums   checksumsData
	Signatures  signaturesData
	// RuntimePackages are the manifest's packages plus what the entry point
	// needs to fetch and unpack a snapshot.
	RuntimePackages []string
	// DebianSnapshot is the snapshot.debian.org time they are installed
	// from (image.debian_snapshot): the same versions on any day.
	DebianSnapshot string
	User           string
	UID            int
	Command        []string
	DataDir        string
	Config         []manifest.ConfigFile
	Ports          []portData
	StopSignal     string
	StopSeconds    int64
	// StopSecondsPlusMargin is systemd's stop timeout: docker's plus a minute.
	StopSecondsPlusMargin int64
	Height                []string
	StallAfter            string // coinpipe-health: how long the height may stand still
	StallSeconds          int64
	Snapshot              bool
	ECR                   string
	// The unit (docs/architecture.md §9): the optional docker memory
	// limit, the host address of every port outside p2p, and the health
	// check's grace period (twice stop_timeout, at least 5 minutes: a
	// restart may first have to replay what a slow stop left).
	Memory             string
	RPCAddress         string
	HealthStartSeconds int64
	CI                 ciData
	// Committed are the signed release files the coin commits under
	// release/, relative to it (manifest.Committed); none: downloaded.
	Committed []string
	// OverlayConfig is the config file the entry point assembles from its
	// base and the host's overlay; nil when no config takes the overlay.
	OverlayConfig *overlayData
	// OverlayMount is where node@.service mounts the host's
	// /etc/coinpipe/<coin>.conf, read-only.
	OverlayMount string
	// RunDir is the tmpfs the unit mounts (and the image holds, owned by
	// the uid, for a plain docker run): assembled configs, health state.
	RunDir string
	// Warnings head the README: the manifest's, then mode none's own.
	Warnings []string
	// HasSources: the coin's SOURCES.md is copied into the repository.
	HasSources bool
	// OverlayBaseSuffix names the image's copy of an overlay config.
	OverlayBaseSuffix string
}

type overlayData struct {
	Path string // where the daemon reads it: a link to Run
	Base string // the image's copy of the coin's file, <Path>.base
	Run  string // written at each start, mode 0600: <RunDir>/<base name>
}

type artifactData struct {
	Platform string // linux/amd64
	Arch     string // amd64: BuildKit's TARGETARCH (+ TARGETVARIANT for arm)
	URL      string
	SHA256   string
	FileName string // what the checksums file calls it
}

type binaryData struct {
	Path string // inside the archive
	Name string // installed as /usr/local/bin/<Name>
}

type checksumsData struct {
	URL    string // may contain {signer}
	Format string
}

type signaturesData struct {
	Mode      string
	URL       string // may contain {signer}
	Threshold int
	Keys      []manifest.Key
	PerSigner bool
	KeyTable  []keyRow // filled by Render: it reads the key files
}

type portData struct {
	Name string
	Port manifest.Port // prints as docker writes it: 8332, 30303/udp
	// Public ports (p2p) are published on every host address, the rest on
	// deploy.rpc_address only (loopback by default, else a private
	// address): RPC must never face the internet by accident.
	Public bool
	// Address is the host address the port is published on; empty: all.
	Address string
}

// ciData is what the daemon repository's .gitlab-ci.yml passes to
// templates/ci/daemon.yml: the include's project and ref, and its inputs.
type ciData struct {
	Project string
	Ref     string
	// AutoDeploy is the manifest's deploy.auto: the rollout job runs
	// without a manual step.
	AutoDeploy bool
}

// Paths the entry point, the Dockerfile and the unit agree on
// (docs/architecture.md §4, §9).
const (
	runDir       = "/run/coinpipe"
	overlayMount = "/etc/coinpipe/overlay.conf"
)

func newData(m *manifest.Manifest, opts Options) data {
	v := m.ExpandVersion
	d := data{
		Name:                  m.Name,
		Description:           m.Description,
		Version:               m.Version,
		Tag:                   m.ImageTag(),
		ManifestRef:           path.Join("coins", m.Name, manifest.FileName),
		EnvVersion:            strings.ToUpper(strings.ReplaceAll(m.Name, "-", "_")) + "_VERSION",
		Source:                "https://github.com/" + m.Upstream.GitHub,
		Revision:              v(m.Upstream.Tag),
		Base:                  m.Image.Base,
		Checksums:             checksumsData{URL: v(m.Release.Checksums.URL), Format: m.Release.Checksums.Format},
		RuntimePackages:       runtimePackages(m),
		DebianSnapshot:        m.Image.DebianSnapshot,
		User:                  m.Image.User,
		UID:                   m.Image.UID,
		Command:               m.Runtime.Command,
		DataDir:               m.Runtime.DataDir,
		Config:                m.Runtime.Config,
		StopSignal:            m.Runtime.StopSignal,
		StopSeconds:           m.Runtime.StopTimeout.Seconds(),
		StopSecondsPlusMargin: m.Runtime.StopTimeout.Seconds() + 60,
		Height:                m.Runtime.Height,
		StallAfter:            m.Runtime.StallAfter.String(),
		StallSeconds:          m.Runtime.StallAfter.Seconds(),
		Snapshot:              m.Runtime.Snapshot,
		ECR:                   m.Deploy.ECRRepository,
		CI:                    ciData{Project: opts.CIProject, Ref: opts.CIRef, AutoDeploy: m.Deploy.Auto},
		OverlayMount:          overlayMount,
		OverlayBaseSuffix:     manifest.OverlayBaseSuffix,
		RunDir:                runDir,
		Warnings:              warnings(m),
	}
	s := m.Release.Signatures
	d.Signatures = signaturesData{
		Mode:      s.Mode,
		URL:       v(s.URL),
		Threshold: s.Threshold,
		Keys:      s.Keys,
		PerSigner: m.Release.PerSigner(),
	}
	for _, p := range m.Release.Platforms() {
		a := m.Release.Artifacts[p]
		d.Artifacts = append(d.Artifacts, artifactData{Platform: p, Arch: targetArch(p), URL: v(a.URL), SHA256: a.SHA256, FileName: m.ArtifactFileName(p)})
	}
	for _, b := range m.Release.Binaries {
		d.Binaries = append(d.Binaries, binaryData{Path: v(b), Name: path.Base(b)})
	}
	for _, name := range sortedNames(m.Runtime.Ports) {
		for _, port := range m.Runtime.Ports[name] {
			pd := portData{Name: name, Port: port, Public: name == "p2p"}
			if !pd.Public {
				pd.Address = m.Deploy.RPCAddress
			}
			d.Ports = append(d.Ports, pd)
		}
	}
	d.Memory = m.Runtime.Memory
	d.RPCAddress = m.Deploy.RPCAddress
	d.HealthStartSeconds = max(2*d.StopSeconds, minHealthStart)
	for _, c := range m.Runtime.Config {
		if c.Overlay && d.OverlayConfig == nil {
			d.OverlayConfig = &overlayData{Path: c.Path, Base: c.Path + manifest.OverlayBaseSuffix, Run: path.Join(runDir, path.Base(c.Path))}
		}
	}
	return d
}

// minHealthStart is the shortest grace period of the container's health
// check, in seconds.
const minHealthStart = 300

// warnings are the manifest's, then the one every unsigned coin carries.
func warnings(m *manifest.Manifest) []string {
	w := append([]string(nil), m.Warnings...)
	if m.Release.Signatures.Mode == manifest.ModeNone {
		w = append(w, "Upstream signs nothing for "+m.Name+": only the sha256 pinned in coin.yaml protects this build (see Verification below).")
	}
	return w
}

// targetArch is the value of $TARGETARCH$TARGETVARIANT BuildKit and buildah
// set for a platform: linux/arm/v7 -> armv7.
func targetArch(platform string) string {
	parts := strings.Split(platform, "/")
	if len(parts) == 3 {
		return parts[1] + parts[2]
	}
	return parts[len(parts)-1]
}

func sortedNames(m map[string][]manifest.Port) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Options are the settings that are not in the manifest.
type Options struct {
	// CIProject is the toolkit's GitLab project path daemon repos include
	// templates/ci/daemon.yml from.
	CIProject string
	// CIRef is the toolkit ref (branch, tag or commit) that the include is
	// pinned to and that the conformance job installs coinpipe from.
	CIRef string
}

// DefaultOptions are the toolkit's project and its default branch: no
// release tag exists yet, and `coinpipe sync` is to pin the exact toolkit
// commit (docs/architecture.md §4).
var DefaultOptions = Options{CIProject: "coinpipe/coinpipe", CIRef: "main"}

func (o Options) validate() error {
	if o.CIProject == "" || o.CIRef == "" {
		return fmt.Errorf("rendering needs the toolkit's CI project and ref")
	}
	return nil
}

// snapshotPackages fetch and unpack snapshots in the entry point (GNU tar
// detects gzip itself; xz and zstd need their tools).
var snapshotPackages = []string{"ca-certificates", "curl", "xz-utils", "zstd"}

func runtimePackages(m *manifest.Manifest) []string {
	pkgs := append([]string(nil), m.Image.Packages...)
	if m.Runtime.Snapshot {
		pkgs = append(pkgs, snapshotPackages...)
	}
	sort.Strings(pkgs)
	return slices.Compact(pkgs)
}
