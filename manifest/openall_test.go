package manifest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// OpenAll opens coins on every core but reports as a sequential run
// would: every manifest's problems, in the folders' order.
func TestOpenAllKeepsFolderOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	coins := t.TempDir()
	var dirs []string
	for _, name := range []string{"zz", "aa", "good", "mm"} {
		dir := filepath.Join(coins, name)
		if err := os.CopyFS(dir, os.DirFS("../generator/testdata/coins/monero-clearsigned")); err != nil {
			t.Fatal(err)
		}
		if name == "good" {
			src, _ := os.ReadFile(filepath.Join(dir, FileName))
			os.WriteFile(filepath.Join(dir, FileName), []byte(strings.Replace(string(src), "name: monero-clearsigned", "name: good", 1)), 0o644)
		}
		dirs = append(dirs, dir)
	}
	_, err := OpenAll(t.Context(), dirs)
	var want []string
	for _, name := range []string{"zz", "aa", "mm"} {
		want = append(want, filepath.Join(coins, name, FileName)+`:3:7: name: "monero-clearsigned" does not match its folder "`+name+`"`)
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("OpenAll:\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
	ms, err := OpenAll(t.Context(), dirs[2:3])
	if err != nil || len(ms) != 1 || ms[0].Name != "good" {
		t.Errorf("OpenAll of a valid coin: %v, %v", ms, err)
	}
}
