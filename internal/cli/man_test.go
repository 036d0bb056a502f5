package cli

import (
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tcpdash/tcpdash/internal/netns"
)

var updateMan = flag.Bool("update", false, "rewrite docs/tcpdash.1")

// TestManPage: docs/tcpdash.1 is what the flag table makes now (the man
// page cannot drift from --help), and mandoc finds nothing wrong in it.
func TestManPage(t *testing.T) {
	const path = "../../docs/tcpdash.1"
	page := manPage()
	if *updateMan {
		if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != page {
		t.Fatalf("docs/tcpdash.1 is not what the flag table makes: go test ./internal/cli -run TestManPage -update (%v)", err)
	}
	for _, want := range []string{`\-\-netns`, "container:ID", ".SH KEYS", ".SH EXIT STATUS", ".SH TUNE OPTIONS"} {
		if !strings.Contains(page, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
	_, err = exec.LookPath("mandoc")
	netns.Require(t, err == nil, "mandoc is not installed (Debian's mandoc)")
	out, err := exec.Command("mandoc", "-T", "lint", "-W", "warning", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("mandoc -T lint: %v\n%s", err, out)
	}
}
