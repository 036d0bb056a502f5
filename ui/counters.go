package ui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// countersPane shows per-second rates of the kernel counters.
type countersPane struct{ base }

// Update does nothing: the counters have no rows to select.
func (p countersPane) Update(tea.Msg) (countersPane, tea.Cmd) { return p, nil }

// View draws the pane in its box.
func (p countersPane) View(focused bool) []string {
	st := p.b.styles
	snap, prev := p.b.snap, p.b.prev
	w, h := p.w, p.h
	c := snap.Counters
	type row struct {
		name    string
		v       func(tcpinfo.Counters) uint64
		trouble bool // any increase is bad news
	}
	rows := []row{
		{"ActiveOpens", func(c tcpinfo.Counters) uint64 { return c.ActiveOpens }, false},
		{"PassiveOpens", func(c tcpinfo.Counters) uint64 { return c.PassiveOpens }, false},
		{"TW", func(c tcpinfo.Counters) uint64 { return c.TW }, false},
		{"TWRecycled", func(c tcpinfo.Counters) uint64 { return c.TWRecycled }, false},
		{"TCPTimeWaitOverflow", func(c tcpinfo.Counters) uint64 { return c.TCPTimeWaitOverflow }, true},
		{"ListenOverflows", func(c tcpinfo.Counters) uint64 { return c.ListenOverflows }, true},
		{"ListenDrops", func(c tcpinfo.Counters) uint64 { return c.ListenDrops }, true},
		{"AttemptFails", func(c tcpinfo.Counters) uint64 { return c.AttemptFails }, true},
		{"EstabResets", func(c tcpinfo.Counters) uint64 { return c.EstabResets }, false},
	}
	const nameW, rateW = 20, 10
	body := []string{st.header.Render(fit("COUNTER", nameW) + padLeft("/s", rateW) + padLeft("TOTAL", 14))}
	var dt float64
	if prev != nil {
		dt = snap.Time.Sub(prev.Time).Seconds()
	}
	for _, r := range rows {
		rate := "—"
		bad := false
		if dt > 0 {
			// Counters only go up; a reset (new namespace) shows as 0.
			now, then := r.v(c), r.v(prev.Counters)
			d := 0.0
			if now >= then {
				d = float64(now-then) / dt
			}
			rate = fmtRate(d)
			bad = r.trouble && d > 0
		}
		name := fit(r.name, nameW)
		line := name + padLeft(rate, rateW) + padLeft(humanize.Int(int(r.v(c))), 14)
		if bad {
			line = st.trouble.Render("!" + fit(r.name, nameW-1) + padLeft(rate, rateW) + padLeft(humanize.Int(int(r.v(c))), 14))
		}
		body = append(body, line)
	}
	tw := fmt.Sprintf("tw sockets %s", humanize.Int(int(c.TWSockets)))
	if mx := snap.MaxTimeWaitBuckets; mx > 0 {
		tw += fmt.Sprintf(" of %s max", humanize.Int(mx))
	}
	body = append(body, st.dim.Render(fmt.Sprintf("%s · orphans %s · in use %s", tw, humanize.Int(int(c.Orphan)), humanize.Int(int(c.InUse+c.InUse6)))))
	return frame(paneTitle(paneCounters, ""), focused, body, w, h, st)
}
