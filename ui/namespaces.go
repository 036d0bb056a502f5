package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

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
			f.Title, f.Short = termsafe.String(f.Title), termsafe.String(f.Short) // processes' names in both
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

// View draws the pane in its box. Columns are as wide as what they hold;
// the namespace keeps its whole name, and its worst finding (its short
// form) takes the rest of the line, or, where a finding would be cut
// there, every finding takes a line of its own under its row.
func (p namespacesPane) View(focused bool) []string {
	st := p.b.styles
	w, h := p.w, p.h
	inner := w - 2
	heads := []string{"SOCKETS", "ESTAB", "T_WAIT", "C_WAIT", "PORTS%"}
	type row struct {
		name    string
		nums    [5]string
		finding string // "-" without one
		worst   bool   // it has a finding
	}
	rows := make([]row, 0, len(p.rows))
	nameW, widest := lipgloss.Width("NAMESPACE"), 0
	numW := make([]int, len(heads))
	for i, hd := range heads {
		numW[i] = len(hd)
	}
	for _, r := range p.rows {
		x := row{name: r.Netns, finding: st.dim.Render("-")}
		if len(r.Names) > 0 {
			x.name = strings.Join(r.Names, ", ") + " " + r.Netns
		}
		s := r.Snap
		x.nums = [5]string{humanize.Int(s.Total), humanize.Int(s.States[tcpinfo.Established]),
			humanize.Int(s.States[tcpinfo.TimeWait]), humanize.Int(s.States[tcpinfo.CloseWait]), fmt.Sprintf("%.1f", 100*s.FullestRatio())}
		if f := r.Worst; f != nil {
			style := st.warn
			if f.Severity == diagnose.Critical {
				style = st.trouble
			}
			x.finding, x.worst = style.Render(cmp.Or(f.Short, f.Title)), true
			widest = max(widest, lipgloss.Width(x.finding))
		}
		nameW = max(nameW, lipgloss.Width(x.name))
		for i, n := range x.nums {
			numW[i] = max(numW[i], len(n))
		}
		rows = append(rows, x)
	}
	numsW := 0
	for _, n := range numW {
		numsW += n + 2
	}
	nameW = min(nameW, max(inner-numsW, 12))
	findW := inner - nameW - numsW - 2
	below := findW < widest // the findings under their rows
	if below {
		nameW = max(inner-numsW, 12)
	}
	nums := func(vals []string) string {
		var b strings.Builder
		for i, v := range vals {
			b.WriteString(padLeft(v, numW[i]+2))
		}
		return b.String()
	}
	header := fit("NAMESPACE", nameW) + nums(heads)
	if !below {
		header += "  " + fit("WORST FINDING", findW)
	}
	body := []string{st.header.Render(header)}
	if p.err != nil {
		body = append(body, st.statusErr.Render("! "+termsafe.Error(p.err)))
	}
	if len(rows) == 0 && p.err == nil {
		body = append(body, st.dim.Render("looking for network namespaces…"))
	}
	lines := make([][]string, len(rows)) // each row's lines
	for i, x := range rows {
		first := fit(x.name, nameW) + nums(x.nums[:])
		if !below {
			lines[i] = []string{first + "  " + fit(x.finding, findW)}
			continue
		}
		lines[i] = []string{first}
		if x.worst {
			lines[i] = append(lines[i], "  "+fit(x.finding, inner-2))
		}
	}
	body = append(body, rowLines(lines, h-4, p.row, focused, st)...)
	body = append(body, st.dim.Render("enter: watch the selected namespace · esc there: back here"))
	return frame(fmt.Sprintf("Namespaces · %d", len(p.rows)), focused, body, w, h, st)
}
