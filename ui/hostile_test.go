package ui

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// sgr matches the renderer's own colour codes, the only escapes a frame
// may hold.
var sgr = regexp.MustCompile(`\x1b\[[0-9;:]*m`)

// hostileCollector names the leaking process with whatever it is given.
type hostileCollector struct {
	fakeCollector
	name string
}

func (h *hostileCollector) Collect(q tcpinfo.Query) (*tcpinfo.Snapshot, error) {
	s, err := h.fakeCollector.Collect(q)
	if err == nil {
		// Every name that comes from outside: the process's, its command
		// line, its cgroup (a container's name), a listener's owner.
		s.Processes[0].Command, s.Processes[0].Cmdline, s.Processes[0].CgroupName = h.name, h.name, h.name
		s.Cgroups = append(s.Cgroups, tcpinfo.CgroupCount{ID: 9, Name: h.name, Path: "/" + h.name,
			States: tcpinfo.StateCounts{tcpinfo.Established: 3}})
		for i := range s.Listeners {
			s.Listeners[i].Owner = tcpinfo.Owner{PID: 4242, Command: h.name, Cmdline: h.name}
		}
		for i := range s.PortPressure {
			s.PortPressure[i].Opener, s.PortPressure[i].OpenerCgroupName = tcpinfo.Owner{PID: 4242, Command: h.name}, h.name
			s.PortPressure[i].OpenerSockets = s.PortPressure[i].Used
		}
		// An interface's name, in a link-local peer's zone.
		if h.name != "" {
			peer := netip.AddrPortFrom(netip.MustParseAddr("fe80::1").WithZone(h.name), 8080)
			s.TopRemoteEndpoints = append(s.TopRemoteEndpoints, tcpinfo.EndpointCount{Endpoint: peer, States: tcpinfo.StateCounts{tcpinfo.SynSent: 3}})
			s.PortPressure = append(s.PortPressure, tcpinfo.PressureGroup{Local: netip.MustParseAddr("fe80::2").WithZone(h.name), Remote: peer, Used: 3, Capacity: 100, Ratio: 0.03})
			s.Health = append(s.Health, tcpinfo.DestinationHealth{Remote: peer, Sockets: 3})
		}
	}
	return s, err
}

// FuzzHostileNames feeds any bytes as a process name, a hostname and an
// error through every pane's View: a frame holds no control byte but the
// renderer's own colour codes.
func FuzzHostileNames(f *testing.F) {
	for _, s := range []string{"java", "\x1b]2;pwned\a", "\x1b[2J", "a\nFAKE", "\u202eevil", "\xff\xfe", "\x9b31m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		checkFrames(t, name)
	})
}

// TestHostileNames: the seeds, as a test that always runs.
func TestHostileNames(t *testing.T) {
	for _, s := range []string{"\x1b]2;pwned\a", "\x1b[2J\x1b[H", "leak\nCRITICAL forged line", "\u202eevil"} {
		out := checkFrames(t, s)
		if !strings.Contains(out, termsafe.String(s)) && !strings.Contains(out, "\\x1b") && !strings.Contains(out, `\u202e`) {
			t.Errorf("the escaped name %q is nowhere on screen", termsafe.String(s))
		}
	}
}

func checkFrames(t *testing.T, name string) string {
	t.Helper()
	var all strings.Builder
	// Each layout: compact, the two halves, and the three columns in
	// which the findings and processes join from 180 columns.
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 50}} {
		all.WriteString(checkFramesAt(t, name, size[0], size[1]))
	}
	return all.String()
}

func checkFramesAt(t *testing.T, name string, w, h int) string {
	t.Helper()
	c := &hostileCollector{name: name}
	info := fakeInfo()
	info.Host = name
	m := New(Config{Source: c, Interval: time.Second, Info: info, Owners: fakeOwners})
	m, _ = step(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	m, _ = step(t, m, readOwners(fakeOwners)())
	for range 3 {
		s, _ := c.Collect(m.query())
		m, _ = step(t, m, polledMsg{snap: s})
	}
	m, _ = step(t, m, polledMsg{err: errors.New("poll: " + name)})
	var all strings.Builder
	for p := range numPanes {
		nm, _ := m.focusPane(p)
		fm := nm.(Model)
		for _, k := range []string{"", "enter", "c", "l"} { // the pane, its drill-down, its other views
			if k != "" {
				fm, _ = step(t, fm, press(k))
			}
			frame := fm.render()
			plain := sgr.ReplaceAllString(frame, "")
			for i, line := range strings.Split(plain, "\n") {
				if !termsafe.Printable(line) {
					t.Fatalf("%dx%d, pane %d, line %d holds a control byte from the name %q:\n%q", w, h, p, i+1, name, line)
				}
			}
			all.WriteString(plain)
		}
	}
	return all.String()
}
