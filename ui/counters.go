package ui

import (
	"fmt"
	"slices"

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
	var dt float64
	if prev != nil {
		dt = snap.Time.Sub(prev.Time).Seconds()
	}
	// The counters that name a cause come first while they rise (the
	// trouble ones first of those); the usual ones follow.
	var rows, moving []tcpinfo.CounterDef
	for _, r := range tcpinfo.RisingCounters() {
		switch {
		case r.Pane:
			rows = append(rows, r)
		case dt > 0 && r.Value(c) > r.Value(prev.Counters):
			moving = append(moving, r)
		}
	}
	slices.SortStableFunc(moving, func(a, b tcpinfo.CounterDef) int {
		return boolRank(b.Trouble) - boolRank(a.Trouble)
	})
	rows = append(moving, rows...)
	const nameW, rateW = 20, 10
	body := []string{st.header.Render(fit("COUNTER", nameW) + padLeft("/s", rateW) + padLeft("TOTAL", 14))}
	for _, r := range rows {
		rate := "—"
		bad := false
		if dt > 0 {
			// Counters only go up; a reset (new namespace) shows as 0.
			now, then := r.Value(c), r.Value(prev.Counters)
			d := 0.0
			if now >= then {
				d = float64(now-then) / dt
			}
			rate = fmtRate(d)
			bad = r.Trouble && d > 0
		}
		name := fit(r.Name, nameW)
		line := name + padLeft(rate, rateW) + padLeft(humanize.Int(int(r.Value(c))), 14)
		if bad {
			line = st.trouble.Render("!" + fit(r.Name, nameW-1) + padLeft(rate, rateW) + padLeft(humanize.Int(int(r.Value(c))), 14))
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

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
