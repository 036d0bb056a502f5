package cli

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// TestVocabulary: every command registers exactly the flags the vocabulary
// gives it (parsing checks that first), and its usage, made from the
// vocabulary, lists each of them once.
func TestVocabulary(t *testing.T) {
	parse := map[string]func([]string) error{
		cmdMain:     func(a []string) error { _, err := parseFlags(a); return err },
		cmdTune:     func(a []string) error { _, err := parseTuneFlags(a); return err },
		cmdExporter: func(a []string) error { _, err := ParseExporterFlags(a, io.Discard); return err },
		cmdRecord:   func(a []string) error { _, err := parseRecordFlags(a); return err },
		cmdReplay:   func(a []string) error { _, err := parseReplayFlags(a); return err },
	}
	for cmd, p := range parse {
		if err := p([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s -h: %v, want the help (a flag set that disagrees with the vocabulary says so here)", cmd, err)
		}
		u := usageText(cmd)
		for _, f := range flagsOf(cmd) {
			dash := "--"
			if len(f.name) == 1 {
				dash = "-"
			}
			if n := strings.Count(u, "  "+dash+f.name+" ") + strings.Count(u, "  "+dash+f.name+"=") + strings.Count(u, "  "+dash+f.name+"\n"); n != 1 {
				t.Errorf("%s usage lists %s%s %d times", cmd, dash, f.name, n)
			}
		}
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Bool("not-in-the-table", false, "")
	if err := checkVocabulary(fs, cmdTune); err == nil || !strings.Contains(err.Error(), "not-in-the-table") {
		t.Errorf("a flag outside the vocabulary: %v", err)
	}
}
