package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/termsafe"
)

// rediagnose recomputes the findings from their inputs: the newest
// snapshot, the one before it and the sysctl settings. It is called where
// those change, once, rather than in every render (a tick, a key and a
// resize render too, with the same inputs).
func (m *Model) rediagnose() {
	m.live.findings, m.live.advice = nil, nil
	if m.live.snap != nil {
		m.live.findings, m.live.advice = diagnose.Advise(m.live.snap, m.live.prev, m.live.settings)
	}
}

// attributionLine says how process attribution stands, and what it costs.
func (m Model) attributionLine() string {
	switch {
	case m.view.recorded && m.live.snap != nil && m.live.snap.Attribution.Enabled:
		return "processes: as recorded"
	case m.view.recorded:
		return "processes: not recorded"
	case m.cfg.Owners == nil:
		return "processes: off"
	case m.own.ownersErr != nil:
		return "processes: " + termsafe.Error(m.own.ownersErr)
	case m.own.owners == nil:
		return "processes: reading /proc…"
	}
	age := time.Since(m.own.owners.Time).Round(time.Second)
	if m.live.snap != nil {
		age = m.live.snap.Time.Sub(m.own.owners.Time).Round(time.Second)
	}
	src := "processes: "
	if m.live.snap != nil && m.live.snap.Attribution.Openers.Name == "ebpf" {
		src += "eBPF + "
	}
	return fmt.Sprintf("%s/proc walk %s, %s old", src, roundDump(m.own.owners.Took), max(age, 0))
}

// findingsBadge is the header's word on severe findings.
func (m Model) findingsBadge(findings []diagnose.Finding) string {
	crit, warn := 0, 0
	for _, f := range findings {
		switch f.Severity {
		case diagnose.Critical:
			crit++
		case diagnose.Warning:
			warn++
		}
	}
	// A short badge: the findings themselves are in the strip below the
	// header, and in full on 7.
	switch {
	case crit > 0 && warn > 0:
		return m.styles.trouble.Render(fmt.Sprintf("! %d critical, %d warning (7)", crit, warn))
	case crit > 0:
		return m.styles.trouble.Render(fmt.Sprintf("! %d critical (7)", crit))
	case warn > 0:
		return m.styles.warn.Render(fmt.Sprintf("%d warning (7)", warn))
	}
	return ""
}

// findingsStrip is the first screen's word on what is wrong: a line per
// finding (two where one is too short, see below), most severe first, as
// many as fit in maxLines, the rest counted. The header's badge and the findings pane read the same
// findings, so they agree at every moment.
func (m Model) findingsStrip(w, maxLines int) []string {
	f := m.live.findings
	if len(f) == 0 || maxLines <= 0 {
		return nil
	}
	st := m.styles
	n := min(len(f), maxLines)
	more := ""
	if len(f) > n {
		more = fmt.Sprintf("  +%d more (7)", len(f)-n) // counted, never cut off
	}
	const labelW = 5 // "CRIT "
	texts := make([][]string, n)
	for i, x := range f[:n] {
		text := x.Title
		if x.Short != "" {
			text = x.Short
		}
		texts[i] = wrap(text, w-labelW)
	}
	// Each finding has a line; a finding that needs a second is given
	// one, the most severe first, while the strip stays within twice its
	// lines: a finding is wrapped, not cut, unless the screen is full. A
	// strip of one line (a screen under 24 rows) stays one.
	given := make([]int, n)
	used := n
	for i := range given {
		given[i] = 1
	}
	for i := range n {
		for given[i] < len(texts[i]) && maxLines > 1 && used < 2*maxLines {
			given[i]++
			used++
		}
	}
	var out []string
	for i, x := range f[:n] {
		style, label := st.warn, "WARN "
		if x.Severity == diagnose.Critical {
			style, label = st.trouble, "CRIT "
		}
		lines := texts[i]
		if len(lines) > given[i] { // out of room: the rest of it is cut
			lines = append(lines[:given[i]-1:given[i]-1], strings.Join(lines[given[i]-1:], " "))
		}
		for j, l := range lines {
			lead := style.Render(label)
			if j > 0 {
				lead = strings.Repeat(" ", labelW)
			}
			if i == n-1 && j == len(lines)-1 && more != "" { // the count has its room
				l = strings.TrimRight(fit(l, w-labelW-lipgloss.Width(more)), " ") + st.dim.Render(more)
			}
			out = append(out, fit(lead+l, w))
		}
	}
	return out
}
