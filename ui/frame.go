package ui

import (
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// fit truncates s to w cells (with an ellipsis) or pads it with spaces,
// so every line of a pane is exactly as wide as the pane.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if lipgloss.Width(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	if pad := w - lipgloss.Width(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// frame draws body in a rounded box of exactly w×h cells, with title in
// the top border. Lines that do not fit are cut, never wrapped.
func frame(title string, focused bool, body []string, w, h int, st *styles) []string {
	if w < 4 || h < 2 {
		return blank(w, h)
	}
	border := st.unfocused
	if focused {
		border = st.focused
	}
	inner := w - 2
	top := "─ " + title + " "
	if lipgloss.Width(top) > inner {
		top = ansi.Truncate(top, inner, "…")
	}
	top += strings.Repeat("─", inner-lipgloss.Width(top))
	out := make([]string, 0, h)
	out = append(out, border.Render("╭"+top+"╮"))
	for i := range h - 2 {
		line := ""
		if i < len(body) {
			line = body[i]
		}
		out = append(out, border.Render("│")+fit(line, inner)+border.Render("│"))
	}
	return append(out, border.Render("╰"+strings.Repeat("─", inner)+"╯"))
}

func blank(w, h int) []string {
	out := make([]string, max(h, 0))
	for i := range out {
		out[i] = strings.Repeat(" ", max(w, 0))
	}
	return out
}

// beside joins two blocks of lines side by side.
func beside(a, b []string) []string {
	out := make([]string, max(len(a), len(b)))
	for i := range out {
		if i < len(a) {
			out[i] = a[i]
		}
		if i < len(b) {
			out[i] += b[i]
		}
	}
	return out
}

// fmtRate formats a per-second rate compactly, with a sign.
func fmtRate(r float64) string {
	switch {
	case r == 0:
		return "0"
	case r >= 100 || r <= -100:
		return strconv.FormatFloat(r, 'f', 0, 64)
	case r >= 10 || r <= -10:
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}

func padLeft(s string, w int) string {
	if n := w - lipgloss.Width(s); n > 0 {
		return strings.Repeat(" ", n) + s
	}
	return s
}
