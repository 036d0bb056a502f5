package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tcpdash/tcpdash/internal/filter"
)

// TestSlashTakesTheLanguage: / takes ss's words as well as a port or an
// address; the poll asks for the filter, the header says it is on, esc
// goes back to --filter's, and a wrong word is named without losing the
// text.
func TestSlashTakesTheLanguage(t *testing.T) {
	base, _ := filter.Parse("state established")
	f := &fakeCollector{}
	m := New(Config{Source: f, Interval: time.Second, Info: fakeInfo(), Filter: base, ParseFilter: filter.Parse})
	m, _ = step(t, m, tea.WindowSizeMsg{Width: 120, Height: 40})
	if m.query().Filter != base {
		t.Fatal("--filter's filter is not in the query")
	}
	typeIn := func(m Model, s string) (Model, tea.Cmd) {
		m, _ = step(t, m, press("/"))
		m.filt.search.SetValue("") // / opens on the current filter, to edit
		for _, r := range s {
			m, _ = step(t, m, tea.KeyPressMsg{Code: r, Text: string(r)})
		}
		return step(t, m, press("enter"))
	}
	m, _ = typeIn(m, "state time-wait dport = :3306")
	if m.query().Filter == nil || m.query().Filter.String() != "state time-wait dport = :3306" {
		t.Fatalf("query filter %v", m.query().Filter)
	}
	snap := mustCollect(t, f, m.query())
	snap.Filter = m.query().Filter.String()
	m, _ = step(t, m, polledMsg{snap: snap})
	if got := ansi.Strip(m.render()); !strings.Contains(got, "filter: state time-wait dport = :3306") {
		t.Errorf("the header does not say the filter is on:\n%s", got)
	}
	// A port alone keeps its old meaning, with --filter's filter kept.
	m, _ = step(t, m, press("esc"))
	m, _ = typeIn(m, "3306")
	if q := m.query(); q.Port != 3306 || q.Filter != base {
		t.Errorf("/3306: port %d, filter %v", q.Port, q.Filter)
	}
	m, _ = typeIn(m, "dport = :htpp")
	if !m.filt.searching || !strings.Contains(m.filt.searchErr, `at ":htpp"`) {
		t.Errorf("a wrong word: searching %v, %q", m.filt.searching, m.filt.searchErr)
	}
}
