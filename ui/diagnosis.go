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

// findingsStrip is the first screen's word on what is wrong: one line per
// finding, most severe first, as many as fit in max lines, the rest
// counted. The header's badge and the findings pane read the same
// findings, so they agree at every moment.
func (m Model) findingsStrip(w, maxLines int) []string {
	f := m.live.findings
	if len(f) == 0 || maxLines <= 0 {
		return nil
	}
	st := m.styles
	n := min(len(f), maxLines)
	var out []string
	for i, x := range f[:n] {
		style, label := st.warn, "WARN "
		if x.Severity == diagnose.Critical {
			style, label = st.trouble, "CRIT "
		}
		more := ""
		if i == n-1 && len(f) > n {
			more = fmt.Sprintf("  +%d more (7)", len(f)-n) // counted, never cut off
		}
		text := x.Title
		if x.Short != "" {
			text = x.Short
		}
		title := fit(text, max(w-lipgloss.Width(label)-lipgloss.Width(more), 0))
		if more != "" {
			title = strings.TrimRight(title, " ")
		}
		out = append(out, fit(style.Render(label)+title+st.dim.Render(more), w))
	}
	return out
}
