package ui

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// healthPane is how the connections to each destination fare, from
// tcp_info (--health): RTTs and retransmits. s sorts it; enter lists a
// destination's sockets with their own.
type healthPane struct {
	table
	sort int // index into healthSorts
}

// healthSorts are the orders s cycles through.
var healthSorts = []struct {
	name string
	cmp  func(a, b tcpinfo.DestinationHealth) int
}{
	{"retransmits/s", func(a, b tcpinfo.DestinationHealth) int { return cmp.Compare(b.RetransPerS, a.RetransPerS) }},
	{"retransmitted %", func(a, b tcpinfo.DestinationHealth) int { return cmp.Compare(b.RetransPct(), a.RetransPct()) }},
	{"RTT p99", func(a, b tcpinfo.DestinationHealth) int { return cmp.Compare(b.RTTP99, a.RTTP99) }},
	{"connections", func(a, b tcpinfo.DestinationHealth) int { return cmp.Compare(b.Sockets, a.Sockets) }},
}

// Update moves the selection; s changes the order.
func (p healthPane) Update(msg tea.Msg) (healthPane, tea.Cmd) {
	if km, ok := msg.(tea.KeyPressMsg); ok && key.Matches(km, p.keys.Sort) {
		p.sort, p.row = (p.sort+1)%len(healthSorts), 0
		return p, nil
	}
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p healthPane) rows() int {
	if s := p.snap(); s != nil {
		return len(s.Health)
	}
	return 0
}

// sorted is the destinations in the pane's order: what its rows show and
// what the selection points at.
func (p healthPane) sorted() []tcpinfo.DestinationHealth {
	s := p.snap()
	if s == nil {
		return nil
	}
	rows := slices.Clone(s.Health)
	slices.SortStableFunc(rows, healthSorts[p.sort].cmp)
	return rows
}

// selected is the destination on the selected row.
func (p healthPane) selected() (tcpinfo.DestinationHealth, bool) {
	rows := p.sorted()
	if p.row >= len(rows) {
		return tcpinfo.DestinationHealth{}, false
	}
	return rows[p.row], true
}

// View draws the pane; it takes the whole body when focused.
func (p healthPane) View(focused bool) []string {
	b, w, h := p.b, p.w, p.h
	st := b.styles
	s := b.snap
	title := paneTitle(paneHealth, "per destination, from tcp_info · s: order by "+healthSorts[p.sort].name)
	if !s.HealthOn {
		return frame(title, focused, []string{st.dim.Render("health is off: start tcpdash with --health to ask the kernel for each connection's tcp_info (ss -ti)")}, w, h, st)
	}
	// The numbers are columns of 8; at 80 columns all seven fit beside
	// a destination of 22 (an IPv4 endpoint whole). Narrower, LOST and
	// then min give way, rather than anything being cut.
	const numW = 8
	inner := w - 2
	type column struct {
		name string
		cell func(d tcpinfo.DestinationHealth) string
	}
	cols := []column{
		{"CONNS", func(d tcpinfo.DestinationHealth) string { return humanize.Int(d.Sockets) }},
		{"RTT p50", func(d tcpinfo.DestinationHealth) string { return fmtRTT(d.RTTP50) }},
		{"p99", func(d tcpinfo.DestinationHealth) string { return fmtRTT(d.RTTP99) }},
		{"min", func(d tcpinfo.DestinationHealth) string { return fmtRTT(d.MinRTT) }},
		{"RETR/s", func(d tcpinfo.DestinationHealth) string {
			if !d.RatesKnown {
				return "—"
			}
			return fmtRate(d.RetransPerS)
		}},
		{"RETR%", func(d tcpinfo.DestinationHealth) string { return fmt.Sprintf("%.1f", d.RetransPct()) }},
		{"LOST", func(d tcpinfo.DestinationHealth) string { return humanize.Int(int(d.Lost)) }},
	}
	const minDestW = 16
	for _, drop := range []string{"LOST", "min"} {
		if minDestW+len(cols)*numW <= inner {
			break
		}
		cols = slices.DeleteFunc(cols, func(c column) bool { return c.name == drop })
	}
	destW := max(min(inner-len(cols)*numW, 40), minDestW)
	header := fit("DESTINATION", destW)
	for _, c := range cols {
		header += padLeft(c.name, numW)
	}
	body := []string{st.header.Render(header)}
	var rows []string
	for _, d := range p.sorted() {
		// A destination the findings name is marked, in words as well as
		// colour (NO_COLOR), by the findings' own test.
		bad := diagnose.Lossy(d) || diagnose.Slow(d)
		mark := ""
		if bad {
			mark = "!"
		}
		line := fit(mark+d.Remote.String(), destW)
		for _, c := range cols {
			line += padLeft(c.cell(d), numW)
		}
		if bad {
			line = st.trouble.Render(line)
		}
		rows = append(rows, line)
	}
	if len(rows) == 0 {
		body = append(body, st.dim.Render("no established client connections"))
	}
	body = append(body, tableRows(rows, h-3, p.row, focused, st)...)
	return frame(title, focused, body, w, h, st)
}

// fmtRTT keeps an RTT in a column: 0.3ms, 12ms, 1.2s.
func fmtRTT(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}
