package ui

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// trouble returns why state st needs attention, or "".
func (m Model) trouble(st tcpinfo.State) string {
	s := m.snap
	switch st {
	case tcpinfo.CloseWait:
		if g, ok := m.history.growth(st, 10*time.Second); ok && g > 0 && s.States[st] > 0 {
			return fmt.Sprintf("CLOSE_WAIT +%s/s: the app is not closing sockets", fmtRate(g))
		}
	case tcpinfo.SynRecv:
		if s.States[st] > 0 && m.history.rising(st, 3) {
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
func (m Model) statesPane(w, h int) []string {
	st := m.styles
	s := m.snap
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
		if g, ok := m.history.growth(state, 0); ok {
			rate = fmtRate(g)
		}
		name := fit(state.String(), nameW)
		barStyle := st.bar
		if why := m.trouble(state); why != "" {
			name = st.trouble.Render(fit("!"+state.String(), nameW))
			barStyle = st.barTrouble
			reasons = append(reasons, why)
		}
		bar := strings.Repeat("█", max(1, n*barW/max(s.Total, 1)))
		body = append(body, name+padLeft(humanize.Int(n), countW)+padLeft(rate, rateW)+"  "+
			barStyle.Render(fit(bar, barW))+" "+st.dim.Render(sparkline(m.history.series(state, sparkW), sparkW)))
	}
	if s.Total == 0 {
		body = append(body, st.dim.Render("no TCP sockets in this network namespace"))
	}
	for _, r := range reasons {
		body = append(body, st.trouble.Render("! "+r))
	}
	return frame(m.paneTitle(paneStates, ""), m.focus == paneStates, body, w, h, st)
}

// countersPane shows per-second rates of the kernel counters.
func (m Model) countersPane(w, h int) []string {
	st := m.styles
	c := m.snap.Counters
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
	if m.prev != nil {
		dt = m.snap.Time.Sub(m.prev.Time).Seconds()
	}
	for _, r := range rows {
		rate := "—"
		bad := false
		if dt > 0 {
			// Counters only go up; a reset (new namespace) shows as 0.
			now, then := r.v(c), r.v(m.prev.Counters)
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
	if mx := m.snap.MaxTimeWaitBuckets; mx > 0 {
		tw += fmt.Sprintf(" of %s max", humanize.Int(mx))
	}
	body = append(body, st.dim.Render(fmt.Sprintf("%s · orphans %s · in use %s", tw, humanize.Int(int(c.Orphan)), humanize.Int(int(c.InUse+c.InUse6)))))
	return frame(m.paneTitle(paneCounters, ""), m.focus == paneCounters, body, w, h, st)
}

// tableTitle names the pane and what the tables are filtered by.
func (m Model) tableTitle(p pane) string {
	var extra []string
	if s := stateFilters[m.filter]; s != 0 {
		extra = append(extra, s.String())
	}
	if t := m.filterText(); t != "" {
		extra = append(extra, "matching "+t)
	}
	return m.paneTitle(p, strings.Join(extra, " · "))
}

// stateColumns renders the header and cells of the per-state columns that
// fit in w cells, marking the sort column.
func (m Model) stateColumns(w int) (header string, cell func(*tcpinfo.StateCounts) string) {
	const colW = 8
	names := map[tcpinfo.State]string{tcpinfo.Established: "ESTAB", tcpinfo.TimeWait: "T_WAIT",
		tcpinfo.CloseWait: "C_WAIT", tcpinfo.SynRecv: "SYN_R", tcpinfo.FinWait2: "FIN_W2", tcpinfo.Listen: "LISTEN"}
	n := min(max((w-colW)/colW, 0), len(columns))
	mark := func(i int, label string) string {
		if m.sort == i {
			label += "▼"
		}
		return padLeft(label, colW)
	}
	header = mark(0, "TOTAL")
	for i, st := range columns[:n] {
		header += mark(i+1, names[st])
	}
	cell = func(c *tcpinfo.StateCounts) string {
		s := padLeft(humanize.Int(c.Total()), colW)
		for _, st := range columns[:n] {
			v := "·"
			if c[st] > 0 {
				v = humanize.Int(c[st])
			}
			s += padLeft(v, colW)
		}
		return s
	}
	return header, cell
}

// tableRows renders rows with the cursor's row highlighted when focused,
// scrolled so that the cursor stays visible in h lines.
func (m Model) tableRows(p pane, rows []string, h int) []string {
	cur := m.cursor[p]
	off := max(0, cur-h+1)
	out := make([]string, 0, h)
	for i := off; i < len(rows) && len(out) < h; i++ {
		if i == cur && m.focus == p {
			out = append(out, m.styles.selected.Render(rows[i]))
			continue
		}
		out = append(out, rows[i])
	}
	return out
}

func (m Model) localPane(w, h int) []string {
	inner := w - 2
	const portW = 7
	header, cell := m.stateColumns(inner - portW)
	rows := make([]string, 0, len(m.snap.TopLocalPorts))
	for _, r := range m.snap.TopLocalPorts {
		rows = append(rows, fit(fmt.Sprint(r.Port), portW)+cell(&r.States))
	}
	body := []string{m.styles.header.Render(fit("PORT", portW) + header)}
	if len(rows) == 0 {
		body = append(body, m.styles.dim.Render("no sockets match"))
	}
	body = append(body, m.tableRows(paneLocal, rows, h-3)...)
	return frame(m.tableTitle(paneLocal), m.focus == paneLocal, body, w, h, m.styles)
}

func (m Model) remotePane(w, h int) []string {
	inner := w - 2
	epW := min(max(inner/3, 16), 41)
	header, cell := m.stateColumns(inner - epW)
	rows := make([]string, 0, len(m.snap.TopRemoteEndpoints))
	for _, r := range m.snap.TopRemoteEndpoints {
		rows = append(rows, fit(r.Endpoint.String(), epW-1)+" "+cell(&r.States))
	}
	body := []string{m.styles.header.Render(fit("ENDPOINT", epW) + header)}
	if len(rows) == 0 {
		body = append(body, m.styles.dim.Render("no sockets match"))
	}
	body = append(body, m.tableRows(paneRemote, rows, h-3)...)
	return frame(m.tableTitle(paneRemote), m.focus == paneRemote, body, w, h, m.styles)
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
func (m Model) newPerSecond(g tcpinfo.PressureGroup, prev map[groupKey]tcpinfo.PressureGroup) float64 {
	window := tcpinfo.RecentWindow.Seconds()
	if p, ok := prev[groupKey{g.Local, g.Remote}]; ok && m.prev != nil {
		if dt := m.snap.Time.Sub(m.prev.Time).Seconds(); dt > 0 {
			return max(0, float64(g.Used-p.Used)/dt+float64(g.ExpiringTimeWait)/window)
		}
	}
	return float64(g.RecentTimeWait) / window
}

func (m Model) pressurePane(w, h int) []string {
	st := m.styles
	inner := w - 2
	prev := map[groupKey]tcpinfo.PressureGroup{}
	if m.prev != nil {
		for _, g := range m.prev.PortPressure {
			prev[groupKey{g.Local, g.Remote}] = g
		}
	}
	const numW = 8
	routeW := lipgloss.Width("LOCAL → DESTINATION")
	for _, g := range m.snap.PortPressure {
		routeW = max(routeW, len(g.Local.String())+3+len(g.Remote.String()))
	}
	routeW = min(routeW, inner/2)
	gaugeW := max(inner-routeW-5*numW-1, 4)
	header := st.header.Render(fit("LOCAL → DESTINATION", routeW) + " " + fit("USED OF CAPACITY", gaugeW) +
		padLeft("USED", numW) + padLeft("CAP", numW) + padLeft("USE%", numW) + padLeft("TW%", numW) + padLeft("NEW/S", numW))
	rows := make([]string, 0, len(m.snap.PortPressure))
	for _, g := range m.snap.PortPressure {
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
			padLeft(fmtRate(m.newPerSecond(g, prev)), numW))
	}
	body := []string{header}
	if len(rows) == 0 {
		body = append(body, st.dim.Render(fmt.Sprintf("no outgoing connections from the ephemeral range %s", m.snap.PortRange)))
	}
	body = append(body, m.tableRows(panePressure, rows, h-3)...)
	return frame(m.paneTitle(panePressure, fmt.Sprintf("%s ports per local address → destination", humanize.Int(m.snap.PortRange.Capacity()))),
		m.focus == panePressure, body, w, h, st)
}
