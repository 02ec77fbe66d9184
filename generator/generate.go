package generator

import (
	"bytes"
	"context"
	"sync"

	"gitlab.com/coinpipe/coinpipe/internal/workpool"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// Result is what Generate did for one coin: the changes Write made (or,
// checking, the drift Check found), or why the coin failed.
type Result struct {
	Name    string
	Changes []Change
	Err     error
}

// Generate renders each manifest and writes it to outDir/<name> (with
// check, compares it instead, writing nothing), coins spread over every
// core. Results are in ms's order and the files each coin gets do not
// depend on the order coins ran in: a coin is rendered from its own
// manifest and written into its own folder. A coin that fails does not stop
// the others. Once ctx is done no further coin starts; coins already
// started finish or leave their previous output whole (Write), and
// Generate returns the context's cause with the results of the coins that
// ran (Err set to the cause for the others).
func Generate(ctx context.Context, outDir string, ms []*manifest.Manifest, opts Options, check bool) ([]Result, error) {
	return GenerateEach(ctx, outDir, ms, opts, check, nil)
}

// GenerateEach is Generate telling each coin's result to each as soon as
// that coin and every coin before it are done: in ms's order, however the
// coins ran, so a long run shows its progress and its output is the same
// every time. each is called from one goroutine at a time.
func GenerateEach(ctx context.Context, outDir string, ms []*manifest.Manifest, opts Options, check bool, each func(Result)) ([]Result, error) {
	results := make([]Result, len(ms))
	ran := make([]bool, len(ms))
	for i, m := range ms {
		results[i].Name = m.Name
	}
	var mu sync.Mutex
	finished := make([]bool, len(ms))
	told := 0
	// tell passes on the finished prefix of results.
	tell := func(i int) {
		mu.Lock()
		defer mu.Unlock()
		finished[i] = true
		for told < len(ms) && finished[told] {
			if each != nil {
				each(results[told])
			}
			told++
		}
	}
	err := workpool.Run(ctx, len(ms), func(i int) {
		defer tell(i)
		r := &results[i]
		ran[i] = true
		// The files live in buf until the coin is written or checked;
		// then the next coin renders over them.
		buf := renderBuffers.Get().(*bytes.Buffer)
		defer renderBuffers.Put(buf)
		files, err := render(ms[i], opts, buf)
		switch {
		case err != nil:
			r.Err = err
		case check:
			r.Changes, r.Err = Check(ctx, outDir, r.Name, files)
		default:
			r.Changes, r.Err = Write(ctx, outDir, r.Name, files)
		}
	})
	if err != nil {
		for i := range results {
			if !ran[i] {
				results[i].Err = err
			}
		}
	}
	return results, err
}

// renderBuffers are Generate's render buffers, about one per core.
var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
