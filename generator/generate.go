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
	results := make([]Result, len(ms))
	ran := make([]bool, len(ms))
	for i, m := range ms {
		results[i].Name = m.Name
	}
	err := workpool.Run(ctx, len(ms), func(i int) {
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
