package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCLIContext(context.Background(), t, args...)
}

func runCLIContext(ctx context.Context, t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = Run(ctx, args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

func TestBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--interval", "50ms"}, "--interval 50ms is too short"},
		{[]string{"--interval", "soon"}, "--interval takes a Go duration"},
		{[]string{"--interval"}, "flag needs an argument: -interval"},
		{[]string{"--top", "0"}, "--top 0: use a number from 1 to 1000"},
		{[]string{"--top", "ten"}, "a whole number is needed"},
		{[]string{"--count", "-1", "--json"}, "--count -1"},
		{[]string{"--count", "3"}, "--count goes with --json"},
		{[]string{"--source", "sysfs"}, `--source "sysfs": use auto, netlink or procfs`},
		{[]string{"--frobnicate"}, "unknown flag -frobnicate"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, _, err := runCLI(t, tt.args...)
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("error %v, want a usage error", err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tt.want)
			}
			if stdout != "" {
				t.Errorf("printed %q on a usage error", stdout)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	stdout, _, err := runCLI(t, "--help")
	if err != nil || !strings.Contains(stdout, "Usage:") {
		t.Fatalf("--help: %v, %q", err, stdout)
	}
}

func TestOnceJSONIsOneObject(t *testing.T) {
	stdout, _, err := runCLI(t, "--once", "--json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	var snap map[string]any
	if err := dec.Decode(&snap); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value:\n%s", stdout)
	}
	if snap["source"] != "netlink" {
		t.Errorf("source %v, want netlink", snap["source"])
	}
}

func TestJSONStreamCount(t *testing.T) {
	stdout, _, err := runCLI(t, "--json", "--count", "3", "--interval", "100ms", "--source", "procfs")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var snap map[string]any
		if err := json.Unmarshal(sc.Bytes(), &snap); err != nil {
			t.Fatalf("line %d is not one JSON object: %v", n+1, err)
		}
		if snap["source"] != "procfs" || snap["source_note"] == nil {
			t.Errorf("line %d: source %v note %v, want procfs with a note", n+1, snap["source"], snap["source_note"])
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d lines, want 3", n)
	}
}

// TestNotATerminal: with no flags and stdout not a terminal, tcpdash
// prints the --once snapshot and says why.
func TestNotATerminal(t *testing.T) {
	stdout, stderr, err := runCLI(t)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "not a terminal") || !strings.Contains(stdout, "STATE") {
		t.Errorf("stderr %q, stdout %q", stderr, stdout)
	}
}

func TestIntegrationOnceReport(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	pop, err := loadgen.Build(loadgen.Spec{Established: 7, TimeWait: 40, HalfClosed: 3, Dests: 2, Ports: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	for _, source := range []string{"netlink", "procfs"} {
		stdout, stderr, err := runCLI(t, "--once", "--source", source)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"source " + source, "ESTABLISHED  14", "TIME_WAIT    40", "CLOSE_WAIT   3",
			"FIN_WAIT2    3", "127.0.0.1  127.0.0.1:20000  20    20", "TIME_WAIT PORTS FREED WITHIN", "COUNTERS"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("--once --source %s lacks %q:\n%s", source, want, stdout)
			}
		}
		if source == "procfs" && !strings.Contains(stderr, "procfs requested") {
			t.Errorf("procfs source not announced on stderr: %q", stderr)
		}
	}
}

func TestWrapText(t *testing.T) {
	got := wrapText("the quick brown fox → jumps over the lazy dog", 16, "  ")
	want := "  the quick\n  brown fox →\n  jumps over the\n  lazy dog"
	if got != want {
		t.Errorf("wrapText:\n%s\nwant:\n%s", got, want)
	}
	for _, l := range strings.Split(got, "\n") {
		if utf8.RuneCountInString(l) > 16 {
			t.Errorf("line %q is wider than 16", l)
		}
	}
}

// TestExporterExecs: tcpdash exporter checks its flags itself and then
// names tcpdash-exporter, found on PATH when none is beside tcpdash, to
// run in its place, with the arguments as given.
func TestExporterExecs(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, ExporterBinary)
	must(t, os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755))
	t.Setenv("PATH", dir)
	_, _, err := runCLI(t, "exporter", "--listen", ":9999", "--netns", "all")
	x, ok := errors.AsType[*Exec](err)
	if !ok || x.Path != fake || strings.Join(x.Argv, " ") != fake+" --listen :9999 --netns all" {
		t.Fatalf("tcpdash exporter: %v, want to run %s with the same arguments", err, fake)
	}
	if _, _, err := runCLI(t, "exporter", "--listen"); err == nil || errors.As(err, &x) {
		t.Errorf("a bad flag: %v, want it refused before running anything", err)
	}
}

// TestExporterBesideIsTrusted: the exporter beside tcpdash is run only if
// it is a regular executable of tcpdash's owner that no one else may
// write: root's tcpdash in /tmp must not run what another user put there.
func TestExporterBesideIsTrusted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	dir := t.TempDir()
	self := filepath.Join(dir, "tcpdash")
	must(t, os.WriteFile(self, nil, 0o755))
	beside := filepath.Join(dir, ExporterBinary)
	for _, tc := range []struct {
		name string
		make func()
		want bool
	}{
		{"none", func() {}, false},
		{"root's, 0755", func() { must(t, os.WriteFile(beside, nil, 0o755)) }, true},
		{"another user's", func() { must(t, os.Chown(beside, 65534, 65534)) }, false},
		{"root's, others may write", func() { must(t, os.Chown(beside, 0, 0)); must(t, os.Chmod(beside, 0o757)) }, false},
		{"root's, not executable", func() { must(t, os.Chmod(beside, 0o644)) }, false},
		{"a symlink to root's", func() {
			must(t, os.Remove(beside))
			must(t, os.WriteFile(beside+".real", nil, 0o755))
			must(t, os.Symlink(beside+".real", beside))
		}, false},
	} {
		tc.make()
		if got, ok := exporterBeside(self); ok != tc.want || ok && got != beside {
			t.Errorf("%s: %q, %v; want %v", tc.name, got, ok, tc.want)
		}
	}
}
