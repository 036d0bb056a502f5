package ui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// localPane is the top local ports, and (l) the listeners.
type localPane struct {
	table
	// listeners shows each listening socket's queues instead.
	listeners bool
}

// Update moves the selection and switches the view.
func (p localPane) Update(msg tea.Msg) (localPane, tea.Cmd) {
	if km, ok := msg.(tea.KeyPressMsg); ok && key.Matches(km, p.keys.Listeners) {
		p.listeners, p.row = !p.listeners, 0
		return p, nil
	}
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p localPane) rows() int {
	switch s := p.snap(); {
	case s == nil:
		return 0
	case p.listeners:
		return len(s.Listeners)
	default:
		return len(s.LocalPortsFolded)
	}
}

// View draws the pane in its box.
func (p localPane) View(focused bool) []string {
	if p.listeners {
		return p.listenersView(focused)
	}
	b, w, h := p.b, p.w, p.h
	inner := w - 2
	// Client ports fold into one row, which needs the room to say so
	// (the range is in the header).
	portW := 7
	for _, r := range b.snap.LocalPortsFolded {
		if r.Ports > 0 {
			portW = min(max(portW, lipgloss.Width(r.Label(tcpinfo.PortRange{}))+1), inner/2)
		}
	}
	header, cell := b.stateColumns(inner - portW)
	rows := make([]string, 0, len(b.snap.LocalPortsFolded))
	for _, r := range b.snap.LocalPortsFolded {
		rows = append(rows, fit(r.Label(tcpinfo.PortRange{}), portW-1)+" "+cell(&r.States))
	}
	body := []string{b.styles.header.Render(fit("PORT", portW) + header)}
	if len(rows) == 0 {
		body = append(body, b.styles.dim.Render("no sockets match"))
	}
	body = append(body, tableRows(rows, h-3, p.row, focused, b.styles)...)
	return frame(b.tableTitle(paneLocal), focused, body, w, h, b.styles)
}

// remotePane is the top remote endpoints.
type remotePane struct {
	table
}

// Update moves the selection.
func (p remotePane) Update(msg tea.Msg) (remotePane, tea.Cmd) {
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p remotePane) rows() int {
	if s := p.snap(); s != nil {
		return len(s.RemoteEndpointsFolded)
	}
	return 0
}

// View draws the pane in its box.
func (p remotePane) View(focused bool) []string {
	b, w, h := p.b, p.w, p.h
	inner := w - 2
	const closeW = 8
	// The endpoint column is as wide as its longest endpoint (an IPv6
	// one with a zone is 50 cells), leaving room for TOTAL and two
	// states; the state columns take the rest, as many as fit.
	epW := len("ENDPOINT") + 1
	for _, r := range b.snap.RemoteEndpointsFolded {
		epW = max(epW, lipgloss.Width(r.String())+1)
	}
	epW = min(epW, max(inner-3*8-closeW, 16))
	closes := b.snap.Closes.Watching
	statesW := inner - epW
	if closes {
		statesW -= closeW
	}
	header, cell := b.stateColumns(statesW)
	rows := make([]string, 0, len(b.snap.RemoteEndpointsFolded))
	for _, r := range b.snap.RemoteEndpointsFolded {
		c := closeCell(closes, r.ClosesPerS, closeW)
		if closes && r.Ports > 0 {
			c = padLeft("·", closeW) // a peer's folded ports: a server's side
		}
		rows = append(rows, fit(r.String(), epW-1)+" "+fit(cell(&r.States), statesW)+c)
	}
	body := []string{b.styles.header.Render(fit("ENDPOINT", epW) + fit(header, statesW) + closeHeader(closes, closeW))}
	if len(rows) == 0 {
		body = append(body, b.styles.dim.Render("no sockets match"))
	}
	body = append(body, tableRows(rows, h-3, p.row, focused, b.styles)...)
	return frame(b.tableTitle(paneRemote), focused, body, w, h, b.styles)
}

// listenersView is each listening socket: its accept queue against its
// backlog, handshakes in progress and owner; a full queue drops new
// connections.
func (p localPane) listenersView(focused bool) []string {
	b, w, h := p.b, p.w, p.h
	st := b.styles
	inner := w - 2
	const addrW, numW = 21, 10
	// The namespace counts overflows, not listeners: its rate is put
	// down to a full queue when exactly one is full.
	drops, full := "—", 0
	for _, l := range b.snap.Listeners {
		if l.Full() {
			full++
		}
	}
	if b.prev != nil && full == 1 {
		if dt := b.snap.Time.Sub(b.prev.Time).Seconds(); dt > 0 {
			now, then := b.snap.Counters.ListenOverflows, b.prev.Counters.ListenOverflows
			drops = fmtRate(float64(now-min(now, then)) / dt)
		}
	}
	body := []string{st.header.Render(fit("LISTEN", addrW) + padLeft("ACCEPT Q", numW) + padLeft("SYN_RECV", numW) +
		padLeft("DROPS/S", numW) + "  " + fit("OWNER", max(inner-addrW-3*numW-2, 0)))}
	rows := make([]string, 0, len(b.snap.Listeners))
	for _, l := range b.snap.Listeners {
		d := "·"
		if l.Full() {
			d = drops
		}
		owner := "-"
		if l.Owner.PID != 0 {
			owner = fmt.Sprintf("pid %d (%s)", l.Owner.PID, l.Owner.Command)
		}
		q := padLeft(humanize.Int(l.AcceptQueue)+" / "+humanize.Int(l.Backlog), numW)
		if l.Full() {
			q = st.trouble.Render(padLeft(fmt.Sprintf("!%d / %d", l.AcceptQueue, l.Backlog), numW))
		}
		rows = append(rows, fit(l.Local.String(), addrW)+q+padLeft(humanize.Int(l.SynRecv), numW)+padLeft(d, numW)+"  "+owner)
	}
	if len(rows) == 0 {
		body = append(body, st.dim.Render("no listening sockets"))
	}
	body = append(body, tableRows(rows, h-3, p.row, focused, st)...)
	return frame(paneTitle(paneLocal, "listeners (l: ports)"), focused, body, w, h, st)
}
