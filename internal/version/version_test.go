package version

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	i := Info{Version: "v0.4.0", Commit: "0123456789abcdef0123", Modified: true, Time: "2026-12-02T03:00:00Z", Go: "go1.26.0"}
	if got, want := i.String(), "tcpdash v0.4.0 (commit 0123456789ab-dirty, committed 2026-12-02T03:00:00Z, go1.26.0)"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := (Info{Version: "(devel)", Go: "go1.26.0"}).String(); !strings.Contains(got, "commit unknown") {
		t.Errorf("%q", got)
	}
	// The release's -ldflags win over what Go recorded.
	version, commit = "v9.9.9", "feedface"
	defer func() { version, commit = "", "" }()
	if g := Get(); g.Version != "v9.9.9" || g.Commit != "feedface" || g.Modified {
		t.Errorf("%+v", g)
	}
}
