package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/internal/recording"
)

// loadTestRecording is a recording of the load test in
// TestIntegrationReplay, kept for the tests that need no kernel: the
// dashboard in tmux, the HTML report in Chromium. TCPDASH_UPDATE_TESTDATA=1
// makes it anew.
const loadTestRecording = "../../testdata/loadtest.rec"

// TestIntegrationReplay records a load test in a namespace while a live
// --json stream logs it: quiet at first, then connections churn towards a
// 200-port range until connect() fails, and a process leaks CLOSE_WAIT.
// Then: --at each logged time gives back the logged line, byte for byte,
// from the log and from the recording; the report's peaks are the log's
// maxima, and its findings and counters are the log's.
func TestIntegrationReplay(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	dir := t.TempDir()
	if _, _, err := runCLI(t, "tune", "set", "net.ipv4.tcp_tw_reuse=0", "net.ipv4.ip_local_port_range=40000 40199",
		"--yes", "--state-file", filepath.Join(dir, "batch"), "--audit-log", filepath.Join(dir, "audit")); err != nil {
		t.Fatal(err)
	}
	db, leakTo := netip.MustParseAddrPort("127.0.0.5:3306"), netip.MustParseAddrPort("127.0.0.7:5432")
	loadgen.ClosingServer(t, db)
	loadgen.Server(t, leakTo)

	rec, logPath := filepath.Join(dir, "run.rec"), filepath.Join(dir, "run.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var recErr, logErr error
	var logOut string
	wg.Go(func() { _, _, recErr = runCLI(t, "record", "-o", rec, "--interval", "250ms", "--count", "28") })
	wg.Go(func() { logOut, _, logErr = runCLI(t, "--json", "--interval", "250ms", "--count", "28") })
	time.Sleep(time.Second)
	go loadgen.Churn(ctx, db, 80)
	time.Sleep(1500 * time.Millisecond)
	loadgen.StartLeaker(t, "leaky-app", leakTo, 15)
	wg.Wait()
	if recErr != nil || logErr != nil {
		t.Fatal(recErr, logErr)
	}
	if err := os.WriteFile(logPath, []byte(logOut), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("TCPDASH_UPDATE_TESTDATA") == "1" {
		b, _ := os.ReadFile(rec)
		if err := os.WriteFile(loadTestRecording, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// --at gives back every logged line exactly, from the log and from the
	// recording.
	logLines := strings.Split(strings.TrimSpace(logOut), "\n")
	_, recs := readRecording(t, rec)
	var recLines []string
	for _, r := range recs {
		if r.Snapshot != nil {
			recLines = append(recLines, string(r.Snapshot))
		}
	}
	if len(logLines) != 28 || len(recLines) != 28 {
		t.Fatalf("%d logged lines, %d recorded; want 28 each", len(logLines), len(recLines))
	}
	for file, lines := range map[string][]string{logPath: logLines, rec: recLines} {
		for _, line := range lines {
			var s struct{ Time string }
			json.Unmarshal([]byte(line), &s)
			out, _, err := runCLI(t, "replay", file, "--at", s.Time, "--once", "--json")
			if err != nil || out != line+"\n" {
				t.Fatalf("replay %s --at %s: %v\n got %s\nwant %s", filepath.Base(file), s.Time, err, out, line)
			}
		}
	}

	// The report agrees with the log, computed here from the lines alone.
	out, _, err := runCLI(t, "replay", rec, "--summary", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Snapshots int
		States    []struct {
			State string
			Peak  int
			At    time.Time
		}
		Pressure []struct {
			LocalAddr string `json:"local_addr"`
			Remote    string
			Ratio     float64
		} `json:"port_pressure"`
		Findings []struct {
			Kind, Subject string
			First, Last   time.Time
		}
		Counters []struct {
			Name  string
			Total uint64
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := logMaxima(t, recLines)
	if got.Snapshots != 28 {
		t.Errorf("report of %d snapshots", got.Snapshots)
	}
	for _, s := range got.States {
		if s.Peak != want.peaks[s.State] || !s.At.Equal(want.peakAt[s.State]) {
			t.Errorf("%s peak %d at %v; the log's maximum is %d at %v", s.State, s.Peak, s.At, want.peaks[s.State], want.peakAt[s.State])
		}
		delete(want.peaks, s.State)
	}
	for st, n := range want.peaks {
		if n > 0 {
			t.Errorf("the report lacks %s (peak %d)", st, n)
		}
	}
	if len(got.Pressure) != len(want.ratio) {
		t.Errorf("report has %d destinations, the log %d", len(got.Pressure), len(want.ratio))
	}
	for _, p := range got.Pressure {
		if k := p.Remote + " from " + p.LocalAddr; p.Ratio != want.ratio[k] {
			t.Errorf("%s worst %.4f, the log's worst %.4f", k, p.Ratio, want.ratio[k])
		}
	}
	var ids []string
	for _, f := range got.Findings {
		id := strings.TrimSpace(f.Kind + " " + f.Subject)
		ids = append(ids, id)
		if span := want.findings[id]; !f.First.Equal(span[0]) || !f.Last.Equal(span[1]) {
			t.Errorf("finding %s from %v to %v; the log has it from %v to %v", id, f.First, f.Last, span[0], span[1])
		}
	}
	if len(got.Findings) != len(want.findings) {
		t.Errorf("report findings %q; the log has %d", ids, len(want.findings))
	}
	for _, c := range got.Counters {
		if c.Total != want.counters[c.Name] {
			t.Errorf("counter %s rose %d; the log says %d", c.Name, c.Total, want.counters[c.Name])
		}
	}
	// The load test did what it was meant to: the report has something
	// to say.
	for _, kind := range []string{"port_exhaustion 127.0.0.5:3306 from 127.0.0.1", "close_wait_leak"} {
		if !strings.Contains(strings.Join(ids, "\n"), kind) {
			t.Errorf("no %s finding in %q", kind, ids)
		}
	}

	text, _, err := runCLI(t, "replay", rec, "--summary")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tcpdash load-test report", "Peak per state", "CLOSE_WAIT", "127.0.0.5:3306", "leaky-app", "ActiveOpens"} {
		if !strings.Contains(text, want) {
			t.Errorf("--summary lacks %q:\n%s", want, text)
		}
	}
}

type maxima struct {
	peaks    map[string]int
	peakAt   map[string]time.Time
	ratio    map[string]float64
	findings map[string][2]time.Time
	counters map[string]uint64
}

// logMaxima reads the lines as a script would, with no tcpdash code.
func logMaxima(t *testing.T, lines []string) maxima {
	m := maxima{map[string]int{}, map[string]time.Time{}, map[string]float64{}, map[string][2]time.Time{}, map[string]uint64{}}
	var prev map[string]uint64
	for _, line := range lines {
		var s struct {
			Time         time.Time
			States       map[string]int
			PortPressure []struct {
				LocalAddr  string  `json:"local_addr"`
				RemoteAddr string  `json:"remote_addr"`
				RemotePort uint16  `json:"remote_port"`
				Ratio      float64 `json:"ratio"`
			} `json:"port_pressure"`
			Findings []struct{ Kind, Subject string }
			Counters map[string]uint64
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		for st, n := range s.States {
			if n > m.peaks[st] {
				m.peaks[st], m.peakAt[st] = n, s.Time
			}
		}
		for _, p := range s.PortPressure {
			k := netip.AddrPortFrom(netip.MustParseAddr(p.RemoteAddr), p.RemotePort).String() + " from " + p.LocalAddr
			m.ratio[k] = max(m.ratio[k], p.Ratio)
		}
		for _, f := range s.Findings {
			id := strings.TrimSpace(f.Kind + " " + f.Subject)
			span, ok := m.findings[id]
			if !ok {
				span[0] = s.Time
			}
			span[1] = s.Time
			m.findings[id] = span
		}
		for k, v := range s.Counters {
			if prev != nil && v > prev[k] {
				m.counters[k] += v - prev[k]
			}
		}
		prev = s.Counters
	}
	return m
}

// TestReplayBadInput: garbage, a file cut short, a newer format, a missing
// file: one line each, exit 1, and a file cut short replays what is whole.
func TestReplayBadInput(t *testing.T) {
	dir := t.TempDir()
	whole, err := os.ReadFile(loadTestRecording)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, c := range map[string]struct {
		path, want string
	}{
		"garbage": {write("garbage", []byte("\x1b[2Jhello\n")), "its first line is not a JSON object"},
		"newer":   {write("newer", []byte(`{"format":"tcpdash-recording","version":99}`+"\n")), "newer format (version 99; this tcpdash reads up to 1): use a newer tcpdash"},
		"other":   {write("other", []byte(`{"format":"pcap"}`+"\n")), `format "pcap"`},
		"empty":   {write("empty", nil), "no snapshots"},
		"missing": {filepath.Join(dir, "nope"), "no such file"},
	} {
		_, _, err := runCLI(t, "replay", c.path, "--summary")
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "\x1b") {
			t.Errorf("%s: %v; want one line with %q", name, err, c.want)
		}
	}

	// Cut in its last member: the complete snapshots replay, and it says so.
	cut := write("cut", whole[:len(whole)-40])
	out, stderr, err := runCLI(t, "replay", cut, "--summary", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Snapshots int
		Truncated bool
	}
	json.Unmarshal([]byte(out), &s)
	tape, err := recording.Load(bytes.NewReader(whole))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Truncated || s.Snapshots == 0 || s.Snapshots >= tape.Len() || !strings.Contains(stderr, "is cut short") {
		t.Errorf("cut file: %d of %d snapshots, truncated %v; stderr %q", s.Snapshots, tape.Len(), s.Truncated, stderr)
	}
}

func TestReplayBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no file"},
		{[]string{"a", "b"}, "more than one file"},
		{[]string{loadTestRecording, "--json"}, "--json needs --once"},
		{[]string{loadTestRecording, "--summary", "--at", "+1s"}, "--summary covers the whole recording"},
		{[]string{loadTestRecording, "--html", "x.html", "--once"}, "--html writes the whole report"},
		{[]string{loadTestRecording, "--once", "--at", "yesterday"}, "--at: time \"yesterday\": want a clock time"},
		{[]string{loadTestRecording, "--once", "--at", "+1h"}, "after the recording ends"},
		{[]string{loadTestRecording, "--bogus"}, "unknown flag -bogus"},
	} {
		_, _, err := runCLI(t, append([]string{"replay"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("replay %q: %v; want %q", c.args, err, c.want)
		}
	}
}

// TestReplayWritesNoSymlink: --html makes a new file, never through a
// symlink, never over a file.
func TestReplayWritesNoSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep"), 0o644)
	link := filepath.Join(dir, "report.html")
	os.Symlink(target, link)
	if _, _, err := runCLI(t, "replay", loadTestRecording, "--html", link); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("through a symlink: %v", err)
	}
	if _, _, err := runCLI(t, "replay", loadTestRecording, "--html", target); err == nil || !strings.Contains(err.Error(), "the file exists") {
		t.Errorf("over a file: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("target now %q", b)
	}
}

// TestReplayHostileRecording: names in a recording are a stranger's
// strings: no report prints them raw.
func TestReplayHostileRecording(t *testing.T) {
	evil := "\x1b]2;pwned\x07\u009b2J"
	var buf bytes.Buffer
	w, err := recording.NewWriter(&buf, recording.Header{Host: evil, Kernel: evil, Start: time.Now(), IntervalMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	esc, _ := json.Marshal(evil)
	for i := range 3 {
		at := time.Date(2026, 11, 27, 14, 0, i, 0, time.UTC)
		line := fmt.Sprintf(`{"time":%q,"source":%s,"total":1,"states":{"CLOSE_WAIT":12},"processes":[{"pid":7,"command":%s,"total":12,"states":{"CLOSE_WAIT":12}}],`+
			`"findings":[{"severity":"warning","kind":"close_wait_leak","subject":%s,"title":%s,"detail":%s,"evidence":[%s]}]}`,
			at.Format(time.RFC3339), esc, esc, esc, esc, esc, esc)
		if err := w.Snapshot(at, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	w.Event(recording.Event{Time: time.Now(), Kind: "sysctl", Name: evil, Old: evil, New: evil})
	w.Close()
	path := filepath.Join(t.TempDir(), "evil.rec")
	os.WriteFile(path, buf.Bytes(), 0o644)
	for _, args := range [][]string{{"--summary"}, {"--once"}, {"--once", "--at", "14:00:01"}} {
		out, stderr, err := runCLI(t, append([]string{"replay", path}, args...)...)
		if err != nil {
			t.Fatal(args, err)
		}
		if strings.ContainsAny(out+stderr, "\x1b\x07\u009b") {
			t.Errorf("replay %q printed a control character:\n%q", args, out)
		}
		if !strings.Contains(out, `\x1b]2;pwned`) {
			t.Errorf("replay %q hides the name instead of escaping it:\n%s", args, out)
		}
	}
}

// TestIntegrationReplayInTmux drives the real binary's replay in tmux:
// stepping, jumping to the end, to a time and to where a finding starts,
// playing to the end, and the recorded sysctls.
func TestIntegrationReplayInTmux(t *testing.T) {
	netns.Require(t, netns.HaveTool("tmux"), "tmux is not installed")
	bin := buildBinary(t)
	path, _ := filepath.Abs(loadTestRecording)
	b, _ := os.ReadFile(path)
	tape, err := recording.Load(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n := tape.Len()
	pos := func(i int) string { return fmt.Sprintf(` %d/%d `, i+1, n) }

	s := newTmux(t)
	defer s.run("kill-server")
	if out, err := s.run("new-session", "-d", "-s", "e2e", "-x", "120", "-y", "40", bin, "replay", path); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	keys := func(k ...string) {
		t.Helper()
		if out, err := s.run(append([]string{"send-keys", "-t", "e2e"}, k...)...); err != nil {
			t.Fatalf("send-keys: %v: %s", err, out)
		}
	}
	s.waitScreen("the first snapshot", "REPLAY recorded every 250ms", pos(0), "⏸ paused")
	keys("G")
	s.waitScreen("the end", pos(n-1), `CRIT connect\(\) to 127.0.0.5:3306`, "232 sockets")
	keys("Left")
	s.waitScreen("a step back", pos(n-2))
	keys("J")
	s.waitScreen("the jump prompt", "jump to:")
	keys("+2s", "Enter")
	want, _ := tape.Seek("+2s")
	s.waitScreen("the jump to +2s", pos(want), tape.Time(want).Format("15:04:05"))
	keys("g")
	s.waitScreen("the start", pos(0))
	keys("n")
	s.waitScreen("the first finding's start", pos(tape.Starts()[0].Index), "starts here: connect")
	keys("]")
	keys("]")
	keys("Space")
	s.waitScreen("playing to the end at 4×", pos(n-1), "4×", "end of the recording")
	keys("8")
	s.waitScreen("the recorded sysctls", `ip_local_port_range +40000 40199`, "editing is off: a recording")
	pid := s.pid()
	keys("q")
	netns.WaitFor(t, "replay to quit", func() bool { return exited(pid) })
}
