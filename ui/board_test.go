package ui

import (
	"slices"
	"testing"

	"charm.land/lipgloss/v2"
)

// TestScrolledRows: whole rows as fit, the cursor's always in view and
// highlighted when focused; a cursor past the end (rows that shrank under
// it) shows the last rows rather than none.
func TestScrolledRows(t *testing.T) {
	st := newStyles(true)
	st.selected = lipgloss.NewStyle().SetString(">") // visible in a plain string
	rows := []string{"a", "b", "c", "d", "e"}
	for _, c := range []struct {
		h, cur  int
		focused bool
		want    []string
	}{
		{3, 0, true, []string{"> a", "b", "c"}},
		{3, 4, true, []string{"c", "d", "> e"}},
		{3, 3, false, []string{"b", "c", "d"}},
		{3, 9, true, []string{"c", "d", "e"}},
		{0, 2, true, []string{}},
	} {
		if got := tableRows(rows, c.h, c.cur, c.focused, st); !slices.Equal(got, c.want) {
			t.Errorf("tableRows(h %d, cur %d, focused %v) = %q, want %q", c.h, c.cur, c.focused, got, c.want)
		}
	}
	// Rows of two lines: the cursor's row is whole, or not shown at all.
	two := [][]string{{"a", "a2"}, {"b", "b2"}, {"c", "c2"}}
	if got, want := rowLines(two, 3, 1, false, st), []string{"b", "b2"}; !slices.Equal(got, want) {
		t.Errorf("rowLines(h 3, cur 1) = %q, want %q", got, want)
	}
}
