package ui

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// trouble returns why state st needs attention, or "".
func (b *board) trouble(st tcpinfo.State) string {
	s := b.snap
	switch st {
	case tcpinfo.CloseWait:
		if g, ok := b.history.growth(st, 10*time.Second); ok && g > 0 && s.States[st] > 0 {
			return fmt.Sprintf("CLOSE_WAIT +%s/s: the app is not closing sockets", fmtRate(g))
		}
	case tcpinfo.SynRecv:
		if s.States[st] > 0 && b.history.rising(st, 3) {
			return "SYN_RECV piling up: handshakes are not completing"
		}
	case tcpinfo.TimeWait:
		if max := s.MaxTimeWaitBuckets; tuning.TimeWaitNearLimit(s) {
			return fmt.Sprintf("TIME_WAIT at %d%% of tcp_max_tw_buckets (%s)",
				s.Counters.TWSockets*100/uint64(max), humanize.Int(max))
		}
	}
	return ""
}

// statesPane is the histogram: a bar per non-zero state with its count,
// its change per second and a sparkline of the last minutes.
type statesPane struct{ base }

// Update does nothing: the histogram has no rows to select.
func (p statesPane) Update(tea.Msg) (statesPane, tea.Cmd) { return p, nil }

// View draws the pane in its box.
func (p statesPane) View(focused bool) []string {
	st := p.b.styles
	s := p.b.snap
	w, h := p.w, p.h
	inner := w - 2
	const nameW, countW, rateW = 12, 9, 9
	rest := max(inner-nameW-countW-rateW-3, 2)
	barW := rest / 2
	sparkW := rest - barW - 1
	body := []string{st.header.Render(fit("STATE", nameW) + padLeft("COUNT", countW) + padLeft("Δ/s", rateW) + "  " + fit("SHARE", barW) + " " + "HISTORY")}
	var reasons []string
	for _, state := range tcpinfo.AllStates() {
		n := s.States[state]
		if n == 0 {
			continue
		}
		rate := "—"
		if g, ok := p.b.history.growth(state, 0); ok {
			rate = fmtRate(g)
		}
		name := fit(state.String(), nameW)
		barStyle := st.bar
		if why := p.b.trouble(state); why != "" {
			name = st.trouble.Render(fit("!"+state.String(), nameW))
			barStyle = st.barTrouble
			reasons = append(reasons, why)
		}
		bar := strings.Repeat("█", max(1, n*barW/max(s.Total, 1)))
		body = append(body, name+padLeft(humanize.Int(n), countW)+padLeft(rate, rateW)+"  "+
			barStyle.Render(fit(bar, barW))+" "+st.dim.Render(sparkline(p.b.history.series(state, sparkW), sparkW)))
	}
	if s.Total == 0 {
		body = append(body, st.dim.Render("no TCP sockets in this network namespace"))
	}
	for _, r := range reasons {
		body = append(body, st.trouble.Render("! "+r))
	}
	return frame(paneTitle(paneStates, ""), focused, body, w, h, st)
}

// height is the rows the histogram wants: one per non-zero state.
func (b *board) nonZeroStates() int {
	n := 0
	for _, st := range tcpinfo.AllStates() {
		if b.snap.States[st] > 0 {
			n++
		}
	}
	return max(n, 1)
}

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

// localPane is the top local ports.
type localPane struct {
	base
	cursor
	keys keyMap
}

// Update moves the selection.
func (p localPane) Update(msg tea.Msg) (localPane, tea.Cmd) {
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p localPane) rows() int {
	if p.b == nil || p.b.snap == nil {
		return 0
	}
	return len(p.b.snap.TopLocalPorts)
}

// View draws the pane in its box.
func (p localPane) View(focused bool) []string {
	b, w, h := p.b, p.w, p.h
	inner := w - 2
	const portW = 7
	header, cell := b.stateColumns(inner - portW)
	rows := make([]string, 0, len(b.snap.TopLocalPorts))
	for _, r := range b.snap.TopLocalPorts {
		rows = append(rows, fit(fmt.Sprint(r.Port), portW)+cell(&r.States))
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
	base
	cursor
	keys keyMap
}

// Update moves the selection.
func (p remotePane) Update(msg tea.Msg) (remotePane, tea.Cmd) {
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p remotePane) rows() int {
	if p.b == nil || p.b.snap == nil {
		return 0
	}
	return len(p.b.snap.TopRemoteEndpoints)
}

// View draws the pane in its box.
func (p remotePane) View(focused bool) []string {
	b, w, h := p.b, p.w, p.h
	inner := w - 2
	epW := min(max(inner/3, 16), 41)
	header, cell := b.stateColumns(inner - epW)
	rows := make([]string, 0, len(b.snap.TopRemoteEndpoints))
	for _, r := range b.snap.TopRemoteEndpoints {
		rows = append(rows, fit(r.Endpoint.String(), epW-1)+" "+cell(&r.States))
	}
	body := []string{b.styles.header.Render(fit("ENDPOINT", epW) + header)}
	if len(rows) == 0 {
		body = append(body, b.styles.dim.Render("no sockets match"))
	}
	body = append(body, tableRows(rows, h-3, p.row, focused, b.styles)...)
	return frame(b.tableTitle(paneRemote), focused, body, w, h, b.styles)
}

type groupKey struct {
	local  netip.Addr
	remote netip.AddrPort
}

// newPerSecond estimates a group's new connections per second. With a
// previous poll it is the growth of its used ports plus the ports its
// expiring TIME_WAIT sockets free meanwhile, which is right while the rate
// ramps up, holds steady, or stops after a burst. On the first poll only
// the kernel's timers can say: TIME_WAIT sockets younger than ten seconds.
func (b *board) newPerSecond(g tcpinfo.PressureGroup, prev map[groupKey]tcpinfo.PressureGroup) float64 {
	window := tcpinfo.RecentWindow.Seconds()
	if p, ok := prev[groupKey{g.Local, g.Remote}]; ok && b.prev != nil {
		if dt := b.snap.Time.Sub(b.prev.Time).Seconds(); dt > 0 {
			return max(0, float64(g.Used-p.Used)/dt+float64(g.ExpiringTimeWait)/window)
		}
	}
	return float64(g.RecentTimeWait) / window
}

// pressurePane is port pressure: each destination group's share of the
// ephemeral range, fullest first.
type pressurePane struct {
	base
	cursor
	keys keyMap
}

// Update moves the selection.
func (p pressurePane) Update(msg tea.Msg) (pressurePane, tea.Cmd) {
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p pressurePane) rows() int {
	if p.b == nil || p.b.snap == nil {
		return 0
	}
	return len(p.b.snap.PortPressure)
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
	gaugeW := max(inner-routeW-5*numW-1, 4)
	header := st.header.Render(fit("LOCAL → DESTINATION", routeW) + " " + fit("USED OF CAPACITY", gaugeW) +
		padLeft("USED", numW) + padLeft("CAP", numW) + padLeft("USE%", numW) + padLeft("TW%", numW) + padLeft("NEW/S", numW))
	rows := make([]string, 0, len(b.snap.PortPressure))
	for _, g := range b.snap.PortPressure {
		filled := min(int(g.Ratio*float64(gaugeW)+0.5), gaugeW)
		style := st.gaugeFill
		if g.Ratio >= tuning.PressureCritical {
			style = st.trouble
		} else if g.Ratio >= tuning.PressureWarn {
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
			padLeft(fmtRate(b.newPerSecond(g, prev)), numW))
	}
	body := []string{header}
	if len(rows) == 0 {
		body = append(body, st.dim.Render(fmt.Sprintf("no outgoing connections from the ephemeral range %s", b.snap.PortRange)))
	}
	body = append(body, tableRows(rows, h-3, p.row, focused, st)...)
	return frame(paneTitle(panePressure, fmt.Sprintf("%s ports per local address → destination", humanize.Int(b.snap.PortRange.Capacity()))),
		focused, body, w, h, st)
}
