// Package manifest defines coin.yaml (format v1, docs/architecture.md §3): its Go
// types, strict loading with line numbers, validation and its JSON Schema.
//
// The yaml tags are the wire names; the desc tags feed the JSON Schema so that
// editors explain a field while people type it.
package manifest

import "fmt"

// Placeholders replaced in URLs and paths.
const (
	// VersionPlaceholder is replaced by the release version.
	VersionPlaceholder = "{version}"
	// SignerPlaceholder is replaced by a key's signer name: it makes one
	// checksums file (and signature) per signer, as Gitian and BCHN publish them.
	SignerPlaceholder = "{signer}"
)

// Signature modes (release.signatures.mode).
const (
	ModeDetached    = "detached"    // signatures.url holds detached signatures over the checksums file
	ModeClearsigned = "clearsigned" // the checksums file is itself clearsigned
	ModeArtifact    = "artifact"    // one detached signature per artifact, at <artifact url>.asc
	ModeNone        = "none"        // upstream signs nothing: only the pinned sha256 protects the build
)

// Checksum file formats (release.checksums.format).
const (
	FormatSHA256Sum    = "sha256sum"     // "<sha256>  <file>" lines (GNU coreutils)
	FormatMonero       = "monero"        // Monero's hashes.txt, both "<sha256>  <file>" and "<file>, <sha256>"
	FormatGitianAssert = "gitian-assert" // the out_manifest block of a Gitian build assert
)

// Coin is one coin.yaml.
type Coin struct {
	Name        string   `yaml:"name" desc:"[a-z0-9-]+: names the daemon repo, the image, the systemd unit and the ECR repository"`
	Description string   `yaml:"description" desc:"one line saying what the daemon is"`
	Version     string   `yaml:"version" desc:"the pinned upstream release; the watcher bumps it"`
	Upstream    Upstream `yaml:"upstream"`
	Release     Release  `yaml:"release"`
	Image       Image    `yaml:"image"`
	Runtime     Runtime  `yaml:"runtime"`
	Deploy      Deploy   `yaml:"deploy"`
	Notify      Notify   `yaml:"notify"`
	// Warnings head the daemon repository's README: what an operator must
	// know before deploying (docs/architecture.md §3).
	Warnings []string `yaml:"warnings,omitempty" desc:"optional one-line warnings (at most 300 characters each) shown at the top of the daemon repository's README, e.g. a version that must not go to mainnet; cite SOURCES.md"`
}

// Upstream says where releases are announced and which ones to follow.
type Upstream struct {
	GitHub string   `yaml:"github" desc:"owner/repo on GitHub whose releases are watched (owner: 1-39 letters, digits, -; repo: 1-100 letters, digits, . _ -)"`
	Tag    string   `yaml:"tag" desc:"tag name for a version, with {version}, e.g. v{version}"`
	Line   string   `yaml:"line,omitempty" desc:"optional version constraint such as \"~> 26.0\" to stay on one release line"`
	MinAge Duration `yaml:"min_age,omitempty" desc:"quarantine before a new release is proposed, e.g. 48h"`
}

// Release pins the upstream release: what is downloaded, what it must hash
// to, and who must have signed it.
type Release struct {
	Artifacts  map[string]Artifact `yaml:"artifacts" desc:"one entry per platform (os/arch) the image is built for"`
	Binaries   []string            `yaml:"binaries" desc:"paths inside the archive, installed to /usr/local/bin"`
	Checksums  Checksums           `yaml:"checksums,omitempty"`
	Signatures Signatures          `yaml:"signatures"`
}

// Artifact is one downloadable release archive.
type Artifact struct {
	URL    string `yaml:"url" desc:"absolute https URL with {version}: no spaces, credentials or #fragment"`
	SHA256 string `yaml:"sha256" desc:"64 lower-case hex digits, taken from the verified checksums"`
}

// Checksums is the upstream file that lists the sha256 of every artifact.
type Checksums struct {
	URL    string `yaml:"url,omitempty" desc:"absolute https URL of the checksums file; may use {version} and {signer}"`
	Format string `yaml:"format,omitempty" desc:"sha256sum | monero | gitian-assert"`
}

// Signatures says how the release is signed and which keys count.
type Signatures struct {
	Mode      string `yaml:"mode" desc:"detached | clearsigned | artifact | none"`
	URL       string `yaml:"url,omitempty" desc:"detached mode: absolute https URL of the signatures over the checksums file"`
	Threshold int    `yaml:"threshold,omitempty" desc:"how many distinct pinned keys must have signed"`
	Keys      []Key  `yaml:"keys,omitempty"`
}

// Key is one pinned public key.
type Key struct {
	File        string `yaml:"file" desc:"path under keys/ of the armored public key: a regular file in the coin's folder, not a link, at most 1 MiB"`
	Fingerprint string `yaml:"fingerprint" desc:"40 hex digits: the primary key's fingerprint"`
	Signer      string `yaml:"signer,omitempty" desc:"the name that replaces {signer} in per-signer checksum URLs"`
}

// Image describes the container image.
type Image struct {
	Base     string   `yaml:"base" desc:"base image, always pinned by digest: name[:tag]@sha256:<64 hex>"`
	Packages []string `yaml:"packages,omitempty" desc:"extra Debian packages installed in the runtime image"`
	// DebianSnapshot pins the runtime stage's packages to the Debian archive
	// as it was then, so one commit builds the same image on any day.
	DebianSnapshot string `yaml:"debian_snapshot,omitempty" desc:"snapshot.debian.org timestamp (UTC, YYYYMMDDTHHMMSSZ) the runtime image's packages are installed from; required when it installs any (image.packages or runtime.snapshot)"`
	User           string `yaml:"user" desc:"the non-root user the daemon runs as"`
	UID            int    `yaml:"uid" desc:"fixed uid and gid, so host volumes keep their owner"`
	// Revision numbers rebuilds of one version (a base-image refresh, a
	// config change), so each ships under a tag of its own (ImageTag).
	Revision int `yaml:"revision,omitempty" desc:"optional build revision of this version, at least 1 (default): the image tag is the version for 1 and <version>-<revision> above it (31.1, 31.1-2); bump it to ship a rebuild of the same version; a version bump resets it"`
}

// Runtime describes how the daemon runs.
type Runtime struct {
	Command     []string          `yaml:"command" desc:"the daemon's argv"`
	DataDir     string            `yaml:"data_dir" desc:"absolute path of the data directory (a volume): a folder of its own, at least two levels deep, not under /bin, /boot, /dev, /etc, /lib*, /proc, /root, /run, /sbin, /sys, /tmp, /usr, /var/lock, /var/run, /var/tmp"`
	Config      []ConfigFile      `yaml:"config,omitempty"`
	Ports       map[string][]Port `yaml:"ports,omitempty" desc:"named groups of ports, TCP unless written N/udp, e.g. rpc: [8332], p2p: [30303, 30303/udp]"`
	StopSignal  string            `yaml:"stop_signal,omitempty" desc:"the signal that stops the daemon cleanly: SIGTERM (default) or SIGINT"`
	StopTimeout Duration          `yaml:"stop_timeout" desc:"how long a stop may take before the daemon is killed"`
	Height      []string          `yaml:"height,omitempty" desc:"argv that prints the block height, used by health checks"`
	StallAfter  Duration          `yaml:"stall_after,omitempty" desc:"with height: the node is unhealthy when its height has not moved for this long (whole seconds, default 1h)"`
	Snapshot    bool              `yaml:"snapshot,omitempty" desc:"the entry point may seed an empty data dir from SNAPSHOT_URL"`
	Memory      string            `yaml:"memory,omitempty" desc:"optional docker memory limit of the container: a whole number of MiB or GiB, e.g. 512m or 8g (at least 6m)"`
}

// ConfigFile is a file from the coin's files/ folder installed in the image.
type ConfigFile struct {
	File string `yaml:"file" desc:"path under files/ in the coin's folder: a regular file, not a link, at most 1 MiB"`
	Path string `yaml:"path" desc:"absolute path in the image, under /node/ or /etc/<name>/ and outside data_dir"`
	// Overlay: the image keeps the file at <path>.base and the entry point
	// writes base + the host's overlay to /run/coinpipe (docs/architecture.md §4).
	Overlay bool `yaml:"overlay,omitempty" desc:"key=value config only: the host's /etc/coinpipe/<name>.conf (per-host settings, secrets such as rpcauth) is appended to this file at container start; at most one config file"`
}

// Deploy says where the image goes and how it is rolled out.
type Deploy struct {
	ECRRepository  string    `yaml:"ecr_repository" desc:"ECR repository name"`
	KMSKey         string    `yaml:"kms_key,omitempty" desc:"optional KMS key (ARN, key ID, alias/NAME or alias ARN) that push encrypts the ECR repository with when it creates it; AES256 when left out"`
	Instances      Instances `yaml:"instances"`
	MaxUnavailable int       `yaml:"max_unavailable,omitempty" desc:"hosts updated at once"`
	HealthTimeout  Duration  `yaml:"health_timeout,omitempty" desc:"how long a host may take to become healthy"`
	Auto           bool      `yaml:"auto,omitempty" desc:"roll out without a manual step"`
	RPCAddress     string    `yaml:"rpc_address,omitempty" desc:"host IPv4 address every port outside the p2p group is published on: loopback or private (RFC 1918), default 127.0.0.1"`
}

// Instances selects the hosts by EC2 tag.
type Instances struct {
	Tag   string `yaml:"tag" desc:"EC2 tag key: 1-128 letters, digits, spaces and _ . : / = + - @, not aws:..."`
	Value string `yaml:"value" desc:"EC2 tag value: up to 256 letters, digits, spaces and _ . : / = + - @"`
}

// Notify says where people are told.
type Notify struct {
	SlackChannel string `yaml:"slack_channel,omitempty" desc:"Slack channel, e.g. #coin-nodes"`
}

// Port is a container port: 8332 (TCP) or "30303/udp" in coin.yaml.
type Port struct {
	Number   int
	Protocol string // "tcp" or "udp"
}

// String is the port as docker writes it: 8332 for TCP, 30303/udp.
func (p Port) String() string {
	if p.Protocol == "udp" {
		return fmt.Sprintf("%d/udp", p.Number)
	}
	return fmt.Sprint(p.Number)
}
