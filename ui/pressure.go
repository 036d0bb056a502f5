package ui

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

type groupKey struct {
	local  netip.Addr
	remote netip.AddrPort
}

// newPerSecond is a group's new connections per second, from the one
// model of a group's rates (diagnose.RatesOf).
func (b *board) newPerSecond(g tcpinfo.PressureGroup, prev map[groupKey]tcpinfo.PressureGroup) float64 {
	var then *tcpinfo.PressureGroup
	var dt float64
	if p, ok := prev[groupKey{g.Local, g.Remote}]; ok && b.prev != nil {
		then, dt = &p, b.snap.Time.Sub(b.prev.Time).Seconds()
	}
	return diagnose.RatesOf(g, then, dt).Opens
}

// pressurePane is port pressure: each destination group's share of the
// ephemeral range, in the order of the snapshot: the most ports connect()
// cannot take first.
type pressurePane struct {
	table
}

// Update moves the selection.
func (p pressurePane) Update(msg tea.Msg) (pressurePane, tea.Cmd) {
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p pressurePane) rows() int {
	if s := p.snap(); s != nil {
		return len(s.PortPressure)
	}
	return 0
}

// View draws the pane in its box.
func (p pressurePane) View(focused bool) []string {
	b, w, h := p.b, p.w, p.h
	st := b.styles
	inner := w - 2
	prev := map[groupKey]tcpinfo.PressureGroup{}
	if b.prev != nil {
		for _, g := range b.prev.PortPressure {
			prev[groupKey{g.Local, g.Remote}] = g
		}
	}
	const numW = 8
	routeW := lipgloss.Width("LOCAL → DESTINATION")
	for _, g := range b.snap.PortPressure {
		routeW = max(routeW, len(g.Local.String())+3+len(g.Remote.String()))
	}
	// CLOSE/S, when the destroy notifications are read: every close,
	// those born and gone between polls included.
	closes := b.snap.Closes.Watching
	// Columns by priority: the route keeps its whole width up to what
	// the three that say how close the group is to failing (USED, USE%,
	// NEW/S) leave it; then the rest come in order of priority while
	// they fit, and the gauge takes what is left (at least 4 cells),
	// rather than any being cut. They are drawn in reading order.
	type column struct {
		name string
		prio int // 0 first
		w    int
		cell func(g tcpinfo.PressureGroup) string
		on   bool
	}
	// REUSE, where connect() takes over TIME_WAIT ports (tcp_tw_reuse
	// over loopback): why a group that uses many ports ranks below one
	// that holds fewer, which the gauge shows where it has room.
	reuse := b.snap.HasReusableTimeWait()
	cols := []column{
		{"USED", 0, numW, func(g tcpinfo.PressureGroup) string { return humanize.Int(g.Used) }, false},
		{"CAP", 5, numW, func(g tcpinfo.PressureGroup) string { return humanize.Int(g.Capacity) }, false},
		{"USE%", 1, numW, func(g tcpinfo.PressureGroup) string { return fmt.Sprintf("%.1f", g.Ratio*100) }, false},
		{"REUSE", 4, numW, func(g tcpinfo.PressureGroup) string {
			if g.ReuseAfter == 0 { // connect() takes over none of its ports: as the report says it
				return "-"
			}
			return humanize.Int(g.ReusableTimeWait)
		}, false},
		{"TW%", 6, numW, func(g tcpinfo.PressureGroup) string {
			if g.Used == 0 {
				return "0"
			}
			return fmt.Sprint(g.TimeWait * 100 / g.Used)
		}, false},
		{"NEW/S", 2, numW, func(g tcpinfo.PressureGroup) string { return fmtRate(b.newPerSecond(g, prev)) }, false},
		{"CLOSE/S", 3, numW, func(g tcpinfo.PressureGroup) string { return fmtRate(g.ClosesPerS) }, false},
		{"OPENER", 7, 28, openerOf, false},
	}
	const must = 3
	routeW = min(routeW, max(inner-must*numW-1, lipgloss.Width("LOCAL → DESTINATION")))
	left := inner - routeW - 1
	for prio := range len(cols) {
		for i := range cols {
			c := &cols[i]
			switch {
			case c.prio != prio,
				c.name == "CLOSE/S" && !closes,
				c.name == "REUSE" && !reuse,
				c.name == "OPENER" && inner < 150, // who opens them: where the width allows
				c.w > left:
				continue
			}
			c.on, left = true, left-c.w
		}
	}
	gaugeW := left
	if gaugeW < 4 {
		gaugeW = 0
	}
	// Column names abbreviate, rather than being cut, when narrow.
	gaugeName := "USED OF CAPACITY"
	if gaugeW < lipgloss.Width(gaugeName) {
		gaugeName = "GAUGE"
	}
	shown := slices.DeleteFunc(cols, func(c column) bool { return !c.on })
	cell := func(c column, s string) string {
		if c.name == "OPENER" {
			return fit("  "+s, c.w)
		}
		return padLeft(s, c.w)
	}
	header := fit("LOCAL → DESTINATION", routeW) + " "
	if gaugeW > 0 {
		header += fit(gaugeName, gaugeW)
	}
	for _, c := range shown {
		header += cell(c, c.name)
	}
	header = st.header.Render(header)
	rows := make([]string, 0, len(b.snap.PortPressure))
	for _, g := range b.snap.PortPressure {
		row := fit(g.Local.String()+" → "+g.Remote.String(), routeW) + " "
		if gaugeW > 0 {
			row += gauge(g, gaugeW, st)
		}
		for _, c := range shown {
			row += cell(c, c.cell(g))
		}
		rows = append(rows, row)
	}
	body := []string{header}
	if len(rows) == 0 {
		body = append(body, st.dim.Render(fmt.Sprintf("no outgoing connections from the ephemeral range %s", b.snap.PortRange)))
	}
	body = append(body, tableRows(rows, h-3, p.row, focused, st)...)
	return frame(paneTitle(panePressure, fmt.Sprintf("%s ports per local address → destination", humanize.Int(b.snap.GroupCapacity()))),
		focused, body, w, h, st)
}

// closeHeader and closeCell are the CLOSE/S column, when closes are
// watched (tcpinfo.Closes), and nothing otherwise.
func closeHeader(watching bool, w int) string {
	if !watching {
		return ""
	}
	return padLeft("CLOSE/S", w)
}

func closeCell(watching bool, perS float64, w int) string {
	if !watching {
		return ""
	}
	return padLeft(fmtRate(perS), w)
}

// openerOf names who holds most of a group's sockets (its TIME_WAIT
// named by the opener, with eBPF), as the exhaustion finding does.
func openerOf(g tcpinfo.PressureGroup) string {
	switch {
	case g.OpenerSockets == 0:
		return "-"
	case g.Opener.PID != 0:
		return fmt.Sprintf("%s (pid %d)", g.Opener.Command, g.Opener.PID)
	case g.OpenerCgroupName != "":
		return g.OpenerCgroupName
	}
	return "-"
}

// gauge draws g's ports in w cells: those connect() cannot take in full
// blocks, coloured by their share (the findings' thresholds), then those
// in TIME_WAIT it takes over (over loopback, tcp_tw_reuse) shaded, then
// the free ones.
func gauge(g tcpinfo.PressureGroup, w int, st *styles) string {
	cells := func(r float64) int { return min(max(int(r*float64(w)+0.5), 0), w) }
	used, held := cells(g.Ratio), cells(g.HeldRatio())
	held = min(held, used)
	style := st.gaugeFill
	if r := g.HeldRatio(); r >= diagnose.PressureCritical {
		style = st.trouble
	} else if r >= diagnose.PressureWarn {
		style = st.warn
	}
	return style.Render(strings.Repeat("█", held)) + st.dim.Render(strings.Repeat("▒", used-held)) +
		st.gaugeEmpty.Render(strings.Repeat("░", w-used))
}
