package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/internal/recording"
)

// TestIntegrationRecord records a namespace while a leaking process grows
// its CLOSE_WAIT, and reads the recording back: the header knows the
// namespace's port range, every snapshot is a --json line, and the last
// one counts what ss counts.
func TestIntegrationRecord(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	to := netip.MustParseAddrPort("127.0.0.7:5432")
	loadgen.Server(t, to)
	loadgen.StartLeaker(t, "leaky-app", to, 20)
	for deadline := time.Now().Add(5 * time.Second); ssCount(t, "close-wait") < 20 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	path := filepath.Join(t.TempDir(), "run.tcpdash")
	_, stderr, err := runCLI(t, "record", "-o", path, "--count", "5", "--interval", "100ms")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "recording to "+path+" every 100ms") || !strings.Contains(stderr, "recorded 5 snapshots") {
		t.Errorf("stderr %q", stderr)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("recording mode %v (%v), want 0600: it holds command lines", fi.Mode(), err)
	}
	r, recs := readRecording(t, path)
	range_, _ := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if h := r.Header; h == nil || h.IntervalMS != 100 || strings.Join(strings.Fields(string(range_)), " ") != h.Sysctls["net.ipv4.ip_local_port_range"] || h.PortRange[0] == 0 {
		t.Errorf("header %+v", r.Header)
	}
	// Without --netns the header still names where it was made.
	if own, _ := os.Readlink("/proc/self/ns/net"); r.Header == nil || !strings.HasSuffix(r.Header.Netns, own) {
		t.Errorf("header netns %q, want it to name this namespace, %s", r.Header.Netns, own)
	}
	var last struct {
		Total  int
		States map[string]int
	}
	if len(recs) != 5 || r.Truncated {
		t.Fatalf("%d snapshots, truncated %v; want 5 whole", len(recs), r.Truncated)
	}
	if err := json.Unmarshal(recs[4].Snapshot, &last); err != nil {
		t.Fatal(err)
	}
	if want := ssCount(t, "close-wait"); last.States["CLOSE_WAIT"] != want || want != 20 {
		t.Errorf("recorded %d CLOSE_WAIT, ss lists %d, the leaker holds 20", last.States["CLOSE_WAIT"], want)
	}

	// A recording is never overwritten, nor written through a symlink.
	if _, _, err := runCLI(t, "record", "-o", path, "--count", "1"); err == nil || !strings.Contains(err.Error(), "the file exists") {
		t.Errorf("over an existing file: %v", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(filepath.Join(t.TempDir(), "target"), link)
	if _, _, err := runCLI(t, "record", "-o", link, "--count", "1"); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("through a symlink: %v", err)
	}
}

func TestRecordBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"record"}, "no file: name the recording with -o FILE"},
		{[]string{"record", "-o", "x", "--interval", "10ms"}, "--interval 10ms is too short"},
		{[]string{"record", "-o", "x", "--netns", "all"}, "record one namespace at a time"},
		{[]string{"record", "-o", "x", "extra"}, `unexpected argument "extra"`},
	} {
		_, _, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// ssCount counts the sockets ss lists in state.
func ssCount(t *testing.T, state string) int {
	t.Helper()
	out, err := exec.Command("ss", "-tanH", "state", state).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(out), "\n")
}

// TestIntegrationRecordSysctlEvents: a sysctl changed while recording (here
// by tcpdash tune) is in the recording as an event, between the snapshots
// before and after it.
func TestIntegrationRecordSysctlEvents(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "run.tcpdash")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := runCLIContext(ctx, t, "record", "-o", path, "--interval", "100ms", "--processes=false")
		done <- err
	}()
	time.Sleep(350 * time.Millisecond) // a few snapshots before the change
	old, _ := os.ReadFile("/proc/sys/net/ipv4/tcp_fin_timeout")
	if _, _, err := runCLI(t, "tune", "set", "net.ipv4.tcp_fin_timeout=17", "--yes",
		"--state-file", filepath.Join(dir, "b"), "--audit-log", filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(350 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r, recs := readRecording(t, path)
	if got := r.Header.Sysctls["net.ipv4.tcp_fin_timeout"]; got != strings.TrimSpace(string(old)) {
		t.Errorf("header has tcp_fin_timeout %q, it was %q", got, old)
	}
	var before, after int
	var events []recording.Event
	for _, rec := range recs {
		switch {
		case rec.Event != nil:
			events = append(events, *rec.Event)
		case len(events) == 0:
			before++
		default:
			after++
		}
	}
	want := recording.Event{Kind: "sysctl", Name: "net.ipv4.tcp_fin_timeout", Old: strings.TrimSpace(string(old)), New: "17"}
	if len(events) != 1 || events[0].Time.IsZero() {
		t.Fatalf("events %+v, want one: %+v", events, want)
	}
	if events[0].Time = (time.Time{}); events[0] != want {
		t.Errorf("event %+v, want %+v", events[0], want)
	}
	if before == 0 || after == 0 {
		t.Errorf("%d snapshots before the event and %d after; want some of each", before, after)
	}
}

// BenchmarkReadSettings is what a stream now pays each poll to judge
// findings against current sysctls.
func BenchmarkReadSettings(b *testing.B) {
	w, err := openWatched(NetnsChoice{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	for b.Loop() {
		w.Settings()
	}
}

// readRecording reads the recording at path whole.
func readRecording(t *testing.T, path string) (*recording.Reader, []recording.Record) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := recording.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var recs []recording.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return r, recs
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
}

// TestIntegrationRecorderKilled: a recorder killed with SIGKILL a little
// over a minute in leaves a file that replays up to its last closed
// member (a minute of snapshots), and says it was cut. It takes a minute;
// -short skips it.
func TestIntegrationRecorderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of recording; -short skips it")
	}
	if !netns.Run(t) {
		return
	}
	bin := buildBinary(t)
	path := filepath.Join(t.TempDir(), "killed.rec")
	cmd := exec.Command(bin, "record", "-o", path, "--interval", "250ms")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(recording.MemberEvery + 3*time.Second)
	cmd.Process.Kill()
	cmd.Wait()

	out, stderr, err := runCLI(t, "replay", path, "--summary", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Snapshots int
		Truncated bool
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	// A minute at 4 a second, less a few for start-up and a slow poll.
	if !s.Truncated || s.Snapshots < 200 || !strings.Contains(stderr, "cut short") {
		t.Errorf("killed recorder: %d snapshots, truncated %v; stderr %q", s.Snapshots, s.Truncated, stderr)
	}
}

// TestIntegrationRecordProgressInTmux: on a terminal, record says where it
// writes, keeps one progress line (snapshots, KiB, time) that it rewrites
// in place, leaves it on screen when it ends, and says what it recorded.
func TestIntegrationRecordProgressInTmux(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("tmux"), "tmux is not installed")
	bin := buildBinary(t)
	pop, err := loadgen.Build(loadgen.Spec{Established: 5, TimeWait: 50, Dests: 1, Ports: 1, Listeners: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	dir := t.TempDir() // the pane's directory: a short relative name fits the line
	s := newTmux(t)
	defer s.run("kill-server")
	if out, err := s.run("new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24", "-c", dir,
		bin, "record", "-o", "progress.rec", "--interval", "200ms", "--count", "25", "--ebpf", "off"); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	s.run("set-option", "-t", "e2e", "remain-on-exit", "on")
	mid := s.waitScreen("the progress line", `tcpdash: recording to progress\.rec every 200ms \(Ctrl-C stops\)`,
		`tcpdash: ([1-9]|1[0-9]|2[0-4]) snapshots, [0-9,]+ KiB of JSON, [0-9,]+ KiB on disk, [0-9]+s`)
	screen := s.waitScreen("the end", `recorded 25 snapshots to progress\.rec`)
	lines := strings.Split(strings.TrimRight(screen, "\n "), "\n")
	var progress []string
	for _, l := range lines {
		if regexp.MustCompile(`^tcpdash: [0-9,]+ snapshots, `).MatchString(l) {
			progress = append(progress, l)
		}
	}
	// One line, rewritten: the last count stays, the earlier ones are gone.
	// 25 snapshots of a hundred sockets are more than a KiB of JSON.
	if len(progress) != 1 || !regexp.MustCompile(`^tcpdash: 25 snapshots, [1-9][0-9,]* KiB of JSON, `).MatchString(progress[0]) {
		t.Errorf("progress lines %q, want one, at 25 snapshots; before the end the screen was:\n%s\nat the end:\n%s", progress, mid, screen)
	}
}
