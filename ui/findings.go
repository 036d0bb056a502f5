package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
)

// findingsPane is the findings, most severe first, the selected one with
// its evidence and fix.
type findingsPane struct {
	table
}

// Update moves the selection.
func (p findingsPane) Update(msg tea.Msg) (findingsPane, tea.Cmd) {
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p findingsPane) rows() int {
	if p.b == nil {
		return 0
	}
	return len(p.b.findings)
}

// View draws the pane in its box; it takes the whole body when focused.
func (p findingsPane) View(focused bool) []string {
	b, w, h := p.b, p.w, p.h
	findings := b.findings
	st := b.styles
	inner := w - 2
	var body []string
	if len(findings) == 0 {
		body = append(body, st.good.Render("no findings: nothing here looks wrong"))
	}
	cur := min(p.row, max(len(findings)-1, 0))
	// Each finding whole, wrapped rather than cut; the selected one's
	// evidence and fix below.
	const labelW = 9
	for i, f := range findings {
		style := st.warn
		if f.Severity == diagnose.Critical {
			style = st.trouble
		}
		for j, l := range wrap(f.Title, inner-labelW) {
			label := fit(strings.ToUpper(f.Severity.String()), labelW)
			if j > 0 {
				label = strings.Repeat(" ", labelW)
			}
			if i == cur {
				body = append(body, st.selected.Render(label+l))
			} else {
				body = append(body, style.Render(label)+l)
			}
		}
	}
	if cur < len(findings) {
		f := findings[cur]
		body = append(body, "")
		body = append(body, wrap(st.header.Render("evidence: ")+strings.Join(f.Evidence, "; "), inner)...)
		body = append(body, wrap(st.header.Render("fix: ")+f.Detail, inner)...)
	}
	return frame(paneTitle(paneFindings, ""), focused, body, w, h, st)
}
