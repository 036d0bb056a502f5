package ui

import (
	"fmt"
	"strings"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// A board is what the panes show: the newest snapshot and what the root
// model derived from it. The root model builds a new board whenever any of
// it changes and hands it to every pane; panes only read it, so no pane
// depends on another's state.
type board struct {
	snap, prev *tcpinfo.Snapshot
	history    *history
	findings   []diagnose.Finding
	// settings are the sysctls in force, advice what to change them to
	// (diagnose.Advise, with the findings): the tuning pane shows them,
	// and computes nothing of its own.
	settings []tuning.Setting
	advice   []diagnose.Recommendation
	styles   *styles
	// filter is the state filter (0: all), sort the sort column (0:
	// total, else index+1 into columns), match the port/address filter
	// as typed.
	filter tcpinfo.State
	sort   int
	match  string
	// attribution says how process attribution stands; root whether
	// tcpdash runs as root; owners whether attribution is on at all.
	attribution string
	root        bool
	owners      bool
}

// base is what every pane keeps: its box and the board.
type base struct {
	w, h int
	b    *board
}

// SetSize gives the pane its box, borders included.
func (p *base) SetSize(w, h int) { p.w, p.h = w, h }

// setBoard hands the pane what to show.
func (p *base) setBoard(b *board) { p.b = b }

// A table is a pane with rows to select: its box and board, the selected
// row, and the keys that move it.
type table struct {
	base
	cursor
	keys *keyMap
}

// snap is the board's snapshot, nil before the first.
func (t table) snap() *tcpinfo.Snapshot {
	if t.b == nil {
		return nil
	}
	return t.b.snap
}

// A cursor is a selected row in a table pane.
type cursor struct{ row int }

func (c *cursor) move(d, rows int) { c.row = max(0, min(c.row+d, rows-1)) }
func (c *cursor) clamp(rows int)   { c.move(0, rows) }

// reset puts the selection back on the first row: the rows it pointed at
// are other rows once a filter or the sort changes.
func (c *cursor) reset() { c.row = 0 }

// paneTitle is a pane's box title: its number and name, and what it shows.
func paneTitle(p pane, extra string) string {
	t := fmt.Sprintf("%d %s", int(p)+1, paneNames[p])
	if extra != "" {
		t += " · " + extra
	}
	return t
}

// tableTitle names a table pane and what its rows are filtered by.
func (b *board) tableTitle(p pane) string {
	var extra []string
	if b.filter != 0 {
		extra = append(extra, b.filter.String())
	}
	if b.match != "" {
		extra = append(extra, "matching "+b.match)
	}
	return paneTitle(p, strings.Join(extra, " · "))
}

// stateColumns renders the header and cells of the per-state columns that
// fit in w cells, marking the sort column.
func (b *board) stateColumns(w int) (header string, cell func(*tcpinfo.StateCounts) string) {
	const colW = 8
	names := map[tcpinfo.State]string{tcpinfo.Established: "ESTAB", tcpinfo.TimeWait: "T_WAIT",
		tcpinfo.CloseWait: "C_WAIT", tcpinfo.SynRecv: "SYN_R", tcpinfo.FinWait2: "FIN_W2", tcpinfo.Listen: "LISTEN"}
	n := min(max((w-colW)/colW, 0), len(columns))
	mark := func(i int, label string) string {
		if b.sort == i {
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

// rowLines renders rows of one line or more: as many whole rows as fit
// in h lines, from the first row that keeps row cur in view (the top
// while it is), its lines highlighted when focused.
func rowLines(rows [][]string, h, cur int, focused bool, st *styles) []string {
	off, n := 0, 0
	for i := min(cur, len(rows)-1); i >= 0 && n+len(rows[i]) <= h; i-- {
		n += len(rows[i])
		off = i
	}
	out := make([]string, 0, max(h, 0))
	for i := off; i < len(rows) && len(out)+len(rows[i]) <= h; i++ {
		for _, l := range rows[i] {
			if i == cur && focused {
				l = st.selected.Render(l)
			}
			out = append(out, l)
		}
	}
	return out
}

// tableRows renders rows of one line each, as rowLines does.
func tableRows(rows []string, h, cur int, focused bool, st *styles) []string {
	lines := make([][]string, len(rows))
	for i := range rows {
		lines[i] = rows[i : i+1]
	}
	return rowLines(lines, h, cur, focused, st)
}
