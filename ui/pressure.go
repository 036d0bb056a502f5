package ui

import (
	"fmt"
	"net/netip"
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
// ephemeral range, fullest first.
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
	routeW = min(routeW, inner/2)
	// CLOSE/S, when the destroy notifications are read: every close,
	// those born and gone between polls included.
	closes := b.snap.Closes.Watching
	cols := 5
	if closes {
		cols++
	}
	// Who opens the connections, where the width allows.
	openerW := 0
	if inner >= 150 {
		openerW = 28
	}
	gaugeW := max(inner-routeW-cols*numW-1-openerW, 4)
	// Column names abbreviate, rather than being cut, when narrow.
	gaugeName := "USED OF CAPACITY"
	if gaugeW < lipgloss.Width(gaugeName) {
		gaugeName = "GAUGE"
	}
	header := st.header.Render(fit("LOCAL → DESTINATION", routeW) + " " + fit(gaugeName, gaugeW) +
		padLeft("USED", numW) + padLeft("CAP", numW) + padLeft("USE%", numW) + padLeft("TW%", numW) + padLeft("NEW/S", numW) + closeHeader(closes, numW) + openerCell(openerW, "  OPENER"))
	rows := make([]string, 0, len(b.snap.PortPressure))
	for _, g := range b.snap.PortPressure {
		filled := min(int(g.Ratio*float64(gaugeW)+0.5), gaugeW)
		style := st.gaugeFill
		if g.Ratio >= diagnose.PressureCritical {
			style = st.trouble
		} else if g.Ratio >= diagnose.PressureWarn {
			style = st.warn
		}
		gauge := style.Render(strings.Repeat("█", filled)) + st.gaugeEmpty.Render(strings.Repeat("░", gaugeW-filled))
		twShare := 0
		if g.Used > 0 {
			twShare = g.TimeWait * 100 / g.Used
		}
		rows = append(rows, fit(g.Local.String()+" → "+g.Remote.String(), routeW)+" "+gauge+
			padLeft(humanize.Int(g.Used), numW)+padLeft(humanize.Int(g.Capacity), numW)+
			padLeft(fmt.Sprintf("%.1f", g.Ratio*100), numW)+padLeft(fmt.Sprint(twShare), numW)+
			padLeft(fmtRate(b.newPerSecond(g, prev)), numW)+closeCell(closes, g.ClosesPerS, numW)+openerCell(openerW, "  "+openerOf(g)))
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

// openerCell is s in a column of width w, or nothing when w is 0.
func openerCell(w int, s string) string {
	if w == 0 {
		return ""
	}
	return fit(s, w)
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
