package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tcpdash/tcpdash/internal/recording"
	"github.com/tcpdash/tcpdash/internal/summary"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/ui"
)

type replayConfig struct {
	file, at, html      string
	once, json, summary bool
}

func parseReplayFlags(args []string) (replayConfig, error) {
	var cfg replayConfig
	fs := flag.NewFlagSet("tcpdash replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.at, "at", "", "")
	fs.BoolVar(&cfg.once, "once", false, "")
	fs.BoolVar(&cfg.json, "json", false, "")
	fs.BoolVar(&cfg.summary, "summary", false, "")
	fs.StringVar(&cfg.html, "html", "", "")
	var files []string
	// FILE may come before, between or after the flags.
	for {
		if err := parseSet(fs, args, cmdReplay); err != nil {
			return cfg, err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	bad := func(format string, a ...any) (replayConfig, error) {
		return cfg, usageFor(cmdReplay, format, a...)
	}
	switch {
	case len(files) == 0:
		return bad("no file: name the recording, as in tcpdash replay run.rec")
	case len(files) > 1:
		return bad("more than one file (%s): replay one recording at a time", termsafe.String(strings.Join(files, ", ")))
	case cfg.summary && (cfg.once || cfg.at != ""):
		return bad("--summary covers the whole recording: drop --once and --at")
	case cfg.html != "" && (cfg.once || cfg.summary || cfg.json || cfg.at != ""):
		return bad("--html writes the whole report: use it alone")
	case cfg.json && !cfg.once && !cfg.summary:
		return bad("--json needs --once (a snapshot) or --summary (the report)")
	}
	cfg.file = files[0]
	return cfg, nil
}

// runReplay opens a recording and shows it: the dashboard, one snapshot,
// the report, or the report as HTML.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseReplayFlags(args)
	if err != nil {
		return helpOr(err, cmdReplay, stdout)
	}
	// The dashboard from the start shows the first frame at once and reads
	// the rest of the recording meanwhile: a day's takes seconds to index.
	if cfg.at == "" && !cfg.once && !cfg.summary && cfg.html == "" && isTerminal(stdout) && regularFile(cfg.file) {
		start, err := recording.LoadStart(cfg.file, startFrames)
		if err != nil {
			return err
		}
		uc := replayDashboard(start, cfg, 0)
		var mu sync.Mutex
		var full *recording.Tape
		if start.More {
			uc.TapeRest = func() (*recording.Tape, error) {
				t, err := recording.LoadFile(cfg.file)
				mu.Lock()
				full = t
				mu.Unlock()
				return t, err
			}
		}
		err = runProgram(ctx, uc)
		mu.Lock()
		defer mu.Unlock()
		if full != nil {
			full.Close()
		}
		return err
	}
	tape, err := recording.LoadFile(cfg.file)
	if err != nil {
		return err
	}
	defer tape.Close()
	if tape.Truncated {
		fmt.Fprintf(stderr, "tcpdash: %s is cut short (a recorder killed mid-way?): replaying the %d snapshots that are complete, to %s\n",
			termsafe.String(cfg.file), tape.Len(), tape.Time(tape.Len()-1).Format("15:04:05"))
	}
	at := tape.Len() - 1
	if cfg.at != "" {
		if at, err = tape.Seek(cfg.at); err != nil {
			return usageFor(cmdReplay, "--at: %s", err)
		}
	}
	switch {
	case cfg.once && cfg.json:
		line := append([]byte(tape.Line(at)), '\n')
		if isTerminal(stdout) {
			line = termsafe.JSON(line) // the same JSON, with nothing a terminal acts on
		}
		_, err := stdout.Write(line)
		return err
	case cfg.once:
		snap, err := tape.Snapshot(at)
		if err != nil {
			return err
		}
		return writeReport(stdout, snap, tape.Findings(at))
	case cfg.html != "":
		return writeHTMLReport(tape, cfg.html, stderr)
	case cfg.summary || !isTerminal(stdout):
		if !cfg.summary {
			fmt.Fprintln(stderr, "tcpdash: stdout is not a terminal: printing the report (--summary says so; --once --at T prints a snapshot)")
		}
		s, err := summary.Of(tape)
		if err != nil {
			return err
		}
		if cfg.json {
			var b bytes.Buffer
			if err := s.WriteJSON(&b); err != nil {
				return err
			}
			out := b.Bytes()
			if isTerminal(stdout) {
				out = termsafe.JSON(out) // as --once --json: the same JSON, nothing a terminal acts on
			}
			_, err := stdout.Write(out)
			return err
		}
		return s.WriteText(stdout)
	}
	return runProgram(ctx, replayDashboard(tape, cfg, at))
}

// startFrames is how much of a recording the dashboard reads before its
// first frame: at 1 Hz, five minutes.
const startFrames = 300

// replayDashboard is the dashboard's configuration for a recording.
func replayDashboard(tape *recording.Tape, cfg replayConfig, at int) ui.Config {
	uc := ui.Config{Tape: tape, Root: os.Geteuid() == 0, ReadOnly: true, Interval: time.Second}
	if cfg.at == "" {
		at = 0 // the dashboard starts at the start
	}
	uc.TapeStart = at
	if h := tape.Header; h != nil {
		uc.Info = ui.HostInfo{Host: h.Host, Kernel: h.Kernel, Netns: h.Netns}
		if h.IntervalMS > 0 {
			uc.Interval = time.Duration(h.IntervalMS) * time.Millisecond
		}
	} else {
		uc.Info.Host = "--json log " + cfg.file
	}
	return uc
}

// writeHTMLReport writes the report to a new file, never through a symlink.
func writeHTMLReport(tape *recording.Tape, path string, stderr io.Writer) error {
	s, err := summary.Of(tape)
	if err != nil {
		return err
	}
	f, err := createNew("--html", path)
	if err != nil {
		return err
	}
	err = s.WriteHTML(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // a half-written report helps no one
		return fmt.Errorf("write %s: %w", termsafe.String(path), err)
	}
	fmt.Fprintf(stderr, "tcpdash: wrote the report to %s\n", termsafe.String(path))
	return nil
}

// regularFile reports whether path is a regular file: only such a file can
// be read twice, its start first and then whole (a pipe could not).
func regularFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
