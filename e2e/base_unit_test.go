package e2e

import "testing"

func TestMirrorFromSources(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		deb822 bool
		want   string
	}{
		{"one-line", "# comment\ndeb-src http://src.example/debian bookworm main\ndeb http://deb.debian.org/debian bookworm main\n", false, "http://deb.debian.org/debian"},
		{"one-line with options", "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\n", false, "http://mirror.example/debian"},
		{"one-line other suite only", "deb http://deb.debian.org/debian-security bookworm-security main\n", false, ""},
		{"deb822", "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n", true, "http://deb.debian.org/debian"},
		{"deb822 disabled", "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\nTypes: deb deb-src\nURIs: http://on.example/debian\nSuites: bookworm\n", true, "http://on.example/debian"},
		{"deb822 sources only", "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mirrorFromSources(tt.src, tt.deb822, "bookworm"); got != tt.want {
				t.Errorf("mirrorFromSources() = %q, want %q", got, tt.want)
			}
		})
	}
}
