package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// Minimum terminal size; below it the dashboard says so instead of
// drawing panes that would not fit.
const minWidth, minHeight = 60, 15

// View draws the dashboard. It is a pure function of the model.
func (m Model) View() tea.View { return screen(m.render()) }

// screen is a frame as the terminal gets it: on the alternate screen.
func screen(s string) tea.View {
	v := tea.NewView(s)
	v.AltScreen = true
	v.WindowTitle = "tcpdash"
	return v
}

// chrome is what a model wrapping the dashboard draws in its frame in
// place of the dashboard's own: a fleet's Namespaces pane, a replay's
// player. The zero chrome is the dashboard's.
type chrome struct {
	// body, when set, replaces the panes (and the findings strip).
	body func(w, h int) []string
	// line2 replaces the header's second line; badge is its findings.
	line2 string
	badge []diagnose.Finding
	// every replaces the header's schedule.
	every string
	// footer replaces the status and short-help lines.
	footer func(w int) []string
	// keys are more key groups for the ? overlay, listed first.
	keys [][]key.Binding
	// hint ends the dashboard's status line: a wrapper's own key.
	hint string
}

func (m Model) render() string { return m.renderIn(chrome{}) }

// renderIn draws the dashboard's frame with c's parts in it.
func (m Model) renderIn(c chrome) string {
	w, h := m.view.width, m.view.height
	if w == 0 || h == 0 {
		return "tcpdash: starting…"
	}
	if w < minWidth || h < minHeight {
		lines := []string{
			"terminal too small",
			fmt.Sprintf("%dx%d, need at least %dx%d", w, h, minWidth, minHeight),
			"q quits",
		}
		for i := range lines {
			lines[i] = fit(lines[i], w)
		}
		return strings.Join(lines[:min(len(lines), h)], "\n")
	}

	badge := m.live.findings
	if c.body != nil {
		badge = c.badge
	}
	header := m.headerLines(w, badge, c)
	footer := m.footerLines(w, c.hint)
	if c.footer != nil {
		footer = c.footer(w)
	}
	// The body is chosen first: whether the findings strip is drawn
	// depends on it.
	type bodyKind int
	const (
		bodyHelp bodyKind = iota
		bodyChrome
		bodySockets
		bodyTuning
		bodyWaiting
		bodyProcesses
		bodyFindings
		bodyHealth
		bodyFull
		bodyCompact
	)
	var kind bodyKind
	switch f := m.view.focus; {
	case m.view.showHelp:
		kind = bodyHelp
	case c.body != nil:
		kind = bodyChrome
	case m.dd.drilling:
		kind = bodySockets
	case f == paneTuning && m.tuningShown():
		kind = bodyTuning
	case m.live.snap == nil:
		kind = bodyWaiting
	case f == paneProcesses:
		kind = bodyProcesses
	case f == paneFindings:
		kind = bodyFindings
	case f == paneHealth:
		kind = bodyHealth
	case w >= 100 && h >= 34:
		kind = bodyFull
	default:
		kind = bodyCompact
	}
	// The findings strip is on every screen that shows the tables: what
	// is wrong, who, and how long, before any pane. Not where the
	// findings pane itself is on screen (focused, or a column of the
	// full layout from 180 columns).
	switch {
	case kind == bodyHelp, kind == bodyChrome, kind == bodyTuning, kind == bodyWaiting, kind == bodyFindings,
		kind == bodyFull && w >= threeColumns:
	default:
		lines := 1
		switch {
		case h >= 40:
			lines = 4
		case h >= 24:
			lines = 3
		}
		header = append(header, m.findingsStrip(w, lines)...)
	}
	bodyH := h - len(header) - len(footer)
	var body []string
	switch kind {
	case bodyHelp:
		body = frame("Keys (? or esc to close)", true, m.fullHelp(w-2, c.keys), w, bodyH, m.styles)
	case bodyChrome:
		body = c.body(w, bodyH)
	case bodySockets:
		body = sized(m.dd.sockets, w, bodyH).View(true)
	case bodyTuning:
		body = sized(m.tuning, w, bodyH).View(true)
	case bodyWaiting:
		msg := "waiting for the first snapshot…"
		if m.live.pollErr != nil {
			msg = "no data: " + termsafe.Error(m.live.pollErr)
		}
		body = frame("tcpdash", false, []string{msg}, w, bodyH, m.styles)
	case bodyProcesses:
		body = sized(m.processes, w, bodyH).View(true)
	case bodyFindings:
		body = sized(m.findingsP, w, bodyH).View(true)
	case bodyHealth:
		body = sized(m.health, w, bodyH).View(true)
	case bodyFull:
		body = m.fullLayout(w, bodyH)
	default:
		body = m.compactLayout(w, bodyH)
	}
	lines := append(append(header, body...), footer...)
	return strings.Join(lines, "\n")
}

// threeColumns is the width from which the full layout has a third
// column, the findings over the processes.
const threeColumns = 180

// fullLayout shows every pane: states and counters, the two top tables
// side by side, then port pressure. From 180 columns the processes and
// the findings join them, a third column, rather than the two halves
// stretching over rows they cannot fill.
func (m Model) fullLayout(w, h int) []string {
	f := m.view.focus
	topH := min(max(m.board.nonZeroStates(), 9)+4, 16)
	rest := h - topH
	pressH := min(max(len(m.live.snap.PortPressure)+3, 6), rest/2)
	tablesH := rest - pressH
	if w < threeColumns {
		left, right := w/2, w-w/2
		out := beside(sized(m.states, left, topH).View(f == paneStates), sized(m.counters, right, topH).View(f == paneCounters))
		out = append(out, beside(sized(m.local, left, tablesH).View(f == paneLocal), sized(m.remote, right, tablesH).View(f == paneRemote))...)
		return append(out, sized(m.pressure, w, pressH).View(f == panePressure)...)
	}
	a, b := w/3, w/3
	c := w - a - b
	out := beside(beside(sized(m.states, a, topH).View(f == paneStates), sized(m.counters, b, topH).View(f == paneCounters)),
		sized(m.findingsP, c, topH).View(f == paneFindings))
	out = append(out, beside(beside(sized(m.local, a, tablesH).View(f == paneLocal), sized(m.remote, b, tablesH).View(f == paneRemote)),
		sized(m.processes, c, tablesH).View(f == paneProcesses))...)
	return append(out, sized(m.pressure, w, pressH).View(f == panePressure)...)
}

// A sizable pane takes its box before it draws.
type sizable[P any] interface {
	SetSize(w, h int)
	*P
}

// sized returns p set to a w×h box: panes are values, laid out anew in
// every frame.
func sized[P any, PP sizable[P]](p P, w, h int) P {
	PP(&p).SetSize(w, h)
	return p
}

// compactLayout shows the states and one more pane, the focused one (port
// pressure by default); tab and the number keys bring up the others.
func (m Model) compactLayout(w, h int) []string {
	// The histogram comes first; the other pane keeps at least a row.
	statesH := min(m.board.nonZeroStates()+4, h-4)
	f := m.view.focus
	out := sized(m.states, w, statesH).View(f == paneStates)
	dh := h - statesH
	switch m.view.detail {
	case paneLocal:
		out = append(out, sized(m.local, w, dh).View(f == paneLocal)...)
	case paneRemote:
		out = append(out, sized(m.remote, w, dh).View(f == paneRemote)...)
	case paneCounters:
		out = append(out, sized(m.counters, w, dh).View(f == paneCounters)...)
	default:
		out = append(out, sized(m.pressure, w, dh).View(f == panePressure)...)
	}
	return out
}

// fullHelp lays out every key group, side by side as far as they fit in w
// cells and in further rows after that, so that ? lists every key at any
// width.
func (m Model) fullHelp(w int, more [][]key.Binding) []string {
	h := m.help
	h.SetWidth(0) // measure, never cut
	var out []string
	groups := append(slices.Clone(more), m.keys.FullHelp()...)
	for len(groups) > 0 {
		n := len(groups)
		for n > 1 && lipgloss.Width(h.FullHelpView(groups[:n])) > w {
			n--
		}
		if len(out) > 0 {
			out = append(out, "")
		}
		out = append(out, strings.Split(h.FullHelpView(groups[:n]), "\n")...)
		groups = groups[n:]
	}
	return out
}

func (m Model) headerLines(w int, findings []diagnose.Finding, c chrome) []string {
	st := m.styles
	i := m.cfg.Info
	fields := []field{{st.title.Render("tcpdash"), 0}, {i.Host, 4}}
	if i.Kernel != "" {
		fields = append(fields, field{"kernel " + i.Kernel, 6})
	}
	if i.Netns != "" {
		fields = append(fields, field{"netns " + i.Netns, 2})
	}
	every := "every " + m.sched.interval.String()
	if eff := m.effectiveInterval(); eff != m.sched.interval {
		every += " → " + eff.String() + " (slow dumps)"
	}
	if c.every != "" {
		every = c.every
	}
	if m.live.snap != nil {
		src := string(m.live.snap.Source)
		if m.live.snap.Source == tcpinfo.SourceProcfs {
			src = st.warn.Render("procfs") + " (" + termsafe.String(m.live.snap.SourceNote) + ")"
		}
		fields = append(fields, field{src, 5})
	}
	fields = append(fields, field{every, 3})
	if t := m.filt.bar.Text(); t != "" {
		// The tables are narrowed; the findings are not (filterBar).
		fields = append(fields, field{st.warn.Render("tables filtered: ") + t, 1})
	} else if m.live.snap != nil && m.live.snap.Filter != "" {
		// A recording made with --filter: every count is over it.
		fields = append(fields, field{st.warn.Render("recorded filter: ") + termsafe.String(m.live.snap.Filter), 1})
	}
	if m.sched.paused {
		fields = append(fields, field{st.warn.Render("PAUSED"), 0})
	}
	if b := m.findingsBadge(findings); b != "" {
		fields = append(fields, field{b, 0})
	}
	line1 := dropToFit(w, fields)
	line2 := "no snapshot yet"
	if c.line2 != "" {
		line2 = c.line2
	} else if s := m.live.snap; s != nil {
		fields := []field{
			{s.Time.Format("15:04:05"), 0},
			{"dump " + roundDump(s.Dump).String(), 4},
			{fmt.Sprintf("%s sockets", humanize.Int(s.Total)), 0},
			{fmt.Sprintf("(ipv4 %s · ipv6 %s)", humanize.Int(s.Families.IPv4), humanize.Int(s.Families.IPv6)), 5},
			{"ephemeral " + s.PortRange.String(), 2},
			{m.attributionLine(), 3},
		}
		if ct := conntrackField(s, st); ct != "" {
			rank := 1
			if diagnose.ConntrackTrouble(s.Conntrack) {
				rank = 0 // trouble stays, at any width
			}
			fields = append(fields, field{ct, rank})
		}
		line2 = dropToFit(w, fields)
		if m.live.pollErr != nil {
			line2 = st.statusErr.Render("STALE") + "  " + line2
		}
	}
	return []string{fit(line1, w), fit(st.dim.Render(line2), w)}
}

func roundDump(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

func (m Model) footerLines(w int, hint string) []string {
	st := m.styles
	var status string
	var above []string // lines that must be read whole, above the status
	switch {
	case m.filt.bar.Editing():
		lines := m.filt.bar.View(st, w)
		above, status = lines[:len(lines)-1], lines[len(lines)-1]
	case m.live.pollErr != nil:
		when := "no data yet"
		if m.live.snap != nil {
			when = "showing data from " + m.live.snap.Time.Format("15:04:05")
		}
		status = st.statusErr.Render("! poll failed: "+termsafe.Error(m.live.pollErr)) + st.status.Render(" — "+when+"; still polling")
	default:
		filter := "all states"
		if s := stateFilters[m.filt.filter]; s != 0 {
			filter = s.String()
		}
		sort := "total"
		if m.filt.sort > 0 {
			sort = columns[m.filt.sort-1].String()
		}
		status = fmt.Sprintf("focus: %s · state filter: %s · sort: %s", paneNames[m.view.focus], filter, sort)
		if t := m.filt.bar.Text(); t != "" {
			status += " · tables: " + t + " (esc clears)"
		}
		if hint != "" {
			status += " · " + hint
		}
		status = st.status.Render(status)
	}
	out := make([]string, 0, len(above)+2)
	for _, l := range above {
		out = append(out, fit(l, w))
	}
	return append(out, fit(status, w), fit(m.help.ShortHelpView(m.keys.ShortHelp()), w))
}

// A field is part of a header line; rank 0 is never dropped.
type field struct {
	text string
	rank int
}

// dropToFit joins fields, dropping the highest-ranked whole when the line
// is wider than w, rather than cutting it at the edge.
func dropToFit(w int, fields []field) string {
	join := func() string {
		parts := make([]string, len(fields))
		for j, f := range fields {
			parts[j] = f.text
		}
		return strings.Join(parts, "  ")
	}
	for lipgloss.Width(join()) > w {
		low := -1
		for j, f := range fields {
			if f.rank > 0 && (low < 0 || f.rank > fields[low].rank) {
				low = j
			}
		}
		if low < 0 {
			break
		}
		fields = slices.Delete(fields, low, low+1)
	}
	return join()
}

// conntrackField is the header's word on the conntrack table while it
// tracks connections: marked when it is near full or dropping.
func conntrackField(s *tcpinfo.Snapshot, st *styles) string {
	t := s.Conntrack
	if t == nil || t.Count == 0 || t.Max == 0 {
		return ""
	}
	text := fmt.Sprintf("conntrack %s/%s", humanize.Int(int(t.Count)), humanize.Int(int(t.Max)))
	if diagnose.ConntrackTrouble(t) { // as the findings judge it
		return st.trouble.Render("! " + text)
	}
	return text
}
