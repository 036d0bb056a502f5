package ui

import (
	"slices"
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// lineInput is a one-line editor: the / filter, J's time and the tuning
// pane's value. It is written here, not taken from bubbles' textinput,
// because textinput links atotto/clipboard, whose init looks four
// programs up on PATH at every start of the binary, a --once included
// (a millisecond and more of a start, measured in docs/performance.md);
// these prompts need no clipboard of their own, since a terminal's paste
// arrives as a tea.PasteMsg. The keys are readline's, as textinput's are.
type lineInput struct {
	Prompt      string
	Placeholder string // shown dim after the cursor while the value is empty

	value   []rune
	pos     int // the cursor, 0..len(value)
	focused bool
}

// Value is the text typed.
func (f lineInput) Value() string { return string(f.value) }

// SetValue replaces the text, keeping only what can be shown on one
// line, and puts the cursor at its end.
func (f *lineInput) SetValue(s string) {
	f.value, f.pos = nil, 0
	f.insert(s)
}

// Focus gives the field the keys.
func (f *lineInput) Focus() { f.focused = true }

// Blur takes them away; the text stays.
func (f *lineInput) Blur() { f.focused = false }

// Reset empties the field.
func (f *lineInput) Reset() { f.value, f.pos = nil, 0 }

// maxLineInput bounds the text, whatever is pasted: an expression, a
// time or a sysctl's value is far shorter.
const maxLineInput = 4096

// insert puts s at the cursor, dropping what would break the line or
// the terminal (controls, escapes), tabs and newlines made spaces, and
// what would take the text past maxLineInput. Every edit makes a new
// slice: a model is a value, and the one before the key must not see the
// text change under it.
func (f *lineInput) insert(s string) {
	var add []rune
	for _, r := range s {
		if len(f.value)+len(add) >= maxLineInput {
			break
		}
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			add = append(add, ' ')
		case unicode.IsPrint(r):
			add = append(add, r)
		}
	}
	if len(add) == 0 {
		return
	}
	f.pos = min(f.pos, len(f.value))
	f.value = slices.Concat(f.value[:f.pos], add, f.value[f.pos:])
	f.pos += len(add)
}

// cut removes the text from from to to and leaves the cursor there.
func (f *lineInput) cut(from, to int) {
	f.value = slices.Concat(f.value[:from], f.value[to:])
	f.pos = from
}

// Update edits the text with a key or a paste; other messages and an
// unfocused field leave it as it is.
func (f lineInput) Update(msg tea.Msg) lineInput {
	if !f.focused {
		return f
	}
	switch msg := msg.(type) {
	case tea.PasteMsg:
		f.insert(msg.Content)
	case tea.KeyPressMsg:
		f.key(msg)
	}
	return f
}

func (f *lineInput) key(msg tea.KeyPressMsg) {
	switch msg.String() {
	case "left", "ctrl+b":
		f.pos = max(f.pos-1, 0)
	case "right", "ctrl+f":
		f.pos = min(f.pos+1, len(f.value))
	case "home", "ctrl+a":
		f.pos = 0
	case "end", "ctrl+e":
		f.pos = len(f.value)
	case "alt+left", "ctrl+left", "alt+b":
		f.pos = f.wordBack()
	case "alt+right", "ctrl+right", "alt+f":
		f.pos = f.wordForward()
	case "backspace", "ctrl+h":
		if f.pos > 0 {
			f.cut(f.pos-1, f.pos)
		}
	case "delete", "ctrl+d":
		if f.pos < len(f.value) {
			f.cut(f.pos, f.pos+1)
		}
	case "alt+backspace", "ctrl+w":
		f.cut(f.wordBack(), f.pos)
	case "alt+delete", "alt+d":
		f.cut(f.pos, f.wordForward())
	case "ctrl+u":
		f.cut(0, f.pos)
	case "ctrl+k":
		f.cut(f.pos, len(f.value))
	default:
		if msg.Text != "" && msg.Mod&^(tea.ModShift|tea.ModCapsLock) == 0 {
			f.insert(msg.Text)
		}
	}
}

// wordBack is where the word before the cursor starts; wordForward where
// the one after it ends.
func (f *lineInput) wordBack() int {
	i := f.pos
	for i > 0 && unicode.IsSpace(f.value[i-1]) {
		i--
	}
	for i > 0 && !unicode.IsSpace(f.value[i-1]) {
		i--
	}
	return i
}

func (f *lineInput) wordForward() int {
	i := f.pos
	for i < len(f.value) && unicode.IsSpace(f.value[i]) {
		i++
	}
	for i < len(f.value) && !unicode.IsSpace(f.value[i]) {
		i++
	}
	return i
}

// View is the prompt and the text with the cursor drawn on it, within w
// cells (0: no limit): a text too long for them shows the part around
// the cursor, "…" marking what is hidden to its left.
func (f lineInput) View(st *styles, w int) string {
	cursor := func(s string) string {
		if !f.focused {
			return s
		}
		return st.selected.Render(s)
	}
	if len(f.value) == 0 {
		// A blank cursor before the placeholder: drawn on its first
		// letter, that letter would read as typed.
		return f.Prompt + cursor(" ") + st.dim.Render(f.Placeholder)
	}
	before, at, after := string(f.value[:f.pos]), " ", ""
	if f.pos < len(f.value) {
		at, after = string(f.value[f.pos]), string(f.value[f.pos+1:])
	}
	if w > 0 {
		room := w - lipgloss.Width(f.Prompt) - lipgloss.Width(at)
		if room < 2 {
			room = 2
		}
		if lipgloss.Width(before) > room {
			// Keep the cursor in sight: the text nearest it, from the right.
			before = "…" + ansi.TruncateLeft(before, lipgloss.Width(before)-room+1, "")
		}
		if rest := room - lipgloss.Width(before); lipgloss.Width(after) > rest {
			after = ansi.Truncate(after, max(rest, 0), "…")
		}
	}
	return f.Prompt + strings.Join([]string{before, cursor(at), after}, "")
}
