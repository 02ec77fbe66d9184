package push

import (
	"fmt"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"

	fakeecr "gitlab.com/coinpipe/coinpipe/internal/fake/ecr"
)

// BenchmarkPush measures, in one run against the same in-process registry
// (blobs scoped per repository, so every push to a fresh repository
// uploads everything): coinpipe's push of an OCI archive, and crane.Push
// of the same image read from the same archive (unpacked and cleaned up
// within the time, as coinpipe does it); then a re-push. Reported:
// push-ms, crane-ms, push/crane, repush-blobs (README, Performance).
func BenchmarkPush(b *testing.B) {
	// A node image's shape: a few layers, tens of MiB.
	img := fakeecr.RandomImage(b, 8<<20, 4)
	archive := fakeecr.WriteArchive(b, img, "bitcoin:31.1")

	var ours, theirs time.Duration
	var repushBlobs int
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// A fresh registry per round, and a collection before each push:
		// the in-memory registry's growing heap would otherwise make
		// whichever push comes later pay for the earlier ones' garbage.
		reg := fakeecr.NewRegistry(fakeecr.RegistryOptions{})
		srv := httptest.NewServer(reg)
		host := strings.TrimPrefix(srv.URL, "http://")
		push := func() {
			runtime.GC()
			target, err := RegistryTarget(b.Context(), fmt.Sprintf("%s/ours/n%d", host, i), authn.NewMultiKeychain())
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := Push(b.Context(), Options{Archive: archive, Target: target, Coin: "bitcoin", Tag: "31.1"}); err != nil {
				b.Fatal(err)
			}
			ours += time.Since(start)
			res, err := Push(b.Context(), Options{Archive: archive, Target: target, Coin: "bitcoin", Tag: "31.1"})
			if err != nil || res.Status != AlreadyPushed {
				b.Fatalf("re-push: %+v, %v", res, err)
			}
			repushBlobs += res.BlobsUploaded
		}
		cranePush := func() {
			runtime.GC()
			start := time.Now()
			dir, err := os.MkdirTemp("", "crane-bench-")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
			im, err := ReadArchive(b.Context(), archive, dir)
			if err != nil {
				b.Fatal(err)
			}
			if err := crane.Push(im.Image, fmt.Sprintf("%s/crane/n%d:31.1", host, i), crane.Insecure, crane.WithContext(b.Context())); err != nil {
				b.Fatal(err)
			}
			// The unpacked layout goes, as coinpipe's does, within the time.
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
			theirs += time.Since(start)
		}
		// Alternate the order so neither always runs on a warmer cache.
		if i%2 == 0 {
			push()
			cranePush()
		} else {
			cranePush()
			push()
		}
		srv.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Milliseconds())/n, "push-ms")
	b.ReportMetric(float64(theirs.Milliseconds())/n, "crane-ms")
	b.ReportMetric(float64(ours)/float64(theirs), "push/crane")
	b.ReportMetric(float64(repushBlobs)/n, "repush-blobs")
}
