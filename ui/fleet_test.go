package ui

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// fakeFleet is two namespaces: a quiet one and the load test's.
type fakeFleet struct {
	watched []string
	col     *fakeCollector
}

func (f *fakeFleet) Overview() ([]NamespaceRow, error) {
	quiet := &tcpinfo.Snapshot{Total: 3}
	quiet.States[tcpinfo.Listen] = 3
	busy := fakeSnapshot(2, tcpinfo.Query{})
	leak := diagnose.Finding{Severity: diagnose.Critical, Title: "pid 4242 (java) holds 20 CLOSE_WAIT sockets",
		Short: "pid 4242 (java\x1b]2;x\a) leaks: 20 CLOSE_WAIT"} // the pane shows the short form; a name from outside
	return []NamespaceRow{
		{Netns: "net:[1]", Names: []string{"pid 1 (systemd)"}, Snap: quiet},
		{Netns: "net:[2]", Names: []string{"docker 0123456789ab web", "\x1b]2;x\a"}, Snap: busy, Worst: &leak},
	}, nil
}

func (f *fakeFleet) Watch(netns string) (Watch, error) {
	f.watched = append(f.watched, netns)
	return Watch{Source: f.col, Netns: "docker 0123456789ab web " + netns}, nil
}

// TestFleet: the dashboard opens on the Namespaces pane, worst first;
// enter watches the selected namespace with every pane; esc comes back.
func TestFleet(t *testing.T) {
	f := &fakeFleet{col: &fakeCollector{}}
	m := NewRoot(Config{Fleet: f, Interval: time.Second, Info: HostInfo{Host: "node-1", Netns: "all"}}).(fleetModel)
	m, _ = step(t, m, tea.WindowSizeMsg{Width: 120, Height: 40})
	if cmd := m.Init(); cmd == nil {
		t.Fatal("Init polls the fleet")
	}
	m, cmd := step(t, m, pollFleet(f)())
	if cmd == nil {
		t.Fatal("a fleet poll must re-arm the tick")
	}
	out := ansi.Strip(m.render())
	first := strings.Index(out, "docker 0123456789ab web")
	second := strings.Index(out, "pid 1 (systemd)")
	if !strings.Contains(out, "Namespaces · 2") || first < 0 || second < first || !strings.Contains(out, `pid 4242 (java\x1b]2;x\x07) leaks: 20 CLOSE_WAIT`) {
		t.Fatalf("namespaces pane, worst first:\n%s", out)
	}
	if strings.Contains(m.render(), "\x1b]2;") {
		t.Error("a namespace's name reaches the terminal raw")
	}
	// The badge is the fleet's: every namespace's worst finding.
	if !strings.Contains(strings.SplitN(out, "\n", 2)[0], "! 1 critical") {
		t.Errorf("the header's badge is not the fleet's:\n%s", out)
	}
	// p pauses the fleet's polls; p again polls the fleet, not a
	// namespace (there is none yet).
	m, cmd = step(t, m, press("p"))
	if cmd != nil || !m.dash.sched.paused {
		t.Fatal("p at the fleet: want paused, no command")
	}
	m, cmd = step(t, m, press("p"))
	polled, ok := cmd().(fleetMsg)
	if !ok || m.dash.sched.paused {
		t.Fatal("p again at the fleet: want a fleet poll")
	}
	m, _ = step(t, m, polled)
	// A pane key does nothing here; enter watches the worst namespace.
	if m2, _ := step(t, m, press("3")); m2.dash.view.focus != m.dash.view.focus {
		t.Error("pane keys wait for a namespace")
	}
	m, cmd = step(t, m, press("enter"))
	if cmd == nil {
		t.Fatal("enter asks for the namespace")
	}
	m, cmd = step(t, m, cmd())
	if len(f.watched) != 1 || f.watched[0] != "net:[2]" || m.atFleet || cmd == nil {
		t.Fatalf("watched %v, at fleet %v", f.watched, m.atFleet)
	}
	m.dash, _ = runPoll(t, m.dash, pollOf(t, cmd))
	out = ansi.Strip(m.render())
	if !strings.Contains(out, "1 States") || !strings.Contains(out, "netns docker 0123456789ab web net:[2]") ||
		!strings.Contains(out, "esc: every namespace") {
		t.Fatalf("watching a namespace:\n%s", out)
	}
	// esc with nothing to clear goes back; the namespace's late poll is
	// dropped.
	m, cmd = step(t, m, press("esc"))
	if !m.atFleet || cmd == nil {
		t.Fatalf("esc: at fleet %v", m.atFleet)
	}
	m, _ = step(t, m, polledMsg{snap: fakeSnapshot(9, tcpinfo.Query{})})
	if out := ansi.Strip(m.render()); !strings.Contains(out, "Namespaces · 2") {
		t.Fatalf("back at the fleet:\n%s", out)
	}
}

// TestFleetAt80x24: on an 80-column terminal a namespace's worst finding,
// too long to share its row, has a line of its own under it, whole; at 200
// columns it shares the row, and the names are whole (the fake's include
// an escape sequence, shown escaped: at 80 they are cut after the first).
func TestFleetAt80x24(t *testing.T) {
	f := &fakeFleet{col: &fakeCollector{}}
	m := NewRoot(Config{Fleet: f, Interval: time.Second, Info: HostInfo{Host: "node-1", Netns: "all"}}).(fleetModel)
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		m, _ = step(t, m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		m, _ = step(t, m, pollFleet(f)())
		out := ansi.Strip(m.render())
		lines := strings.Split(out, "\n")
		for _, l := range lines {
			if w := lipgloss.Width(l); w > size[0] {
				t.Errorf("%dx%d: a line %d wide: %q", size[0], size[1], w, l)
			}
		}
		name := regexp.MustCompile(`│docker 0123456789ab web, `)
		if size[0] == 200 {
			name = regexp.MustCompile(`│docker 0123456789ab web, .*net:\[2\] +[0-9]`)
		}
		finding := `pid 4242 (java\x1b]2;x\x07) leaks: 20 CLOSE_WAIT` // escaped
		var nameAt, findingAt int = -1, -1
		for i, l := range lines {
			if name.MatchString(l) {
				nameAt = i
			}
			if strings.Contains(l, finding) {
				findingAt = i
			}
		}
		switch {
		case nameAt < 0 || findingAt < 0:
			t.Errorf("%dx%d: the name or the finding is not whole:\n%s", size[0], size[1], out)
		case size[0] == 80 && findingAt != nameAt+1, size[0] == 200 && findingAt != nameAt:
			t.Errorf("%dx%d: the finding on line %d, its namespace on %d:\n%s", size[0], size[1], findingAt, nameAt, out)
		}
	}
}

// pollOf finds the poll among a batch of commands.
func pollOf(t *testing.T, cmd tea.Cmd) tea.Cmd {
	t.Helper()
	msg := cmd()
	batch, ok := msg.(tea.BatchMsg)
	if !ok {
		return func() tea.Msg { return msg }
	}
	for _, c := range batch {
		if c == nil {
			continue
		}
		if m := c(); m != nil {
			if _, ok := m.(polledMsg); ok {
				return func() tea.Msg { return m }
			}
		}
	}
	t.Fatal("no poll in the batch")
	return nil
}

// TestFleetPortsIsTheFullest: PORTS% is the namespace's fullest group, as
// the exporter's tcpdash_port_pressure_max_ratio is, though the groups are
// ranked by what they hold: a loopback group using 80%, most of it TIME_WAIT
// connect() takes over, ranks below one holding 30%, and is still 80.0.
func TestFleetPortsIsTheFullest(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	snap := &tcpinfo.Snapshot{Total: 10, PortPressure: []tcpinfo.PressureGroup{
		{Local: lo, Remote: netip.MustParseAddrPort("10.0.0.5:3306"), Used: 300, Capacity: 1000, Ratio: 0.3},
		{Local: lo, Remote: netip.MustParseAddrPort("127.0.0.1:7000"), Used: 800, TimeWait: 800, ReusableTimeWait: 700,
			ReuseAfter: time.Second, Capacity: 1000, Ratio: 0.8},
	}}
	if got := snap.FullestRatio(); got != 0.8 {
		t.Errorf("FullestRatio %v, want 0.8", got)
	}
	p := namespacesPane{table: table{keys: newKeyMap(), base: base{b: &board{styles: newStyles(true)}}},
		rows: []NamespaceRow{{Netns: "net:[9]", Snap: snap}}}
	p.SetSize(80, 8)
	out := ansi.Strip(strings.Join(p.View(true), "\n"))
	if !strings.Contains(out, "80.0") || strings.Contains(out, "30.0") {
		t.Errorf("PORTS%% of the first-ranked group, not the fullest:\n%s", out)
	}
}
