package cli

import (
	"cmp"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestPackageMap: docs/architecture.md lists every package, and only
// those: the map a new engineer reads first stays true.
func TestPackageMap(t *testing.T) {
	out, err := exec.Command("go", "list", "github.com/tcpdash/tcpdash/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var want []string
	for _, p := range strings.Fields(string(out)) {
		p = strings.TrimPrefix(strings.TrimPrefix(p, "github.com/tcpdash/tcpdash"), "/")
		want = append(want, cmp.Or(p, "."))
	}
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Package map")
	if !ok {
		t.Fatal("docs/architecture.md has no Package map section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var got []string
	for _, m := range regexp.MustCompile("(?m)^- `([^`]+)` — ").FindAllStringSubmatch(section, -1) {
		got = append(got, m[1])
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the package map lists\n  %v\ngo list has\n  %v", got, want)
	}
}

// TestReadmeLinks: the README stays a front door (at most 400 lines) and
// every document it links to exists; so does every link between docs.
func TestReadmeLinks(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n > 400 {
		t.Errorf("README.md has %d lines, want at most 400: the rest belongs under docs/", n)
	}
	link := regexp.MustCompile(`\]\(((?:docs/)?[a-z-]+\.md)(?:#[^)]*)?\)`)
	check := func(from string, text []byte, dir string) {
		for _, m := range link.FindAllSubmatch(text, -1) {
			if _, err := os.Stat(dir + string(m[1])); err != nil {
				t.Errorf("%s links to %s, which does not exist", from, m[1])
			}
		}
	}
	check("README.md", readme, "../../")
	docs, _ := os.ReadDir("../../docs")
	for _, d := range docs {
		b, err := os.ReadFile("../../docs/" + d.Name())
		if err != nil {
			t.Fatal(err)
		}
		check("docs/"+d.Name(), b, "../../docs/")
	}
}

// TestReadmeScreen: the first screen the README shows is the dashboard's
// own, as its 120x40 view golden renders it, not a picture that drifts.
func TestReadmeScreen(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("../../ui/testdata/TestViewGolden/120x40.golden")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(golden), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	if want := strings.Join(lines[:32], "\n"); !strings.Contains(string(readme), "```\n"+want+"\n```") {
		t.Error("the README's first screen is not the 120x40 view golden's first 32 lines: copy them again")
	}
}

// TestTcpdashLeavesOutTheExporter: tcpdash does not link the Prometheus
// client or exporter-toolkit; their package init is most of what a start
// of tcpdash would pay above a raw dump (docs/performance.md), and only
// tcpdash-exporter needs them.
func TestTcpdashLeavesOutTheExporter(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/tcpdash/tcpdash").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		// procfs compiles regexps at init; tcpinfo reads its four
		// counter files itself.
		for _, heavy := range []string{"github.com/prometheus/client_golang", "github.com/prometheus/exporter-toolkit", "google.golang.org/protobuf", "github.com/tcpdash/tcpdash/internal/exporter", "github.com/prometheus/procfs"} {
			if p == heavy || strings.HasPrefix(p, heavy+"/") {
				t.Errorf("tcpdash links %s: its init costs every start; keep it in tcpdash-exporter", p)
			}
		}
	}
}
