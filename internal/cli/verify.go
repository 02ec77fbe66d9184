package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/internal/download"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

func init() { extraCommands = append(extraCommands, newVerifyCmd) }

func newVerifyCmd(e *env) *cobra.Command {
	var (
		coinsDir, dir string
		artifacts     bool
	)
	cmd := &cobra.Command{
		Use:   "verify [--coins DIR] [--dir DIR] [--artifacts] COIN",
		Short: "Verify a coin's pinned release against upstream's signed checksums",
		Long: `verify checks the release pinned in coins/<COIN>/coin.yaml:

  1. it downloads the checksums and signatures named by release.checksums and
     release.signatures (one of each per signer when the URLs use {signer});
  2. it verifies the signatures against the pinned keys, and that at least
     release.signatures.threshold distinct pinned keys signed;
  3. it checks that every pinned artifact sha256 is what the verified
     checksums say for the artifact's file name (the last part of its URL).

With --artifacts it also downloads every artifact and checks its sha256. In
artifact mode (one <url>.asc per artifact) the artifacts are always downloaded:
their signatures cover them directly. In mode none upstream signs nothing and
only --artifacts can check anything.

With --dir nothing is downloaded: each file is read from DIR/<file name>, or
DIR/<signer>/<file name> for per-signer URLs. Downloads honour
COINPIPE_DOWNLOAD_MIRROR (https://host/path is fetched from $MIRROR/host/path).

Output: one line per signature (as verify-signature prints them), one line
per artifact, then a verdict line. Exit codes: 0 verified, 3 verification
failed, 2 invalid manifest or flags, 1 download or I/O failure.`,
		Example: `  coinpipe verify bitcoin
  coinpipe verify --artifacts monero        # also download and hash the archives
  coinpipe verify --dir ./release dogecoin  # files fetched beforehand, no network
  COINPIPE_DOWNLOAD_MIRROR=http://mirror.internal coinpipe verify bitcoin`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := loadCoins(coinsDir, args)
			if err != nil {
				return err
			}
			src := &releaseSource{dir: dir, client: &download.Client{Mirror: os.Getenv(download.MirrorEnv), Log: e.log}, e: e}
			return verifyRelease(cmd.Context(), e, ms[0], src, artifacts)
		},
	}
	cmd.Flags().StringVar(&coinsDir, "coins", "coins", "folder holding one folder per coin")
	cmd.Flags().StringVar(&dir, "dir", "", "read release files from this folder instead of downloading them")
	cmd.Flags().BoolVar(&artifacts, "artifacts", false, "also download every artifact and check its sha256")
	return cmd
}

// pinnedKey is one key of release.signatures.keys, read from its file.
type pinnedKey struct {
	key    *verify.Key
	signer string
}

func readPinnedKeys(m *manifest.Manifest) ([]pinnedKey, error) {
	var out []pinnedKey
	for _, k := range m.Release.Signatures.Keys {
		all, err := verify.ReadKeyFile(filepath.Join(m.Dir, filepath.FromSlash(k.File)))
		if err != nil {
			return nil, err
		}
		sel, err := verify.SelectKeys(all, k.Fingerprint)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.File, err)
		}
		out = append(out, pinnedKey{key: sel[0], signer: k.Signer})
	}
	return out, nil
}

// attestation is one verified checksums file and the pinned keys that signed it.
type attestation struct {
	signers []string
	sums    *verify.Checksums
}

func verifyRelease(ctx context.Context, e *env, m *manifest.Manifest, src *releaseSource, withArtifacts bool) error {
	sig := m.Release.Signatures
	var summary string
	switch sig.Mode {
	case manifest.ModeNone:
		for _, p := range platforms(m) {
			fmt.Fprintf(e.stdout, "unsigned\t%s\t%s\tupstream signs nothing: only the pinned sha256 protects the build\n", p, artifactName(m, p))
		}
		summary = "no signatures to check"
	case manifest.ModeArtifact:
		keys, err := readPinnedKeys(m)
		if err != nil {
			return err
		}
		if err := verifyArtifactSignatures(ctx, e, m, src, keys); err != nil {
			return err
		}
		withArtifacts = false // done: every artifact was downloaded and hashed
		summary = fmt.Sprintf("every artifact signed by at least %d pinned keys", sig.Threshold)
	default:
		keys, err := readPinnedKeys(m)
		if err != nil {
			return err
		}
		atts, verdict, err := verifyChecksums(ctx, e, m, src, keys)
		if err != nil {
			return err
		}
		if err := checkPinnedDigests(e, m, atts); err != nil {
			return err
		}
		summary = fmt.Sprintf("%d pinned keys signed (%d required)", len(verdict.Signers), sig.Threshold)
	}
	if withArtifacts {
		if err := hashArtifacts(ctx, e, m, src); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "OK: %s %s verified: %s\n", m.Name, m.Version, summary)
	return nil
}

// verifyChecksums verifies the checksums file(s) of detached and
// clearsigned modes. Per-signer URLs give one file (and signature) per
// signer: each is verified on its own, then the verdicts are combined, so
// each pinned key still counts once.
func verifyChecksums(ctx context.Context, e *env, m *manifest.Manifest, src *releaseSource, keys []pinnedKey) ([]attestation, *verify.Verdict, error) {
	r := m.Release
	all := make([]*verify.Key, len(keys))
	for i, k := range keys {
		all[i] = k.key
	}
	signers := []string{""}
	perSigner := strings.Contains(r.Checksums.URL, manifest.SignerPlaceholder) || strings.Contains(r.Signatures.URL, manifest.SignerPlaceholder)
	threshold := r.Signatures.Threshold
	if perSigner {
		signers = signers[:0]
		for _, k := range keys {
			signers = append(signers, k.signer)
		}
		threshold = 1
	}
	var (
		atts     []attestation
		verdicts []*verify.Verdict
	)
	for _, signer := range signers {
		text, verdict, err := verifySignedFile(ctx, m, src, signer, &verify.Verifier{Keys: all, Threshold: threshold})
		var f *verify.Failure
		switch {
		case perSigner && notPublished(err):
			// Not every pinned builder attests every release: the
			// threshold decides whether enough did.
			fmt.Fprintf(e.stdout, "missing\t-\t%s\t%v\n", signer, err)
			continue
		case errors.As(err, &f) && f.Verdict != nil && perSigner:
			// One signer's file failing is judged with the others below:
			// a bad signature still fails everything, a missing one may not.
			verdict = f.Verdict
		case err != nil:
			return nil, nil, reportVerdict(e, verdict, err)
		}
		verdicts = append(verdicts, verdict)
		if text == nil {
			continue
		}
		sums, err := verify.ParseChecksums(verify.Format(r.Checksums.Format), text)
		if err != nil {
			return nil, nil, err
		}
		atts = append(atts, attestation{signers: goodSigners(verdict), sums: sums})
	}
	combined, err := verify.Combine(r.Signatures.Threshold, verdicts...)
	if err != nil {
		return nil, nil, reportVerdict(e, combined, err)
	}
	printSignatures(e.stdout, combined)
	for _, w := range combined.Warnings() {
		e.log.Warn(w)
	}
	return atts, combined, nil
}

// verifySignedFile fetches and verifies one checksums file; the verified
// text is returned only when verification passed.
func verifySignedFile(ctx context.Context, m *manifest.Manifest, src *releaseSource, signer string, v *verify.Verifier) ([]byte, *verify.Verdict, error) {
	r := m.Release
	data, err := src.fetch(ctx, expand(m, r.Checksums.URL, signer), signer)
	if err != nil {
		return nil, nil, err
	}
	if r.Signatures.Mode == manifest.ModeClearsigned {
		return v.Clearsigned(data)
	}
	sigs, err := src.fetch(ctx, expand(m, r.Signatures.URL, signer), signer)
	if err != nil {
		return nil, nil, err
	}
	verdict, err := v.Detached(bytes.NewReader(data), sigs)
	if err != nil {
		return nil, verdict, err
	}
	return data, verdict, nil
}

// notPublished: the file is not there (HTTP 404, or missing from --dir).
func notPublished(err error) bool {
	var api *download.APIError
	return errors.Is(err, fs.ErrNotExist) || (errors.As(err, &api) && api.StatusCode == http.StatusNotFound)
}

func goodSigners(v *verify.Verdict) []string {
	var out []string
	for _, r := range v.Results {
		if r.Good() {
			out = append(out, r.Fingerprint)
		}
	}
	return out
}

// checkPinnedDigests checks each artifact's pinned sha256 against every
// verified checksums file that lists it: any disagreement fails, and the
// pinned keys behind the files that agree must reach the threshold.
func checkPinnedDigests(e *env, m *manifest.Manifest, atts []attestation) error {
	threshold := m.Release.Signatures.Threshold
	for _, p := range platforms(m) {
		a := m.Release.Artifacts[p]
		name := artifactName(m, p)
		vouching := map[string]bool{}
		var lookupErr error
		for _, att := range atts {
			sum, err := att.sums.Lookup(name)
			if err != nil {
				lookupErr = err
				continue
			}
			if sum != a.SHA256 {
				return &verify.Failure{Reason: fmt.Sprintf("%s (%s): coin.yaml pins sha256 %s, but checksums signed by %s say %s",
					name, p, a.SHA256, strings.Join(att.signers, ", "), sum)}
			}
			for _, s := range att.signers {
				vouching[s] = true
			}
		}
		if len(vouching) == 0 && lookupErr != nil {
			return lookupErr
		}
		if len(vouching) < threshold {
			return &verify.Failure{Reason: fmt.Sprintf("%s (%s): only %d of the %d required pinned keys signed checksums listing it", name, p, len(vouching), threshold)}
		}
		fmt.Fprintf(e.stdout, "checksum ok\t%s\t%s\t%s\n", p, name, a.SHA256)
	}
	return nil
}

// verifyArtifactSignatures handles artifact mode: each artifact has its own
// <url>.asc; the artifact is streamed once through the signature check and
// a sha256.
func verifyArtifactSignatures(ctx context.Context, e *env, m *manifest.Manifest, src *releaseSource, keys []pinnedKey) error {
	all := make([]*verify.Key, len(keys))
	for i, k := range keys {
		all[i] = k.key
	}
	v := &verify.Verifier{Keys: all, Threshold: m.Release.Signatures.Threshold}
	for _, p := range platforms(m) {
		a := m.Release.Artifacts[p]
		u := expand(m, a.URL, "")
		sigs, err := src.fetch(ctx, u+".asc", "")
		if err != nil {
			return err
		}
		var (
			verdict *verify.Verdict
			sum     string
			vErr    error
		)
		err = src.stream(ctx, u, func(r io.Reader) error {
			h := sha256.New()
			verdict, vErr = v.Detached(io.TeeReader(r, h), sigs)
			var f *verify.Failure
			if vErr != nil && !errors.As(vErr, &f) {
				return vErr // reading the artifact failed: let the download retry
			}
			sum = hex.EncodeToString(h.Sum(nil))
			return nil
		})
		if err != nil {
			return err
		}
		if err := reportVerdict(e, verdict, vErr); err != nil {
			return err
		}
		if sum != a.SHA256 {
			return &verify.Failure{Reason: fmt.Sprintf("%s (%s): downloaded sha256 %s, coin.yaml pins %s", artifactName(m, p), p, sum, a.SHA256)}
		}
		fmt.Fprintf(e.stdout, "artifact ok\t%s\t%s\t%s\n", p, artifactName(m, p), sum)
	}
	return nil
}

// hashArtifacts downloads every artifact and checks its pinned sha256.
func hashArtifacts(ctx context.Context, e *env, m *manifest.Manifest, src *releaseSource) error {
	for _, p := range platforms(m) {
		a := m.Release.Artifacts[p]
		var sum string
		err := src.stream(ctx, expand(m, a.URL, ""), func(r io.Reader) error {
			h := sha256.New()
			if _, err := io.Copy(h, r); err != nil {
				return err
			}
			sum = hex.EncodeToString(h.Sum(nil))
			return nil
		})
		if err != nil {
			return err
		}
		if sum != a.SHA256 {
			return &verify.Failure{Reason: fmt.Sprintf("%s (%s): downloaded sha256 %s, coin.yaml pins %s", artifactName(m, p), p, sum, a.SHA256)}
		}
		fmt.Fprintf(e.stdout, "artifact ok\t%s\t%s\t%s\n", p, artifactName(m, p), sum)
	}
	return nil
}

func platforms(m *manifest.Manifest) []string {
	ps := make([]string, 0, len(m.Release.Artifacts))
	for p := range m.Release.Artifacts {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

func expand(m *manifest.Manifest, raw, signer string) string {
	return strings.NewReplacer(manifest.VersionPlaceholder, m.Version, manifest.SignerPlaceholder, signer).Replace(raw)
}

// artifactName is the file name checksums list an artifact under: the last
// element of its URL's path.
func artifactName(m *manifest.Manifest, platform string) string {
	return fileName(expand(m, m.Release.Artifacts[platform].URL, ""))
}

func fileName(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return path.Base(u.Path)
	}
	return path.Base(rawURL)
}

// releaseSource reads release files from --dir, or downloads them.
type releaseSource struct {
	dir    string
	client *download.Client
	e      *env
}

// local is where --dir keeps a file: DIR/<name>, or DIR/<signer>/<name>.
func (s *releaseSource) local(rawURL, signer string) string {
	return filepath.Join(s.dir, signer, fileName(rawURL))
}

func (s *releaseSource) fetch(ctx context.Context, rawURL, signer string) ([]byte, error) {
	if s.dir == "" {
		s.e.log.Info("downloading", "url", download.Redact(rawURL))
		return s.client.Fetch(ctx, rawURL)
	}
	data, err := os.ReadFile(s.local(rawURL, signer))
	if err != nil {
		return nil, fmt.Errorf("reading %s for --dir: %w", fileName(rawURL), err)
	}
	return data, nil
}

func (s *releaseSource) stream(ctx context.Context, rawURL string, consume func(io.Reader) error) error {
	if s.dir == "" {
		s.e.log.Info("downloading", "url", download.Redact(rawURL))
		return s.client.Stream(ctx, rawURL, consume)
	}
	f, err := os.Open(s.local(rawURL, ""))
	if err != nil {
		return fmt.Errorf("reading %s for --dir: %w", fileName(rawURL), err)
	}
	defer f.Close()
	return consume(f)
}
