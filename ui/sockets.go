package ui

import (
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// A SocketLister lists the sockets behind a row of a table, for the
// drill-down; *tcpinfo.Collector is one. A Source without it has no
// drill-down.
type SocketLister interface {
	Sockets(f tcpinfo.SocketFilter, owners *tcpinfo.Owners, limit int) ([]tcpinfo.SocketRow, int, error)
}

// drillLimit bounds the sockets a drill-down holds; the count says how
// many there are in all.
const drillLimit = 1000

type socketsMsg struct {
	rows  []tcpinfo.SocketRow
	total int
	err   error
}

func listSockets(l SocketLister, f tcpinfo.SocketFilter, owners *tcpinfo.Owners) tea.Cmd {
	return func() tea.Msg {
		rows, n, err := l.Sockets(f, owners, drillLimit)
		return socketsMsg{rows, n, err}
	}
}

// socketsPane is the drill-down: the sockets behind one row, as ss -tano
// lists them, with their timers and owners.
type socketsPane struct {
	table
	title  string
	filter tcpinfo.SocketFilter
	rows   []tcpinfo.SocketRow
	total  int
	err    error
	loaded bool
}

// Update takes a listing, and scrolls.
func (p socketsPane) Update(msg tea.Msg) (socketsPane, tea.Cmd) {
	if m, ok := msg.(socketsMsg); ok {
		p.rows, p.total, p.err, p.loaded = m.rows, m.total, m.err, true
		for i := range p.rows {
			o := &p.rows[i].Owner
			o.Command, o.Cmdline = termsafe.String(o.Command), termsafe.String(o.Cmdline)
		}
		p.clamp(len(p.rows))
		return p, nil
	}
	p.cursor.move(p.keys.step(msg), len(p.rows))
	return p, nil
}

// View draws the pane in its box.
func (p socketsPane) View(bool) []string {
	st := p.b.styles
	w, h := p.w, p.h
	const stateW, timerW = 12, 9
	addrW := min(max((w-2-stateW-timerW-26)/2, 16), 46) // the owner keeps 26 columns
	body := []string{st.header.Render(fit("STATE", stateW) + fit("LOCAL", addrW) + fit("REMOTE", addrW) +
		fit("TIMER", timerW) + "OWNER")}
	switch {
	case p.err != nil:
		body = append(body, st.statusErr.Render("! "+termsafe.Error(p.err)))
	case !p.loaded:
		body = append(body, st.dim.Render("reading the sockets…"))
	case p.total == 0:
		body = append(body, st.dim.Render("no sockets match (any more)"))
	}
	rows := make([]string, 0, len(p.rows))
	for _, r := range p.rows {
		timer := "-"
		if r.Expires > 0 {
			timer = r.Expires.Round(time.Second).String()
		}
		owner := "-"
		switch {
		case r.Owner.PID != 0 && r.Opened:
			owner = fmt.Sprintf("opened by pid %d (%s)", r.Owner.PID, r.Owner.Command)
		case r.Owner.PID != 0:
			owner = fmt.Sprintf("pid %d (%s)", r.Owner.PID, r.Owner.Command)
		case r.Inode == 0:
			owner = "(no process: " + r.State.String() + ")"
		}
		if r.HasInfo {
			// As ss -ti: the socket's round trip and retransmits.
			owner = fmt.Sprintf("rtt %s retrans %d lost %d · ", fmtRTT(time.Duration(r.Info.RTT)*time.Microsecond), r.Info.TotalRetrans, r.Info.Lost) + owner
		}
		rows = append(rows, fit(r.State.String(), stateW)+fit(r.Local.String(), addrW)+fit(r.Remote.String(), addrW)+
			fit(timer, timerW)+owner)
	}
	body = append(body, tableRows(rows, h-4, p.row, true, st)...)
	count := humanize.Int(p.total) + " sockets"
	if p.total > len(p.rows) {
		count += fmt.Sprintf(", the first %s shown", humanize.Int(len(p.rows)))
	}
	body = append(body, st.dim.Render("esc: back · j/k: scroll"))
	return frame("Sockets · "+p.title+" · "+count, true, body, w, h, st)
}

// drillFilter is the filter for the focused pane's selected row, and what
// to call it; ok is false where there is nothing to drill into.
func (m Model) drillFilter() (f tcpinfo.SocketFilter, title string, ok bool) {
	s := m.live.snap
	if s == nil {
		return f, "", false
	}
	f.State = stateFilters[m.filt.filter]
	if m.view.focus == paneLocal || m.view.focus == paneRemote {
		// The row's sockets within the filter its table is under; the
		// pressure and process rows count every socket.
		f.View = m.filt.bar.Active()
	}
	switch m.view.focus {
	case paneLocal:
		if m.local.listeners {
			if m.local.row >= len(s.Listeners) {
				return f, "", false
			}
			l := s.Listeners[m.local.row]
			f.LocalPort = l.Local.Port()
			return f, "listener " + l.Local.String(), true
		}
		if m.local.row >= len(s.LocalPortsFolded) {
			return f, "", false
		}
		r := s.LocalPortsFolded[m.local.row]
		if r.Ports > 0 {
			f.ClientPorts = true
			return f, "client ports " + s.PortRange.String(), true
		}
		f.LocalPort = r.Port
		return f, fmt.Sprintf("local port %d", r.Port), true
	case paneRemote:
		if m.remote.row >= len(s.RemoteEndpointsFolded) {
			return f, "", false
		}
		r := s.RemoteEndpointsFolded[m.remote.row]
		f.RemoteAddr = r.Endpoint.Addr()
		if r.Ports > 0 {
			f.PeerPorts = true
		} else {
			f.RemotePort = r.Endpoint.Port()
		}
		return f, "remote " + r.String(), true
	case paneHealth:
		d, ok := m.health.selected()
		if !ok {
			return f, "", false
		}
		f.RemoteAddr, f.RemotePort, f.State = d.Remote.Addr(), d.Remote.Port(), tcpinfo.Established
		return f, "destination " + d.Remote.String(), true
	case panePressure:
		if m.pressure.row >= len(s.PortPressure) {
			return f, "", false
		}
		g := s.PortPressure[m.pressure.row]
		f.LocalAddr, f.RemoteAddr, f.RemotePort = g.Local, g.Remote.Addr(), g.Remote.Port()
		return f, g.Local.String() + " → " + g.Remote.String(), true
	case paneProcesses:
		if m.processes.services {
			if m.processes.row >= len(s.Cgroups) {
				return f, "", false
			}
			c := s.Cgroups[m.processes.row]
			f.Cgroup = c.ID
			return f, "cgroup " + c.Name, true
		}
		if pid, ok := m.processes.selectedPID(); ok {
			f.PID = pid
			return f, fmt.Sprintf("pid %d", pid), true
		}
	}
	return f, "", false
}
