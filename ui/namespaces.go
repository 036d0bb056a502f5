package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// A Fleet is every network namespace on the host (--netns all): the
// Namespaces pane lists them, and enter watches one.
type Fleet interface {
	// Overview takes a (triaged) look at every namespace.
	Overview() ([]NamespaceRow, error)
	// Watch is what the dashboard needs to watch one namespace.
	Watch(netns string) (Watch, error)
}

// A NamespaceRow is one namespace in the Namespaces pane.
type NamespaceRow struct {
	Netns string   // net:[inode]
	Names []string // ip netns names, containers, pid N (comm)
	Snap  *tcpinfo.Snapshot
	// Worst is its most severe finding, if any.
	Worst *diagnose.Finding
}

// A Watch is one namespace's sources: its snapshots, owners, sysctls and
// what the header calls it.
type Watch struct {
	Source Source
	Tuner  Tuner
	Owners func() (*tcpinfo.Owners, error)
	Netns  string
	// Where names it fully, for confirmations.
	Where string
}

type (
	fleetMsg struct {
		rows []NamespaceRow
		err  error
	}
	watchMsg struct {
		netns string
		watch Watch
		err   error
	}
)

func pollFleet(f Fleet) tea.Cmd {
	return func() tea.Msg {
		rows, err := f.Overview()
		return fleetMsg{rows, err}
	}
}

func enterNamespace(f Fleet, netns string) tea.Cmd {
	return func() tea.Msg {
		w, err := f.Watch(netns)
		return watchMsg{netns, w, err}
	}
}

// sortRows orders namespaces by their worst finding, then by sockets.
func sortRows(rows []NamespaceRow) {
	sev := func(r NamespaceRow) int {
		if r.Worst == nil {
			return -1
		}
		return int(r.Worst.Severity)
	}
	slices.SortStableFunc(rows, func(a, b NamespaceRow) int {
		return cmp.Or(cmp.Compare(sev(b), sev(a)), cmp.Compare(b.Snap.Total, a.Snap.Total), strings.Compare(a.Netns, b.Netns))
	})
	for i := range rows {
		for j, n := range rows[i].Names {
			rows[i].Names[j] = termsafe.String(n) // container and process names come from outside
		}
		if w := rows[i].Worst; w != nil {
			f := *w
			f.Title = termsafe.String(f.Title)
			rows[i].Worst = &f
		}
	}
}

// namespacesPane lists every namespace: its names, sockets by state, the
// fullest destination and the worst finding.
type namespacesPane struct {
	table
	rows []NamespaceRow
	err  error
}

// Update takes a fleet's overview, and moves the selection.
func (p namespacesPane) Update(msg tea.Msg) (namespacesPane, tea.Cmd) {
	if m, ok := msg.(fleetMsg); ok {
		p.err = m.err
		if m.err == nil {
			sortRows(m.rows)
			// Keep the selection on the same namespace as rows reorder.
			was := p.selected()
			p.rows = m.rows
			for i, r := range p.rows {
				if r.Netns == was {
					p.row = i
				}
			}
		}
		p.clamp(len(p.rows))
		return p, nil
	}
	p.cursor.move(p.keys.step(msg), len(p.rows))
	return p, nil
}

// selected is the netns of the selected row, "" if none.
func (p namespacesPane) selected() string {
	if p.row < len(p.rows) {
		return p.rows[p.row].Netns
	}
	return ""
}

// View draws the pane in its box.
func (p namespacesPane) View(focused bool) []string {
	st := p.b.styles
	w, h := p.w, p.h
	inner := w - 2
	const numW = 9
	findW := max(inner/3, 12)
	nameW := max(inner-5*numW-findW-2, 12)
	body := []string{st.header.Render(fit("NAMESPACE", nameW) + padLeft("SOCKETS", numW) + padLeft("ESTAB", numW) +
		padLeft("T_WAIT", numW) + padLeft("C_WAIT", numW) + padLeft("PORTS%", numW) + "  " + fit("WORST FINDING", findW))}
	if p.err != nil {
		body = append(body, st.statusErr.Render("! "+termsafe.Error(p.err)))
	}
	rows := make([]string, 0, len(p.rows))
	for _, r := range p.rows {
		name := r.Netns
		if len(r.Names) > 0 {
			name = strings.Join(r.Names, ", ") + " " + r.Netns
		}
		s := r.Snap
		worstRatio := 0.0
		if len(s.PortPressure) > 0 {
			worstRatio = s.PortPressure[0].Ratio
		}
		finding := st.dim.Render("-")
		if r.Worst != nil {
			style := st.warn
			if r.Worst.Severity == diagnose.Critical {
				style = st.trouble
			}
			finding = style.Render(r.Worst.Title)
		}
		rows = append(rows, fit(name, nameW-1)+" "+padLeft(humanize.Int(s.Total), numW)+
			padLeft(humanize.Int(s.States[tcpinfo.Established]), numW)+padLeft(humanize.Int(s.States[tcpinfo.TimeWait]), numW)+
			padLeft(humanize.Int(s.States[tcpinfo.CloseWait]), numW)+padLeft(fmt.Sprintf("%.1f", 100*worstRatio), numW)+"  "+fit(finding, findW))
	}
	if len(rows) == 0 && p.err == nil {
		body = append(body, st.dim.Render("looking for network namespaces…"))
	}
	body = append(body, tableRows(rows, h-4, p.row, focused, st)...)
	body = append(body, st.dim.Render("enter: watch the selected namespace (every pane, tuning included) · esc there: back here"))
	return frame(fmt.Sprintf("Namespaces · %d", len(p.rows)), focused, body, w, h, st)
}
