package ui

import (
	"fmt"
	"image/color"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// press turns a key name into the message the terminal would send.
func press(k string) tea.KeyPressMsg {
	switch k {
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "ctrl+l":
		return tea.KeyPressMsg{Code: 'l', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// step applies msg and returns the model.
// step hands msg to m: the dashboard, or a model wrapping it.
func step[M tea.Model](t *testing.T, m M, msg tea.Msg) (M, tea.Cmd) {
	t.Helper()
	nm, cmd := m.Update(msg)
	return nm.(M), cmd
}

// runPoll runs a command that must be a poll and feeds its result back.
func runPoll(t *testing.T, m Model, cmd tea.Cmd) (Model, tea.Cmd) {
	t.Helper()
	if cmd == nil {
		t.Fatal("want a poll command, got none")
	}
	msg, ok := cmd().(polledMsg)
	if !ok {
		t.Fatalf("want a poll, got %T", msg)
	}
	return step(t, m, msg)
}

// started returns a model sized w×h that has taken n polls.
func started(t *testing.T, f *fakeCollector, w, h, n int) Model {
	t.Helper()
	m := New(Config{Source: f, Interval: time.Second, Info: fakeInfo(), Owners: fakeOwners})
	m, _ = step(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	m, _ = step(t, m, readOwners(fakeOwners)())
	for range n {
		var cmd tea.Cmd
		m, cmd = step(t, m, polledMsg{snap: mustCollect(t, f, m.query())})
		if cmd == nil {
			t.Fatal("a poll result must re-arm the tick")
		}
	}
	return m
}

func mustCollect(t *testing.T, f *fakeCollector, q tcpinfo.Query) *tcpinfo.Snapshot {
	s, err := f.Collect(q)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPollSchedule(t *testing.T) {
	f := &fakeCollector{}
	m := New(Config{Source: f, Interval: time.Second, Info: fakeInfo()})
	if !m.sched.inFlight {
		t.Fatal("Init polls at once, so the model starts with a poll in flight")
	}
	m, cmd := runPoll(t, m, func() tea.Msg { s, err := f.Collect(m.query()); return polledMsg{s, err} })
	if cmd == nil || m.sched.inFlight {
		t.Fatal("after a poll lands, a tick is armed and nothing is in flight")
	}
	// The tick of the current schedule polls; a stale one does nothing.
	if _, cmd := step(t, m, tickMsg{gen: m.sched.gen - 1}); cmd != nil {
		t.Error("a tick from an old schedule must be dropped")
	}
	m2, cmd := step(t, m, tickMsg{gen: m.sched.gen})
	if !m2.sched.inFlight {
		t.Fatal("a current tick starts a poll")
	}
	// While a poll is in flight, a second tick does not start another.
	if _, cmd2 := step(t, m2, tickMsg{gen: m2.sched.gen}); cmd2 != nil {
		t.Error("one poll at a time")
	}
	m, _ = runPoll(t, m2, cmd)
	if m.live.snap.Time != baseTime.Add(time.Second) || m.live.prev.Time != baseTime {
		t.Errorf("snap %v prev %v", m.live.snap.Time, m.live.prev.Time)
	}
}

func TestPause(t *testing.T) {
	f := &fakeCollector{}
	m := started(t, f, 120, 40, 1)
	m, cmd := step(t, m, press("p"))
	if !m.sched.paused || cmd != nil {
		t.Fatal("p pauses without polling")
	}
	if _, cmd := step(t, m, tickMsg{gen: m.sched.gen}); cmd != nil {
		t.Error("no polling while paused")
	}
	if !strings.Contains(ansi.Strip(m.render()), "PAUSED") {
		t.Error("the header must say PAUSED")
	}
	m, cmd = step(t, m, press("p"))
	if m.sched.paused {
		t.Fatal("p resumes")
	}
	m, _ = runPoll(t, m, cmd) // resuming polls at once
	if f.calls() != 2 {
		t.Errorf("%d polls, want 2", f.calls())
	}
}

func TestIntervalKeys(t *testing.T) {
	f := &fakeCollector{}
	m := started(t, f, 120, 40, 1)
	gen := m.sched.gen
	m, cmd := step(t, m, press("+"))
	if m.sched.interval != 2*time.Second || cmd == nil || m.sched.gen == gen {
		t.Fatalf("+ : interval %v, want 2s with a new schedule", m.sched.interval)
	}
	for range 20 {
		m, _ = step(t, m, press("-"))
	}
	if m.sched.interval != 100*time.Millisecond {
		t.Errorf("- stops at 100ms, got %v", m.sched.interval)
	}
	for range 20 {
		m, _ = step(t, m, press("+"))
	}
	if m.sched.interval != time.Minute {
		t.Errorf("+ stops at 1m, got %v", m.sched.interval)
	}
}

func TestSlowDumpStretchesInterval(t *testing.T) {
	f := &fakeCollector{dump: 600 * time.Millisecond}
	m := started(t, f, 120, 40, 1)
	if got := m.effectiveInterval(); got != 2400*time.Millisecond {
		t.Errorf("effective interval %v, want 2.4s for 600ms dumps", got)
	}
	if !strings.Contains(ansi.Strip(m.render()), "every 1s → 2.4s (slow dumps)") {
		t.Error("the header must say the interval stretched")
	}
}

func TestPollErrorKeepsStaleData(t *testing.T) {
	f := &fakeCollector{}
	m := started(t, f, 120, 40, 2)
	m, cmd := step(t, m, polledMsg{err: errFake})
	if cmd == nil {
		t.Fatal("polling goes on after an error")
	}
	if m.live.snap == nil || m.live.snap.Time != baseTime.Add(time.Second) {
		t.Fatal("the last good data stays")
	}
	out := ansi.Strip(m.render())
	for _, want := range []string{"STALE", "! poll failed: netlink: connection refused (fake)", "showing data from 14:00:01", "TIME_WAIT"} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q", want)
		}
	}
	m, _ = step(t, m, polledMsg{snap: fakeSnapshot(5, tcpinfo.Query{})})
	if m.live.pollErr != nil || strings.Contains(ansi.Strip(m.render()), "STALE") {
		t.Error("a good poll clears the error")
	}
}

func TestFocusKeys(t *testing.T) {
	m := started(t, &fakeCollector{}, 80, 24, 1)
	for _, tt := range []struct {
		key  string
		want pane
	}{{"tab", paneLocal}, {"tab", paneRemote}, {"shift+tab", paneLocal}, {"5", paneCounters},
		{"tab", paneProcesses}, {"tab", paneFindings}, {"tab", paneTuning}, {"tab", paneHealth}, {"tab", paneStates},
		{"shift+tab", paneHealth}, {"1", paneStates}, {"t", paneTuning}, {"8", paneTuning}, {"6", paneProcesses},
		{"7", paneFindings}, {"9", paneHealth}, {"4", panePressure}} {
		m, _ = step(t, m, press(tt.key))
		if m.view.focus != tt.want {
			t.Fatalf("after %s: focus %v, want %v", tt.key, m.view.focus, tt.want)
		}
	}
	// At 80x24 the focused pane is the one shown under the states.
	m, _ = step(t, m, press("5"))
	if out := ansi.Strip(m.render()); !strings.Contains(out, "5 Counters") || strings.Contains(out, "4 Port pressure") {
		t.Errorf("compact layout should show the counters pane only:\n%s", out)
	}
}

func TestFilterAndSortKeys(t *testing.T) {
	f := &fakeCollector{}
	m := started(t, f, 120, 40, 1)
	m, cmd := step(t, m, press("f"))
	m, _ = runPoll(t, m, cmd)
	if q := f.lastQuery(); q.State != tcpinfo.TimeWait {
		t.Errorf("f: query %+v, want TIME_WAIT", q)
	}
	m, cmd = step(t, m, press("f"))
	m, _ = runPoll(t, m, cmd)
	if q := f.lastQuery(); q.State != tcpinfo.CloseWait {
		t.Errorf("f f: query %+v, want CLOSE_WAIT", q)
	}
	for _, r := range m.live.snap.TopLocalPorts {
		if r.States[tcpinfo.CloseWait] == 0 {
			t.Errorf("CLOSE_WAIT filter kept port %d without CLOSE_WAIT", r.Port)
		}
	}
	if len(m.live.snap.TopLocalPorts) != 20 {
		t.Errorf("CLOSE_WAIT filter: %d local ports, want the 20 leaking ones", len(m.live.snap.TopLocalPorts))
	}
	for range len(stateFilters) - 2 {
		m, cmd = step(t, m, press("f"))
		m, _ = runPoll(t, m, cmd)
	}
	if stateFilters[m.filt.filter] != 0 {
		t.Error("f cycles back to all states")
	}
	m, cmd = step(t, m, press("s"))
	m, _ = runPoll(t, m, cmd)
	if q := f.lastQuery(); q.Rank != tcpinfo.Established {
		t.Errorf("s: query %+v, want rank by ESTABLISHED", q)
	}
	if !strings.Contains(ansi.Strip(m.render()), "ESTAB▼") {
		t.Error("the sort column is marked")
	}
}

func TestSearch(t *testing.T) {
	f := &fakeCollector{}
	m := started(t, f, 120, 40, 1)
	m, _ = step(t, m, press("/"))
	if !m.filt.bar.Editing() {
		t.Fatal("/ opens the filter input")
	}
	m, _ = step(t, m, press("q")) // typed, not quit
	m, _ = step(t, m, press("enter"))
	if !m.filt.bar.Editing() || !strings.Contains(m.filt.bar.err, `filter "q": at "q" (column 1): unknown word`) {
		t.Fatalf("bad filter: editing %v, error %q", m.filt.bar.Editing(), m.filt.bar.err)
	}
	m.filt.bar.input.SetValue("src 10.0.0.5:3306 or dst 10.0.0.5:3306")
	m, cmd := step(t, m, press("enter"))
	m, _ = runPoll(t, m, cmd)
	if q := f.lastQuery(); q.Narrow.String() != "src 10.0.0.5:3306 or dst 10.0.0.5:3306" {
		t.Errorf("query %+v, want 10.0.0.5 port 3306", q)
	}
	if out := ansi.Strip(m.render()); !strings.Contains(out, "matching src 10.0.0.5:3306") || strings.Contains(out, "10.0.1.7") {
		t.Errorf("filtered view:\n%s", out)
	}
	// esc in the prompt leaves it, keeping the filter; esc again clears.
	m, _ = step(t, m, press("/"))
	m, _ = step(t, m, press("esc"))
	if m.filt.bar.Editing() || m.filt.bar.Active() == nil {
		t.Error("esc in the prompt leaves it and keeps the filter in force")
	}
	m, cmd = step(t, m, press("esc"))
	m, _ = runPoll(t, m, cmd)
	if q := f.lastQuery(); q.Narrow != nil {
		t.Errorf("esc clears the filter, query %+v", q)
	}
}

// TestFilterChangeDuringPoll: a poll that lands with tables built for an
// old filter is followed at once by a poll for the new one.
func TestFilterChangeDuringPoll(t *testing.T) {
	f := &fakeCollector{}
	m := started(t, f, 120, 40, 1)
	m, cmd := step(t, m, tickMsg{gen: m.sched.gen}) // a poll for the old filter
	m, none := step(t, m, press("f"))
	if none != nil {
		t.Fatal("no second poll while one is in flight")
	}
	m, cmd = runPoll(t, m, cmd)
	m, _ = runPoll(t, m, cmd) // must be a poll, not a tick
	if q := f.lastQuery(); q.State != tcpinfo.TimeWait || m.live.snap.Query.State != tcpinfo.TimeWait {
		t.Errorf("query %+v, snapshot for %+v: want TIME_WAIT", q, m.live.snap.Query)
	}
}

func TestCursor(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 1)
	m, _ = step(t, m, press("2"))
	for range 150 {
		m, _ = step(t, m, press("j"))
	}
	if n := len(m.live.snap.LocalPortsFolded); n < 2 || m.local.row != n-1 {
		t.Errorf("cursor %d, want the last row %d", m.local.row, n-1)
	}
	for range 150 {
		m, _ = step(t, m, press("k"))
	}
	if m.local.row != 0 {
		t.Errorf("cursor %d, want 0", m.local.row)
	}
}

func TestQuitAndHelp(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 1)
	for _, k := range []string{"q", "ctrl+c"} {
		_, cmd := step(t, m, press(k))
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", k)
		}
	}
	m, _ = step(t, m, press("?"))
	for _, size := range [][2]int{{120, 40}, {80, 24}} {
		m, _ = step(t, m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		out := ansi.Strip(m.render())
		for _, b := range m.keys.FullHelp() {
			for _, k := range b {
				if !strings.Contains(out, k.Help().Key+" ") || !strings.Contains(out, k.Help().Desc) {
					t.Errorf("full help at %dx%d lacks %q %q:\n%s", size[0], size[1], k.Help().Key, k.Help().Desc, out)
				}
			}
		}
	}
	m, _ = step(t, m, press("esc"))
	if m.view.showHelp {
		t.Error("esc closes the help")
	}
}

// TestRedraw: ctrl+l clears the screen and draws it whole, on the
// dashboard, the fleet's Namespaces pane and a recording alike: what
// another process wrote to the terminal goes.
func TestRedraw(t *testing.T) {
	clear := fmt.Sprintf("%T", tea.ClearScreen())
	check := func(name string, m tea.Model) {
		t.Helper()
		_, cmd := m.Update(press("ctrl+l"))
		if cmd == nil {
			t.Fatalf("%s: ctrl+l gives no command", name)
		}
		if got := fmt.Sprintf("%T", cmd()); got != clear {
			t.Errorf("%s: ctrl+l gives %s, want %s", name, got, clear)
		}
	}
	check("dashboard", started(t, &fakeCollector{}, 80, 24, 1))
	fleet := NewRoot(Config{Fleet: &fakeFleet{col: &fakeCollector{}}, Interval: time.Second, Info: HostInfo{Netns: "all"}})
	fleet, _ = fleet.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	check("fleet", fleet)
	check("recording", replaying(t, loadTape(t), 0, 80, 24))
}

func TestTroubleHighlights(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 4)
	out := ansi.Strip(m.render())
	for _, want := range []string{
		"!CLOSE_WAIT", "! CLOSE_WAIT +5.00/s: the app is not closing sockets",
		"!TIME_WAIT", "! TIME_WAIT at 83% of tcp_max_tw_buckets (6,000)",
		"!ListenOverflows", "!ListenDrops",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
}

// TestViewGolden renders the dashboard after a few polls at three sizes,
// plus the smallest and a too-small terminal, ANSI stripped, into
// testdata/TestViewGolden/WxH.golden; go test ./ui -update rewrites them.
func TestViewGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 50}, {60, 15}, {59, 14}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := started(t, &fakeCollector{}, size[0], size[1], 3)
			got := ansi.Strip(m.render())
			lines := strings.Split(got, "\n")
			if len(lines) > size[1] {
				t.Errorf("%d lines for a %d-line terminal", len(lines), size[1])
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > size[0] {
					t.Errorf("line %d is %d cells wide for a %d-column terminal: %q", i+1, w, size[0], l)
				}
			}
			golden.RequireEqual(t, got)
		})
	}
}

// TestBackgroundColour: the styles follow the terminal's answer about its
// background; the text stays the same, only the colours change.
func TestBackgroundColour(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 3)
	dark := m.render()
	light, _ := step(t, m, tea.BackgroundColorMsg{Color: color.White})
	// The panes, not only the help line (bubbles styles that itself).
	panes := func(s string) string { return s[:strings.LastIndex(s, "\n")] }
	if panes(light.render()) == panes(dark) {
		t.Error("a light background left the panes' colours unchanged")
	}
	if ansi.Strip(light.render()) != ansi.Strip(dark) {
		t.Error("a light background changed the text")
	}
	back, _ := step(t, light, tea.BackgroundColorMsg{Color: color.Black})
	if back.render() != dark {
		t.Error("a dark background does not give the dark styles back")
	}
}

// TestSynRecvTrouble: SYN_RECV is trouble only once it has risen three
// polls in a row.
func TestSynRecvTrouble(t *testing.T) {
	m := New(Config{Source: &fakeCollector{}, Interval: time.Second, Info: fakeInfo()})
	m, _ = step(t, m, tea.WindowSizeMsg{Width: 120, Height: 40})
	for i, n := range []int{5, 9, 14, 20} {
		s := fakeSnapshot(0, tcpinfo.Query{})
		s.Time = baseTime.Add(time.Duration(i) * time.Second)
		s.States[tcpinfo.SynRecv] = n
		m, _ = step(t, m, polledMsg{snap: s})
		marked := strings.Contains(ansi.Strip(m.render()), "!SYN_RECV")
		if want := i >= 3; marked != want {
			t.Errorf("after %d polls (SYN_RECV %d): marked %v, want %v", i+1, n, marked, want)
		}
	}
}

// TestModelStaysARouter: the root model holds the panes and the state it
// routes by, grouped: at most 25 fields, or it has started owning what
// belongs to a pane.
func TestModelStaysARouter(t *testing.T) {
	if n := reflect.TypeFor[Model]().NumField(); n > 25 {
		t.Errorf("ui.Model has %d fields, want at most 25", n)
	}
}

// TestPaneGolden renders each pane alone, focused, at 60x14 from the same
// scene as TestViewGolden into testdata/TestPaneGolden/NAME.golden: a change
// to one pane shows in its own file. go test ./ui -update rewrites them.
func TestPaneGolden(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 3)
	panes := []struct {
		name string
		view func() []string
	}{
		{"states", func() []string { p := m.states; p.SetSize(60, 14); return p.View(true) }},
		{"counters", func() []string { p := m.counters; p.SetSize(60, 14); return p.View(true) }},
		{"local", func() []string { p := m.local; p.SetSize(60, 14); return p.View(true) }},
		{"remote", func() []string { p := m.remote; p.SetSize(60, 14); return p.View(true) }},
		{"pressure", func() []string { p := m.pressure; p.SetSize(60, 14); return p.View(true) }},
		{"processes", func() []string { p := m.processes; p.SetSize(60, 14); return p.View(true) }},
		{"findings", func() []string { p := m.findingsP; p.SetSize(60, 14); return p.View(true) }},
		{"health", func() []string { p := m.health; p.SetSize(100, 8); return p.View(true) }},
		// Focused at 80x24 the pane is 80 wide: every column whole.
		{"health-80", func() []string { p := m.health; p.SetSize(80, 8); return p.View(true) }},
	}
	for _, p := range panes {
		t.Run(p.name, func(t *testing.T) {
			got := ansi.Strip(strings.Join(p.view(), "\n"))
			width := map[string]int{"health": 100, "health-80": 80}[p.name]
			if width == 0 {
				width = 60
			}
			for i, l := range strings.Split(got, "\n") {
				if w := ansi.StringWidth(l); w > width {
					t.Errorf("line %d is %d cells wide in a %d-cell pane: %q", i+1, w, width, l)
				}
				if strings.Contains(l, "…│") && strings.HasPrefix(p.name, "health") {
					t.Errorf("line %d cut at the pane's edge: %q", i+1, l)
				}
			}
			golden.RequireEqual(t, got)
		})
	}
}

// TestGaugeShadesReusableTimeWait: a loopback group full of TIME_WAIT that
// connect() takes over draws those ports shaded, apart from the ports it
// holds, which alone decide the colour; a group without reuse, as before.
func TestGaugeShadesReusableTimeWait(t *testing.T) {
	st := newStyles(true)
	g := tcpinfo.PressureGroup{Used: 950, TimeWait: 900, ReusableTimeWait: 800, ReuseAfter: time.Second, Capacity: 1000, Ratio: 0.95}
	if got := ansi.Strip(gauge(g, 20, st)); got != strings.Repeat("█", 3)+strings.Repeat("▒", 16)+"░" {
		t.Errorf("with 800 of 950 reusable: %q", got)
	}
	if gauge(g, 20, st) == gauge(tcpinfo.PressureGroup{Used: 950, Capacity: 1000, Ratio: 0.95}, 20, st) {
		t.Error("a group that holds 15% is drawn as one that holds 95%")
	}
	g.ReusableTimeWait, g.ReuseAfter = 0, 0
	if got := ansi.Strip(gauge(g, 20, st)); got != strings.Repeat("█", 19)+"░" {
		t.Errorf("without reuse: %q", got)
	}
}

// TestPressureShowsReusable: at 80 columns, where no gauge fits, the
// pressure pane says how many of a loopback group's TIME_WAIT ports
// connect() takes over (REUSE), so that a group using 44% ranked below
// one holding 10% says why; without such a group the column is not there
// and TW% keeps its place.
func TestPressureShowsReusable(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	leak := tcpinfo.PressureGroup{Local: lo, Remote: netip.MustParseAddrPort("127.0.0.1:20101"), Used: 150, Capacity: 1501, Ratio: 150.0 / 1501}
	churn := tcpinfo.PressureGroup{Local: lo, Remote: netip.MustParseAddrPort("127.0.0.250:7000"), Used: 655, TimeWait: 655,
		ReusableTimeWait: 612, ReuseAfter: time.Second, Capacity: 1501, Ratio: 655.0 / 1501}
	view := func(groups ...tcpinfo.PressureGroup) []string {
		snap := &tcpinfo.Snapshot{PortPressure: groups}
		p := pressurePane{table{keys: newKeyMap(), base: base{b: &board{snap: snap, styles: newStyles(true)}}}}
		p.SetSize(80, 8)
		var lines []string
		for _, l := range p.View(true) {
			lines = append(lines, ansi.Strip(l))
		}
		return lines
	}
	got := view(leak, churn)
	// The leak's row says "-" there, as the --once report does: reuse does
	// not apply to it, where a 0 would say none of its TIME_WAIT is old enough.
	reuseAt := strings.Index(got[1], "REUSE")
	if reuseAt < 0 || !strings.Contains(got[3], "7000") || !strings.Contains(got[3], " 612 ") ||
		!strings.Contains(got[2], "20101") || strings.TrimSpace(got[2][reuseAt:reuseAt+len("REUSE")+1]) != "-" {
		t.Errorf("with a reusable group:\n%s", strings.Join(got, "\n"))
	}
	for _, col := range []string{"USED", "USE%", "NEW/S"} {
		if !strings.Contains(got[1], col) {
			t.Errorf("REUSE pushed %s out:\n%s", col, strings.Join(got, "\n"))
		}
	}
	got = view(leak)
	if strings.Contains(got[1], "REUSE") || !strings.Contains(got[1], "TW%") {
		t.Errorf("without one:\n%s", strings.Join(got, "\n"))
	}
}

// TestProcessesToldApart: two python3 processes whose command lines differ
// only past the column's width are told apart by their ends.
func TestProcessesToldApart(t *testing.T) {
	procs := []tcpinfo.ProcessCount{
		{Owner: tcpinfo.Owner{PID: 1, Command: "python3", Cmdline: "/usr/bin/python3 scene.py --role client-a"}},
		{Owner: tcpinfo.Owner{PID: 2, Command: "python3", Cmdline: "/usr/bin/python3 scene.py --role client-b"}},
		{Owner: tcpinfo.Owner{PID: 3, Command: "nginx", Cmdline: "nginx: worker process"}},
	}
	got := distinctCommands(procs, 15)
	if got[0] == got[1] || fit(got[0], 15) == fit(got[1], 15) || !strings.HasPrefix(got[0], "python3 …") || !strings.HasSuffix(got[0], "ient-a") || !strings.HasSuffix(got[1], "ient-b") {
		t.Errorf("%q", got)
	}
	if got[2] != "nginx: worker process" {
		t.Errorf("a command line that is alone keeps its start: %q", got[2])
	}
}

// TestHealthMarksWhatTheFindingsName: the health pane marks a destination
// as the findings judge it: 2% of segments retransmitted at 5 a second
// is trouble, the same share at one every two seconds is not.
func TestHealthMarksWhatTheFindingsName(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 1)
	s := fakeSnapshot(0, tcpinfo.Query{})
	s.HealthOn = true
	s.Health = []tcpinfo.DestinationHealth{
		{Remote: netip.MustParseAddrPort("10.0.0.5:3306"), Sockets: 4, SegsOut: 1000, RetransTotal: 20, RetransPerS: 5, RatesKnown: true},
		{Remote: netip.MustParseAddrPort("10.0.0.6:3306"), Sockets: 4, SegsOut: 1000, RetransTotal: 20, RetransPerS: 0.5, RatesKnown: true},
	}
	m.board.snap = s
	p := m.health
	p.SetSize(100, 8)
	got := ansi.Strip(strings.Join(p.View(true), "\n"))
	if !strings.Contains(got, "!10.0.0.5:3306") || strings.Contains(got, "!10.0.0.6") {
		t.Errorf("want 10.0.0.5 marked and 10.0.0.6 not:\n%s", got)
	}
}

// TestFilesMarkIsTheFinding: the processes pane marks a process's
// FDS/LIMIT exactly when the findings name it in an fd_exhaustion: out of
// files, due to run out within 5 minutes, or at 90%. A process of 60
// files at a limit of 64 is below the findings' floor (64 open files) and
// was marked all the same; one forecast 6 minutes out is past the horizon.
func TestFilesMarkIsTheFinding(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 1)
	s := fakeSnapshot(0, tcpinfo.Query{})
	s.Attribution.Enabled = true
	proc := func(pid, open, limit int, left time.Duration) tcpinfo.ProcessCount {
		return tcpinfo.ProcessCount{Owner: tcpinfo.Owner{PID: pid, Command: fmt.Sprintf("p%d", pid)},
			Files: tcpinfo.FileCount{Open: open, Limit: limit}, FilesLeft: left}
	}
	s.Processes = []tcpinfo.ProcessCount{
		proc(101, 1023, 1024, -1),           // out
		proc(102, 500, 1024, 3*time.Minute), // soon
		proc(103, 930, 1024, -1),            // 90%
		proc(104, 60, 64, -1),               // few files: no finding
		proc(105, 500, 1024, 6*time.Minute), // past the horizon
		proc(106, 500, 1024, -1),            // fine
		proc(107, 900, 0, 10*time.Second),   // no limit known
	}
	named := map[string]bool{}
	for _, f := range diagnose.Diagnose(s, nil, nil) {
		if f.Kind == "fd_exhaustion" {
			named[strings.Fields(f.Subject)[1]] = true // "pid 101 (p101)"
		}
	}
	m.board.snap = s
	p := m.processes
	p.SetSize(120, 20)
	view := ansi.Strip(strings.Join(p.View(true), "\n"))
	for _, pr := range s.Processes {
		pid := fmt.Sprint(pr.PID)
		var row string
		for _, l := range strings.Split(view, "\n") {
			if strings.Contains(l, " "+pid+" ") || strings.Contains(l, "│"+pid+" ") {
				row = l
			}
		}
		if row == "" {
			t.Fatalf("no row for pid %s:\n%s", pid, view)
		}
		if marked := strings.Contains(row, "!"); marked != named[pid] {
			t.Errorf("pid %s: marked %v, named by an fd_exhaustion finding %v:\n%s", pid, marked, named[pid], row)
		}
	}
	if len(named) != 3 {
		t.Errorf("findings name %v, want 101, 102 and 103", named)
	}
}

// TestConntrackMarkIsTheFinding: the header marks the conntrack table
// exactly when the findings name it: near full, or dropping.
func TestConntrackMarkIsTheFinding(t *testing.T) {
	st := newStyles(false)
	for _, tc := range []struct {
		name string
		ct   tcpinfo.Conntrack
	}{
		{"half full", tcpinfo.Conntrack{Count: 500, Max: 1000}},
		{"95% full", tcpinfo.Conntrack{Count: 950, Max: 1000}},
		{"dropping", tcpinfo.Conntrack{Count: 500, Max: 1000, DropPerS: 3, RatesKnown: true}},
		{"a rate not yet measured", tcpinfo.Conntrack{Count: 500, Max: 1000, DropPerS: 3}},
	} {
		s := fakeSnapshot(0, tcpinfo.Query{})
		s.Conntrack = &tc.ct
		marked := strings.HasPrefix(ansi.Strip(conntrackField(s, st)), "! ")
		named := false
		for _, f := range diagnose.Diagnose(s, nil, nil) {
			named = named || strings.HasPrefix(f.Kind, "conntrack")
		}
		if marked != named {
			t.Errorf("%s: header marked %v, a finding %v", tc.name, marked, named)
		}
	}
}
