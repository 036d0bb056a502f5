package ui

import (
	"charm.land/lipgloss/v2"
)

// styles are the dashboard's looks for one background. Trouble is marked
// by text ("!") and weight as well as colour, so it survives NO_COLOR and
// monochrome terminals, where the renderer drops the colours.
type styles struct {
	title, header, dim, label lipgloss.Style
	focused, unfocused        lipgloss.Style // pane borders
	bar, barTrouble           lipgloss.Style
	trouble, warn, good       lipgloss.Style
	selected                  lipgloss.Style
	status, statusErr         lipgloss.Style
	gaugeFill, gaugeEmpty     lipgloss.Style
}

func newStyles(isDark bool) *styles {
	ld := lipgloss.LightDark(isDark)
	accent := ld(lipgloss.Color("#005f87"), lipgloss.Color("#5fafff"))
	muted := ld(lipgloss.Color("#6c6c6c"), lipgloss.Color("#8a8a8a"))
	red := ld(lipgloss.Color("#af0000"), lipgloss.Color("#ff5f5f"))
	yellow := ld(lipgloss.Color("#875f00"), lipgloss.Color("#ffd75f"))
	green := ld(lipgloss.Color("#005f00"), lipgloss.Color("#87d787"))
	s := lipgloss.NewStyle()
	return &styles{
		title:      s.Bold(true).Foreground(accent),
		header:     s.Bold(true),
		dim:        s.Foreground(muted),
		label:      s.Foreground(muted),
		focused:    s.Foreground(accent).Bold(true),
		unfocused:  s.Foreground(muted),
		bar:        s.Foreground(accent),
		barTrouble: s.Foreground(red).Bold(true),
		trouble:    s.Foreground(red).Bold(true),
		warn:       s.Foreground(yellow).Bold(true),
		good:       s.Foreground(green),
		selected:   s.Reverse(true),
		status:     s.Foreground(muted),
		statusErr:  s.Foreground(red).Bold(true),
		gaugeFill:  s.Foreground(accent),
		gaugeEmpty: s.Foreground(muted),
	}
}
