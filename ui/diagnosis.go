package ui

import (
	"fmt"
	"time"

	"github.com/tcpdash/tcpdash/diagnose"
	"github.com/tcpdash/tcpdash/internal/termsafe"
)

// rediagnose recomputes the findings from their inputs: the newest
// snapshot, the one before it and the sysctl settings. It is called where
// those change, once, rather than in every render (a tick, a key and a
// resize render too, with the same inputs).
func (m *Model) rediagnose() {
	m.findings = nil
	if m.snap != nil {
		m.findings = diagnose.Diagnose(m.snap, m.prev, m.tuning.Settings())
	}
}

// attributionLine says how process attribution stands, and what it costs.
func (m Model) attributionLine() string {
	switch {
	case m.cfg.Owners == nil:
		return "processes: off"
	case m.ownersErr != nil:
		return "processes: " + termsafe.Error(m.ownersErr)
	case m.owners == nil:
		return "processes: reading /proc…"
	}
	age := time.Since(m.owners.Time).Round(time.Second)
	if m.snap != nil {
		age = m.snap.Time.Sub(m.owners.Time).Round(time.Second)
	}
	return fmt.Sprintf("processes: /proc walk %s, %s old", roundDump(m.owners.Took), max(age, 0))
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
	switch {
	case crit > 0:
		return m.styles.trouble.Render(fmt.Sprintf("! %d critical: %s (7)", crit, findings[0].Title))
	case warn > 0:
		return m.styles.warn.Render(fmt.Sprintf("%d warning(s) (7)", warn))
	}
	return ""
}
