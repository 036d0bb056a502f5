package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/tcpdash/tcpdash/internal/recording"
)

// loadTape reads the recording of the main package's load test: quiet, then
// connections churning until a 200-port range is full, then a CLOSE_WAIT leak.
func loadTape(t *testing.T) *recording.Tape {
	t.Helper()
	tape, err := recording.LoadFile("../testdata/loadtest.rec")
	if err != nil {
		t.Fatal(err)
	}
	return tape
}

// replaying returns a model sized w×h showing snapshot start of tape.
func replaying(t *testing.T, tape *recording.Tape, start, w, h int) replayModel {
	t.Helper()
	m := newReplayModel(Config{Tape: tape, TapeStart: start, Interval: time.Second, Info: HostInfo{Host: "vm", Kernel: "6.18"}, ReadOnly: true})
	m, _ = step(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return frame1(t, m, loadFrame(tape, start, nil))
}

// frame1 runs a command that must load a frame, and shows it.
func frame1(t *testing.T, m replayModel, cmd tea.Cmd) replayModel {
	t.Helper()
	if cmd == nil {
		t.Fatal("want a frame to load, got no command")
	}
	msg, ok := cmd().(frameMsg)
	if !ok {
		t.Fatalf("want a frame, got %T", msg)
	}
	m, _ = step(t, m, msg)
	return m
}

func keyCmd(t *testing.T, m replayModel, keys ...string) (replayModel, tea.Cmd) {
	t.Helper()
	var cmd tea.Cmd
	for _, k := range keys {
		m, cmd = step(t, m, press(k))
	}
	return m, cmd
}

// at checks the model shows snapshot i: the snapshot, the one before it
// for rates, the findings logged with it, and the history up to it.
func at(t *testing.T, m replayModel, tape *recording.Tape, i int) {
	t.Helper()
	if m.player.pos != i || m.dash.live.snap == nil || !m.dash.live.snap.Time.Equal(tape.Time(i)) {
		t.Fatalf("at %d showing %v; want snapshot %d (%v)", m.player.pos, m.dash.live.snap.Time, i, tape.Time(i))
	}
	if i > 0 && (m.dash.live.prev == nil || !m.dash.live.prev.Time.Equal(tape.Time(i-1))) {
		t.Errorf("prev is not snapshot %d", i-1)
	}
	if len(m.dash.live.findings) != len(tape.Findings(i)) {
		t.Errorf("%d findings, logged %d", len(m.dash.live.findings), len(tape.Findings(i)))
	}
	n := len(m.dash.live.history.samples)
	if n != min(i+1, historyLen) || m.dash.live.history.samples[n-1].states != tape.States(i) {
		t.Errorf("history of %d samples ending %v", n, m.dash.live.history.samples[n-1].states)
	}
}

// TestReplayKeys steps, jumps and plays through a recording without a
// clock: each key's command is run by hand.
func TestReplayKeys(t *testing.T) {
	tape := loadTape(t)
	last := tape.Len() - 1
	m := replaying(t, tape, 0, 120, 40)
	at(t, m, tape, 0)

	m, cmd := keyCmd(t, m, "G")
	m = frame1(t, m, cmd)
	at(t, m, tape, last)
	m, cmd = step(t, m, tea.KeyPressMsg{Code: tea.KeyLeft})
	m = frame1(t, m, cmd)
	at(t, m, tape, last-1)

	// A frame that lands after the user moved on is dropped.
	stale := loadFrame(tape, 3, nil)().(frameMsg)
	m, _ = step(t, m, stale)
	at(t, m, tape, last-1)

	// J takes a time; a bad one is named and kept for correcting.
	m, _ = keyCmd(t, m, "J", "b", "a", "d", "enter")
	if !m.player.jumping || !strings.Contains(m.player.note, `time "bad"`) {
		t.Errorf("bad jump: jumping %v, note %q", m.player.jumping, m.player.note)
	}
	m, cmd = keyCmd(t, m, "esc", "J", "+", "2", "s", "enter")
	want, _ := tape.Seek("+2s")
	m = frame1(t, m, cmd)
	at(t, m, tape, want)

	// Stepping forward hands over the snapshot on screen as the one
	// before: a frame decodes one snapshot.
	shown := m.dash.live.snap
	m, cmd = step(t, m, tea.KeyPressMsg{Code: tea.KeyRight})
	m = frame1(t, m, cmd)
	at(t, m, tape, want+1)
	if m.dash.live.prev != shown {
		t.Error("a step forward decoded the previous snapshot again")
	}
	// Focus and filters do not reload a recorded frame.
	if _, cmd := keyCmd(t, m, "6"); cmd != nil {
		t.Error("focusing a pane reloads the frame")
	}

	// n goes to where the next finding starts.
	starts := tape.Starts()
	m, cmd = keyCmd(t, m, "g")
	m = frame1(t, m, cmd)
	m, cmd = keyCmd(t, m, "n")
	m = frame1(t, m, cmd)
	at(t, m, tape, starts[0].Index)
	if !strings.Contains(m.player.note, "starts here") {
		t.Errorf("note %q", m.player.note)
	}

	// Playing: each tick loads the next frame, until the end.
	m, _ = keyCmd(t, m, "G")
	m, cmd = keyCmd(t, m, "g")
	m = frame1(t, m, cmd)
	m, _ = keyCmd(t, m, "space")
	if !m.player.playing {
		t.Fatal("space did not play")
	}
	for i := 1; i <= last; i++ {
		m, cmd = step(t, m, playTickMsg{m.player.gen})
		m = frame1(t, m, cmd)
		at(t, m, tape, i)
	}
	m, _ = step(t, m, playTickMsg{m.player.gen})
	if m.player.playing || m.player.note != "end of the recording" {
		t.Errorf("at the end: playing %v, note %q", m.player.playing, m.player.note)
	}
	// A tick from before a pause is dropped.
	m, _ = keyCmd(t, m, "space") // plays again from the start
	m, _ = keyCmd(t, m, "space")
	if _, cmd := step(t, m, playTickMsg{m.player.gen - 1}); cmd != nil {
		t.Error("a stale tick moved the player")
	}

	// Speeds step within bounds.
	for range 20 {
		m, _ = keyCmd(t, m, "]")
	}
	if speeds[m.player.speed] != 64 {
		t.Errorf("top speed %g", speeds[m.player.speed])
	}

	// So does the drill-down.
	m, _ = keyCmd(t, m, "3", "enter")
	if m.dash.dd.drilling || !strings.Contains(m.player.note, "drill-down") {
		t.Errorf("enter in replay: drilling %v, note %q", m.dash.dd.drilling, m.player.note)
	}

	// Filters need the live sockets: the keys say so and change nothing.
	m, cmd = keyCmd(t, m, "f")
	if cmd != nil || m.dash.filt.filter != 0 || !strings.Contains(m.player.note, "filters") {
		t.Errorf("f in replay: filter %d, note %q", m.dash.filt.filter, m.player.note)
	}
}

// TestReplayTuningPane: the tuning pane shows the sysctls in force at the
// snapshot shown, read-only.
func TestReplayTuningPane(t *testing.T) {
	tape := loadTape(t)
	m := replaying(t, tape, tape.Len()-1, 120, 40)
	m, _ = keyCmd(t, m, "8")
	got := ansi.Strip(m.render())
	for _, want := range []string{"net.ipv4.ip_local_port_range      40000 40199", "editing is off: a recording"} {
		if !strings.Contains(got, want) {
			t.Errorf("tuning pane lacks %q:\n%s", want, got)
		}
	}
	m, cmd := keyCmd(t, m, "enter")
	if cmd != nil || m.dash.tuning.editing {
		t.Error("enter edits a recording's sysctl")
	}
}

// TestReplayViewGolden renders a recording at its end at three sizes into
// testdata/TestReplayViewGolden/WxH.golden; go test ./ui -update rewrites them.
func TestReplayViewGolden(t *testing.T) {
	tape := loadTape(t)
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 50}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := replaying(t, tape, tape.Len()-1, size[0], size[1])
			got := ansi.Strip(m.render())
			for i, l := range strings.Split(got, "\n") {
				if w := ansi.StringWidth(l); w > size[0] {
					t.Errorf("line %d is %d cells wide: %q", i+1, w, l)
				}
			}
			golden.RequireEqual(t, got)
		})
	}
}

// TestReplayHostile: a recording is a stranger's file; its strings reach
// the screen escaped.
func TestReplayHostile(t *testing.T) {
	evil := "\x1b]2;pwned\a\u009b2J\u202e"
	esc, _ := json.Marshal(evil)
	var lines []string
	for i := range 3 {
		lines = append(lines, fmt.Sprintf(`{"time":"2026-11-27T14:00:0%dZ","source":%s,"total":12,"states":{"CLOSE_WAIT":12},`+
			`"processes":[{"pid":7,"command":%s,"total":12,"states":{"CLOSE_WAIT":12}}],"names":[%s],`+
			`"findings":[{"severity":"critical","kind":%s,"subject":%s,"title":%s,"short":%s,"detail":%s,"evidence":[%s]}]}`,
			i, esc, esc, esc, esc, esc, esc, esc, esc, esc))
	}
	tape, err := recording.Load(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	m := replaying(t, tape, 2, 120, 40)
	for _, k := range []string{"", "6", "7", "n", "N"} {
		if k != "" {
			m, _ = keyCmd(t, m, k)
		}
		if rest := sgr.ReplaceAllString(m.render(), ""); strings.ContainsAny(rest, "\x1b\a\u009b\u202e") {
			t.Fatalf("after %q a control character reached the screen: %q", k, rest)
		}
	}
}

// TestReplayKeepsPaneKeys: the player takes only its own keys; l still
// switches the local ports pane to its listeners, as live.
func TestReplayKeepsPaneKeys(t *testing.T) {
	tape := loadTape(t)
	m := replaying(t, tape, tape.Len()-1, 120, 40)
	m, _ = keyCmd(t, m, "2", "l")
	if !m.dash.local.listeners || m.player.pos != tape.Len()-1 {
		t.Errorf("l in replay: listeners %v, position %d", m.dash.local.listeners, m.player.pos)
	}
}

// BenchmarkLoadFrame: a step forward decodes one snapshot when the one on
// screen is handed over as the one before, two when it is not.
func BenchmarkLoadFrame(b *testing.B) {
	tape, err := recording.LoadFile("../testdata/loadtest.rec")
	if err != nil {
		b.Fatal(err)
	}
	prev, err := tape.Snapshot(19)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("both decoded", func(b *testing.B) {
		for b.Loop() {
			loadFrame(tape, 20, nil)()
		}
	})
	b.Run("previous handed over", func(b *testing.B) {
		for b.Loop() {
			loadFrame(tape, 20, prev)()
		}
	})
}

// TestReplayStopsAtSysctlChanges: n and N stop at the snapshot where a
// recorded sysctl change first shows, say what changed, and the timeline
// marks it with §.
func TestReplayStopsAtSysctlChanges(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)
	w, err := recording.NewWriter(&buf, recording.Header{Start: start, IntervalMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		at := start.Add(time.Duration(i) * time.Second)
		if i == 5 {
			mustOK(t, w.Event(recording.Event{Time: at.Add(-time.Millisecond), Kind: "sysctl", Name: "net.ipv4.tcp_tw_reuse", Old: "2", New: "1"}))
		}
		mustOK(t, w.Snapshot(at, []byte(`{"time":"`+at.Format(time.RFC3339)+`","states":{"ESTABLISHED":3}}`)))
	}
	mustOK(t, w.Close())
	tape, err := recording.Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	m := replaying(t, tape, 0, 120, 40)
	if !strings.Contains(ansi.Strip(m.render()), "§") {
		t.Error("the timeline does not mark the change")
	}
	m, cmd := keyCmd(t, m, "n")
	m = frame1(t, m, cmd)
	if m.player.pos != 5 || !strings.Contains(m.player.note, "net.ipv4.tcp_tw_reuse 2 → 1") {
		t.Errorf("n: at %d, note %q; want snapshot 5 and the change", m.player.pos, m.player.note)
	}
	m, cmd = keyCmd(t, m, "G")
	m = frame1(t, m, cmd)
	m, cmd = keyCmd(t, m, "N")
	m = frame1(t, m, cmd)
	if m.player.pos != 5 {
		t.Errorf("N from the end: at %d, want 5", m.player.pos)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReplayStartThenRest: the dashboard shows the start of a recording
// at once; when the whole arrives, the player has every snapshot and stays
// where it was.
func TestReplayStartThenRest(t *testing.T) {
	full := loadTape(t)
	start, err := recording.LoadStart("../testdata/loadtest.rec", 5)
	if err != nil {
		t.Fatal(err)
	}
	if start.Len() != 5 || !start.More {
		t.Fatalf("the start: %d snapshots, more %v; want 5 and more", start.Len(), start.More)
	}
	m := newReplayModel(Config{Tape: start, Interval: time.Second, Info: HostInfo{Host: "vm"}, ReadOnly: true,
		TapeRest: func() (*recording.Tape, error) { return full, nil }})
	m, _ = step(t, m, tea.WindowSizeMsg{Width: 120, Height: 40})
	m = frame1(t, m, loadFrame(start, 0, nil))
	m, cmd := keyCmd(t, m, "right", "right")
	m = frame1(t, m, cmd)
	if !strings.Contains(ansi.Strip(m.render()), "3/5 (reading the rest…)") {
		t.Errorf("the status line does not say the rest is being read:\n%s", ansi.Strip(m.render()))
	}
	m, _ = step(t, m, loadRest(func() (*recording.Tape, error) { return full, nil })())
	if m.player.pos != 2 || m.player.tape.Len() != full.Len() || strings.Contains(ansi.Strip(m.render()), "reading the rest") {
		t.Errorf("after the rest: at %d of %d, want 2 of %d, and no more 'reading'", m.player.pos, m.player.tape.Len(), full.Len())
	}
}

// TestReplayNoteWholeAt80: at 80 columns, the time J could not read and
// what it wants instead are on screen whole, above the prompt, which keeps
// the text for correcting; the screen stays 24 lines of 80 cells.
func TestReplayNoteWholeAt80(t *testing.T) {
	tape := loadTape(t)
	m := replaying(t, tape, 0, 80, 24)
	m, _ = keyCmd(t, m, "J", "b", "a", "d", "enter")
	out := ansi.Strip(m.render())
	lines := strings.Split(out, "\n")
	if len(lines) != 24 {
		t.Errorf("%d lines", len(lines))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > 80 {
			t.Errorf("line %d is %d cells wide: %q", i+1, w, l)
		}
	}
	flat := strings.Join(strings.Fields(out), " ")
	if !strings.Contains(flat, `! time "bad": want a clock time (14:03:10), an offset (+90s) or RFC 3339 (2026-11-27T14:03:10Z)`) {
		t.Errorf("the note is cut:\n%s", out)
	}
	if !strings.Contains(out, "jump to: bad") {
		t.Errorf("the prompt lost the text:\n%s", out)
	}
}
