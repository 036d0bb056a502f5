package ui

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestKeysDocumented: the keys tables of the README and docs/dashboard.md,
// written by hand, name every key `?` lists (KeyHelp, which the man page
// is made from): a key added to the dashboard and not to them fails here.
func TestKeysDocumented(t *testing.T) {
	tick := regexp.MustCompile("`([^`]+)`")
	for _, path := range []string{"../README.md", "../docs/dashboard.md"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// The table's first column: the keys.
		named := map[string]bool{}
		_, table, ok := strings.Cut(string(b), "| `q`, `ctrl+c` |")
		if !ok {
			t.Fatalf("%s: no keys table (its first row is `q`, `ctrl+c`)", path)
		}
		table, _, _ = strings.Cut("| `q`, `ctrl+c` |"+table, "\n\n")
		for _, row := range strings.Split(table, "\n") {
			cells := strings.Split(row, "|")
			if len(cells) < 3 {
				continue
			}
			keys := cells[1]
			for _, m := range tick.FindAllStringSubmatch(keys, -1) {
				named[m[1]] = true
			}
			if strings.Contains(keys, "`1` … `9`") {
				for _, d := range "123456789" {
					named[string(d)] = true
				}
			}
		}
		for _, kh := range KeyHelp() {
			keys := []string{kh[0]} // "/" is a key; "k/↑" two
			if kh[0] != "/" {
				keys = strings.Split(kh[0], "/")
			}
			for _, k := range keys {
				if !named[k] {
					t.Errorf("%s: the keys table does not name %q (%s)", path, k, kh[1])
				}
			}
		}
	}
}
