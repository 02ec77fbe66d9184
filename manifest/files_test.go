package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/readcap"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// copyCoin copies the fixture's coin folder to <tmp>/coins/monero and makes
// <tmp> the working directory, so that messages read as users see them.
func copyCoin(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	testenv.CopyTree(t, "testdata/coins/monero", filepath.Join(root, "coins", "monero"))
	t.Chdir(root)
	return "coins/monero"
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// replaceWithLink turns name into a symbolic link to target.
func replaceWithLink(t *testing.T, name, target string) {
	t.Helper()
	must(t, os.RemoveAll(name))
	must(t, os.Symlink(target, name))
}

// A secret in the environment, to prove a linked file's content is not printed.
const secretEnv = "COINPIPE_TEST_SECRET"

func TestCoinFolderFiles(t *testing.T) {
	const link = "is a symbolic link; coinpipe reads only regular files inside the coin folder"
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"config file linked to the job's environment", func(t *testing.T, dir string) {
			replaceWithLink(t, dir+"/files/monerod.conf", "/proc/self/environ")
		}, []string{"coins/monero/coin.yaml:36:14: runtime.config[0].file: coins/monero/files/monerod.conf " + link}},
		{"config file linked inside the folder", func(t *testing.T, dir string) {
			replaceWithLink(t, dir+"/files/monerod.conf", "../keys/binaryfate.asc")
		}, []string{"coins/monero/coin.yaml:36:14: runtime.config[0].file: coins/monero/files/monerod.conf " + link}},
		{"files folder linked elsewhere", func(t *testing.T, dir string) {
			other := t.TempDir()
			must(t, os.WriteFile(filepath.Join(other, "monerod.conf"), []byte("x=1\n"), 0o644))
			replaceWithLink(t, dir+"/files", other)
		}, []string{"coins/monero/coin.yaml:36:14: runtime.config[0].file: coins/monero/files " + link}},
		{"key file linked", func(t *testing.T, dir string) {
			abs, err := filepath.Abs(dir + "/keys/binaryfate.asc")
			must(t, err)
			must(t, os.Rename(abs, abs+".real"))
			must(t, os.Symlink(abs+".real", abs))
		}, []string{"coins/monero/coin.yaml:24:15: release.signatures.keys[0].file: coins/monero/keys/binaryfate.asc " + link}},
		{"key file that is a folder", func(t *testing.T, dir string) {
			must(t, os.Remove(dir+"/keys/fluffypony.asc"))
			must(t, os.Mkdir(dir+"/keys/fluffypony.asc", 0o755))
		}, []string{"coins/monero/coin.yaml:26:15: release.signatures.keys[1].file: coins/monero/keys/fluffypony.asc is a directory, not a regular file; name a regular file"}},
		{"config file that is a named pipe", func(t *testing.T, dir string) {
			must(t, os.Remove(dir+"/files/monerod.conf"))
			must(t, syscall.Mkfifo(dir+"/files/monerod.conf", 0o644))
		}, []string{"coins/monero/coin.yaml:36:14: runtime.config[0].file: coins/monero/files/monerod.conf is a named pipe (FIFO), not a regular file; name a regular file"}},
		{"config file over the cap", func(t *testing.T, dir string) {
			must(t, os.Truncate(dir+"/files/monerod.conf", 2<<20))
		}, []string{"coins/monero/coin.yaml:36:14: runtime.config[0].file: coins/monero/files/monerod.conf is 2 MiB, more than the 1 MiB limit"}},
		{"key file over the cap", func(t *testing.T, dir string) {
			must(t, os.Truncate(dir+"/keys/binaryfate.asc", 1<<20+1))
		}, []string{"coins/monero/coin.yaml:24:15: release.signatures.keys[0].file: coins/monero/keys/binaryfate.asc is 1048577 bytes, more than the 1 MiB (1048576 bytes) limit"}},
		{"coin.yaml linked to the job's environment", func(t *testing.T, dir string) {
			replaceWithLink(t, dir+"/coin.yaml", "/proc/self/environ")
		}, []string{"coins/monero/coin.yaml: " + link}},
		{"coin.yaml over the cap", func(t *testing.T, dir string) {
			f, err := os.OpenFile(dir+"/coin.yaml", os.O_APPEND|os.O_WRONLY, 0)
			must(t, err)
			_, err = f.WriteString("# " + strings.Repeat("x", MaxManifestSize) + "\n")
			must(t, err)
			must(t, f.Close())
		}, []string{"coins/monero/coin.yaml: is 257.4 KiB, more than the 256 KiB limit"}},
		{"coin.yaml that is a folder", func(t *testing.T, dir string) {
			must(t, os.Remove(dir+"/coin.yaml"))
			must(t, os.Mkdir(dir+"/coin.yaml", 0o755))
		}, []string{"coins/monero/coin.yaml: is a directory, not a regular file; name a regular file"}},
		{"coin folder linked outside coins/", func(t *testing.T, dir string) {
			outside := filepath.Join(t.TempDir(), "monero")
			must(t, os.Rename(dir, outside))
			must(t, os.Symlink(outside, dir))
		}, []string{"coins/monero: the coin folder is a symbolic link; a coin folder must be a real folder inside the coins folder"}},
		{"coin.yml", func(t *testing.T, dir string) {
			must(t, os.Rename(dir+"/coin.yaml", dir+"/coin.yml"))
		}, []string{"coins/monero/coin.yml: coinpipe reads only coin.yaml; rename this file to coin.yaml"}},
		{"Coin.yaml", func(t *testing.T, dir string) {
			must(t, os.Rename(dir+"/coin.yaml", dir+"/Coin.yaml"))
		}, []string{"coins/monero/Coin.yaml: coinpipe reads only coin.yaml; rename this file to coin.yaml"}},
		{"coin.YAML", func(t *testing.T, dir string) {
			must(t, os.Rename(dir+"/coin.yaml", dir+"/coin.YAML"))
		}, []string{"coins/monero/coin.YAML: coinpipe reads only coin.yaml; rename this file to coin.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(secretEnv, "hunter2-do-not-print")
			dir := copyCoin(t)
			tt.setup(t, dir)
			// Discover lists the folder (a misnamed manifest or a linked
			// folder must not vanish silently) and Open refuses it.
			dirs, err := Discover("coins", nil)
			if err != nil || len(dirs) != 1 || dirs[0] != dir {
				t.Fatalf("Discover = %v, %v; want [%s]", dirs, err, dir)
			}
			_, err = Open(dir)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Open error = %v (%T), want Problems", err, err)
			}
			got := make([]string, len(ps))
			for i, p := range ps {
				got[i] = p.String()
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the message prints the linked file's content: %s", err)
			}
		})
	}
}

// A folder with no manifest at all is not a coin, as before; naming it is
// an unknown coin.
func TestDiscoverSkipsFoldersWithoutManifest(t *testing.T) {
	dir := copyCoin(t)
	must(t, os.Mkdir("coins/docs", 0o755))
	must(t, os.WriteFile("coins/docs/README.md", []byte("x"), 0o644))
	dirs, err := Discover("coins", nil)
	if err != nil || len(dirs) != 1 || dirs[0] != dir {
		t.Fatalf("Discover = %v, %v; want [%s]", dirs, err, dir)
	}
	_, err = Discover("coins", []string{"docs"})
	want := `unknown coin "docs": coins/docs/coin.yaml does not exist`
	if err == nil || err.Error() != want {
		t.Fatalf("Discover(docs) error = %v, want %s", err, want)
	}
}

func TestManifestReadFile(t *testing.T) {
	dir := copyCoin(t)
	m, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink("/etc/hostname", dir+"/files/host.conf"))
	tests := []struct{ rel, want string }{
		{"files/monerod.conf", ""},
		{"keys/binaryfate.asc", ""},
		{"/etc/hostname", "/etc/hostname must be a clean path relative to the coin folder"},
		{"files/../../bitcoin/coin.yaml", "files/../../bitcoin/coin.yaml must be a clean path relative to the coin folder"},
		{"../monero/files/monerod.conf", "../monero/files/monerod.conf must be a clean path relative to the coin folder"},
		{"coin.yaml", "coin.yaml is outside keys/, files/ and release/, the only folders coinpipe reads in a coin folder"},
		{"files/host.conf", "coins/monero/files/host.conf is a symbolic link; coinpipe reads only regular files inside the coin folder"},
		{"files/nope.conf", "coins/monero/files/nope.conf does not exist"},
		{"keys/none/x.asc", "coins/monero/keys/none does not exist"},
	}
	read := map[string][]byte{}
	for _, tt := range tests {
		data, err := m.ReadFile(tt.rel)
		switch {
		case tt.want == "" && (err != nil || len(data) == 0):
			t.Errorf("ReadFile(%s) = %d bytes, %v", tt.rel, len(data), err)
		case tt.want == "":
			read[tt.rel] = data
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("ReadFile(%s) error = %v\nwant %s", tt.rel, err, tt.want)
		case tt.want != "":
			var re *readcap.Error
			if !errors.As(err, &re) || !re.InvalidInput() {
				t.Errorf("ReadFile(%s) error %T is not invalid input", tt.rel, err)
			}
		}
	}
	// Files are read through one reused buffer: what an earlier call
	// returned must still be that file once others were read.
	for rel, data := range read {
		want, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, want) {
			t.Errorf("ReadFile(%s) changed after later reads: %d bytes, want %d", rel, len(data), len(want))
		}
	}
	// A second coin with the same files reads its own folder: equal
	// bytes, and a change in one coin's copy is not the other's.
	other := filepath.Join(t.TempDir(), "coins", "monero")
	testenv.CopyTree(t, dir, other)
	must(t, os.Remove(other+"/files/host.conf")) // the link made above
	must(t, os.WriteFile(other+"/files/monerod.conf", []byte("changed=1\n"), 0o644))
	m2, err := Open(other)
	if err != nil {
		t.Fatal(err)
	}
	if key, err := m2.ReadFile("keys/binaryfate.asc"); err != nil || !bytes.Equal(key, read["keys/binaryfate.asc"]) {
		t.Errorf("the same key in another coin: %d bytes, %v", len(key), err)
	}
	if conf, err := m2.ReadFile("files/monerod.conf"); err != nil || string(conf) != "changed=1\n" {
		t.Errorf("the other coin's changed config read as %q, %v", conf, err)
	}
}

// SOURCES.md is optional, copied into the daemon repository when present,
// and read like every coin file: never through a link, never a folder.
func TestManifestSources(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		want    string // content; "" without a problem means no SOURCES.md
		problem string // Open's error, "" for none
	}{
		{"absent", func(*testing.T, string) {}, "", ""},
		{"a regular file", func(t *testing.T, dir string) {
			must(t, os.WriteFile(dir+"/SOURCES.md", []byte("# monero: sources\n"), 0o644))
		}, "# monero: sources\n", ""},
		{"a link", func(t *testing.T, dir string) {
			must(t, os.Symlink("/etc/hostname", dir+"/SOURCES.md"))
		}, "", "coins/monero/SOURCES.md: is a symbolic link; coinpipe reads only regular files inside the coin folder"},
		{"a folder", func(t *testing.T, dir string) {
			must(t, os.Mkdir(dir+"/SOURCES.md", 0o755))
		}, "", "coins/monero/SOURCES.md: is a directory, not a regular file; name a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyCoin(t)
			tt.setup(t, dir)
			// Open validates: a bad SOURCES.md is a manifest problem.
			m, err := Open(dir)
			if tt.problem != "" {
				if err == nil || err.Error() != tt.problem {
					t.Fatalf("Open error = %v\nwant %s", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := m.Sources(); err != nil || string(got) != tt.want {
				t.Errorf("Sources() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// Paths the new rules allow.
func TestAllowedPaths(t *testing.T) {
	for _, r := range [][2]string{
		{"path: /node/monerod.conf}", "path: /etc/monero/monerod.conf}"},
		{"data_dir: /node/data", "data_dir: /var/lib/monero"},
		{"data_dir: /node/data", "data_dir: /srv/monero/chain"},
		{"url: https://downloads.getmonero.org/cli/", "url: https://downloads.getmonero.org:443/cli/x%20y/"},
		{"github: monero-project/monero", "github: monero-project/monero.js"},
		{"value: nodes/monero", `value: "nodes/monero main@eu-west-1:a=b+c_d"`},
	} {
		if got := check(strings.Replace(readFixture(t), r[0], r[1], 1)); len(got) != 0 {
			t.Errorf("%s: %s", r[1], strings.Join(got, "\n"))
		}
	}
}

// The indentation check stays quiet on every valid manifest.
func TestMisindentedQuietOnValidManifests(t *testing.T) {
	files, err := filepath.Glob("../coins/*/coin.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no shipped coins: %v", err)
	}
	for _, f := range append(files, fixture) {
		src, err := os.ReadFile(f)
		must(t, err)
		if l, c, msg, ok := misindented(src, 1); ok {
			t.Errorf("%s:%d:%d: %s", f, l, c, msg)
		}
	}
}
