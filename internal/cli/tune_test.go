package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/tuning"
)

// sysctls reads every known tunable of the current namespace.
func sysctls(t *testing.T) map[string]string {
	t.Helper()
	settings, err := tuning.New(tuning.Options{}).Settings()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range settings {
		out[s.Key] = s.Value
	}
	return out
}

func TestTuneUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"tune", "frob"}, `unknown tune command "frob"`},
		{[]string{"tune", "set"}, "tune set needs KEY=VALUE"},
		{[]string{"tune", "undo", "now"}, `unexpected argument "now"`},
		{[]string{"tune", "--bogus"}, "unknown flag -bogus"},
	} {
		_, _, err := runCLI(t, tt.args...)
		if code := ExitCode(err, io.Discard); code != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: exit %d, error %v; want 2 and %q", tt.args, code, err, tt.want)
		}
	}
}

// TestIntegrationTune is the acceptance test, in a private
// network namespace: a confirmed change changes that one value; invalid
// input and missing confirmation change nothing.
func TestIntegrationTune(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	dir := t.TempDir()
	state := []string{"--state-file", filepath.Join(dir, "batch.json"), "--audit-log", filepath.Join(dir, "audit.log")}
	tune := func(args ...string) (string, error) {
		out, _, err := runCLI(t, append(append([]string{"tune"}, args...), state...)...)
		return out, err
	}
	before := sysctls(t)

	// Refusals: one clear line, exit 1, nothing changed.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"set", "net.ipv4.tcp_fin_timeout=abc"}, `"abc" is not a whole number`},
		{[]string{"set", "net.ipv4.tcp_fin_timeout=-1"}, "out of range"},
		{[]string{"set", "net.ipv4.ip_local_port_range=60000 1024"}, "LOW must be below HIGH"},
		{[]string{"set", "net.ipv4.tcp_tw_reuse=3"}, "is not one of 0, 1, 2"},
		{[]string{"set", "net.ipv4.tcp_tw_reuse_delay=0"}, "out of range 1-60000"},
		{[]string{"set", "net.ipv4.tcp_nonsense=1"}, "unknown key"},
		{[]string{"set", "net/ipv4/tcp_fin_timeout=30"}, "is not a sysctl key"},
		{[]string{"set", "net.ipv4..tcp_fin_timeout=30"}, "is not a sysctl key"},
		{[]string{"set", "net.ipv4.tcp_tw_recycle=1"}, "removed in Linux 4.12"},
		{[]string{"set", "net.ipv4.tcp_fin_timeout"}, "want KEY=VALUE"},
		{[]string{"set", "net.ipv4.tcp_fin_timeout=30"}, "stdin is not a terminal"}, // no --yes
		{[]string{"set", "net.ipv4.tcp_fin_timeout=30", "--yes", "--read-only"}, "--read-only"},
		{[]string{"set", "net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=500 60000", "--yes"}, "the kernel rejected"},
		{[]string{"undo", "--yes"}, "nothing to undo"},
		{[]string{"persist", "--yes", "--file", filepath.Join(dir, "x.conf")}, "nothing to undo"},
	} {
		_, err := tune(tt.args...)
		if code := ExitCode(err, io.Discard); code != 1 || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("tune %v: exit %d, error %v; want 1 and one line with %q", tt.args, code, err, tt.want)
		}
		if got := sysctls(t); !equal(got, before) {
			t.Fatalf("tune %v changed sysctls: %v", tt.args, diffMaps(before, got))
		}
	}

	// The acceptance case: that namespace's value, and nothing else.
	out, err := tune("set", "net.ipv4.tcp_fin_timeout=30", "--yes")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"net.ipv4.tcp_fin_timeout: 60 → 30", "does not shorten TIME_WAIT", "net.ipv4.tcp_fin_timeout = 30 (read back)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	after := sysctls(t)
	if d := diffMaps(before, after); len(d) != 1 || after["net.ipv4.tcp_fin_timeout"] != "30" {
		t.Errorf("changes %v, want only tcp_fin_timeout 60 → 30", d)
	}

	conf := filepath.Join(dir, "sysctl.d", "90-tcpdash.conf")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	os.WriteFile(conf, []byte("vm.swappiness = 10\n"), 0o644)
	out, err = tune("persist", "--yes", "--file", conf)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(conf); string(b) != "vm.swappiness = 10\nnet.ipv4.tcp_fin_timeout = 30\n" || !strings.Contains(out, "will read:") {
		t.Errorf("persisted file:\n%s\noutput:\n%s", b, out)
	}

	if _, err := tune("undo", "--yes"); err != nil {
		t.Fatal(err)
	}
	if got := sysctls(t); !equal(got, before) {
		t.Errorf("after undo: %v", diffMaps(before, got))
	}
	log, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
	for _, want := range []string{"apply net.ipv4.tcp_fin_timeout: 60 → 30", "persist " + conf, "undo net.ipv4.tcp_fin_timeout: 30 → 60"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}

	out, err = tune()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"net.ipv4.tcp_tw_recycle           (removed)", "Removed in Linux 4.12", "It does NOT shorten TIME_WAIT",
		"(host only)", "Recommendations, from one second of live data:"} {
		if !strings.Contains(out, want) {
			t.Errorf("tune lacks %q:\n%s", want, out)
		}
	}
}

func equal(a, b map[string]string) bool { return len(diffMaps(a, b)) == 0 }

func diffMaps(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, k+": "+v+" → "+b[k])
		}
	}
	return d
}

// TestExitStatus: 0 done, 1 nothing changed, 2 bad usage, 3 changed but
// not as asked; the message is one printable line.
func TestExitStatus(t *testing.T) {
	changed := &tuning.ChangedError{Err: errors.New("applied, but the audit log could not record it"),
		Now: []tuning.Setting{{Tunable: tuning.Tunable{Key: "net.ipv4.tcp_fin_timeout"}, Value: "30", Exists: true}}}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("not confirmed: nothing changed"), 1},
		{usagef("unknown flag -x"), 2},
		{changed, 3},
		{fmt.Errorf("tune set: %w", changed), 3},
	} {
		var stderr bytes.Buffer
		if got := ExitCode(tc.err, &stderr); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
		if tc.want == 3 && !strings.Contains(stderr.String(), "values now: net.ipv4.tcp_fin_timeout=30") {
			t.Errorf("exit 3 must name each key's value now: %q", stderr.String())
		}
	}
	var stderr bytes.Buffer
	ExitCode(fmt.Errorf("bad value %s", "x\x1b]2;t\a\ny"), &stderr)
	if strings.Count(stderr.String(), "\n") != 1 || strings.Contains(stderr.String(), "\x1b") {
		t.Errorf("an error quoting input must be one printable line: %q", stderr.String())
	}
}
