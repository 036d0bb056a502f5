package ui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// trouble returns why state st needs attention, or "".
func (b *board) trouble(st tcpinfo.State) string {
	s := b.snap
	switch st {
	case tcpinfo.CloseWait:
		if g, ok := b.history.floorGrowth(st, 10*time.Second); ok && g > 0 && s.States[st] > 0 {
			return fmt.Sprintf("CLOSE_WAIT +%s/s: the app is not closing sockets", fmtRate(g))
		}
	case tcpinfo.SynRecv:
		if s.States[st] > 0 && b.history.rising(st, 3) {
			return "SYN_RECV piling up: handshakes are not completing"
		}
	case tcpinfo.TimeWait:
		if max := s.MaxTimeWaitBuckets; diagnose.TimeWaitNearLimit(s) {
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

// nonZeroStates is the rows the histogram wants: one per non-zero state.
func (b *board) nonZeroStates() int {
	n := 0
	for _, st := range tcpinfo.AllStates() {
		if b.snap.States[st] > 0 {
			n++
		}
	}
	return max(n, 1)
}
