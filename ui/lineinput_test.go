package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// keyOf is the key press String() names, for the keys the editor reads.
func keyOf(t *testing.T, name string) tea.KeyPressMsg {
	t.Helper()
	codes := map[string]rune{"left": tea.KeyLeft, "right": tea.KeyRight, "home": tea.KeyHome, "end": tea.KeyEnd,
		"backspace": tea.KeyBackspace, "delete": tea.KeyDelete}
	mod, base := tea.KeyMod(0), name
	if b, ok := strings.CutPrefix(name, "ctrl+"); ok {
		mod, base = tea.ModCtrl, b
	} else if b, ok := strings.CutPrefix(name, "alt+"); ok {
		mod, base = tea.ModAlt, b
	}
	if c, ok := codes[base]; ok {
		return tea.KeyPressMsg{Code: c, Mod: mod}
	}
	if len([]rune(base)) != 1 {
		t.Fatalf("no key %q", name)
	}
	k := tea.KeyPressMsg{Code: []rune(base)[0], Mod: mod}
	if mod == 0 {
		k.Text = base
	}
	if k.String() != name {
		t.Fatalf("key %q reads %q", name, k.String())
	}
	return k
}

// TestLineInputEdits: readline's keys, as bubbles' textinput took them,
// with the cursor shown as "|".
func TestLineInputEdits(t *testing.T) {
	for _, tc := range []struct {
		start string
		keys  []string
		want  string
	}{
		{"", []string{"d", "p", "o", "r", "t"}, "dport|"},
		{"dport 443", []string{"left", "left", "left", "backspace"}, "dport|443"},
		{"dport 443", []string{"home", "delete"}, "|port 443"},
		{"dport 443", []string{"ctrl+a", "right", "x"}, "dx|port 443"},
		{"dport 443", []string{"ctrl+w"}, "dport |"},
		{"dport 443 ", []string{"alt+backspace"}, "dport |"},
		{"dport 443", []string{"home", "alt+d"}, "| 443"},
		{"dport 443", []string{"alt+left", "ctrl+u"}, "|443"},
		{"dport 443", []string{"alt+left", "alt+left", "ctrl+k"}, "|"},
		{"dport 443", []string{"home", "alt+right", "ctrl+k"}, "dport|"},
		{"dport 443", []string{"home", "ctrl+e", "ctrl+b", "ctrl+h"}, "dport 4|3"},
		{"ab", []string{"left", "left", "left", "backspace", "ctrl+d", "ctrl+d", "ctrl+d"}, "|"},
		{"ab", []string{"right", "right", "ctrl+f", "delete"}, "ab|"},
		{"ab", []string{"ctrl+x", "alt+z"}, "ab|"}, // unbound chords type nothing
	} {
		in := lineInput{}
		in.SetValue(tc.start)
		in.Focus()
		for _, k := range tc.keys {
			in = in.Update(keyOf(t, k))
		}
		if got := string(in.value[:in.pos]) + "|" + string(in.value[in.pos:]); got != tc.want {
			t.Errorf("%q then %v: %q, want %q", tc.start, tc.keys, got, tc.want)
		}
	}
}

// TestLineInputPaste: a paste goes in at the cursor, one line, nothing in
// it that would reach the terminal as a control; unfocused, the field
// takes neither keys nor pastes.
func TestLineInputPaste(t *testing.T) {
	in := lineInput{}
	in.SetValue("dport  and state established")
	in.Focus()
	for range len(" and state established") {
		in = in.Update(keyOf(t, "left"))
	}
	in = in.Update(tea.PasteMsg{Content: "4\x1b[31m4\x073\t\n"})
	if got := in.Value(); got != "dport 4[31m43   and state established" {
		t.Errorf("after the paste: %q", got)
	}
	in.Blur()
	before := in.Value()
	in = in.Update(tea.PasteMsg{Content: "x"})
	in = in.Update(keyOf(t, "y"))
	if in.Value() != before {
		t.Errorf("an unfocused field took input: %q", in.Value())
	}
	in.SetValue("a\u009bb\u200bc")
	if in.Value() != "abc" {
		t.Errorf("SetValue kept controls: %q", in.Value())
	}
}

// TestLineInputCopies: a model is a value; the copy before a key keeps
// its text.
func TestLineInputCopies(t *testing.T) {
	a := lineInput{}
	a.SetValue("dport 443")
	a.Focus()
	a.pos = 5
	b := a.Update(keyOf(t, "backspace"))
	c := a.Update(keyOf(t, "x"))
	if a.Value() != "dport 443" || b.Value() != "dpor 443" || c.Value() != "dportx 443" {
		t.Errorf("a %q, b %q, c %q", a.Value(), b.Value(), c.Value())
	}
}

// TestLineInputView: the placeholder after a blank cursor, never its
// first letter under it; a text longer than the width shows the cursor
// and what is nearest it.
func TestLineInputView(t *testing.T) {
	st := newStyles(true)
	in := lineInput{Prompt: "filter: ", Placeholder: "(ss's words)"}
	in.Focus()
	if got := ansi.Strip(in.View(st, 80)); got != "filter:  (ss's words)" {
		t.Errorf("empty: %q", got)
	}
	long := "state established and ( dport 443 or dport 8443 ) and dst 10.0.0.0/8 and not src 192.168.0.0/16"
	in.SetValue(long)
	got := ansi.Strip(in.View(st, 40))
	if w := ansi.StringWidth(got); w > 40 {
		t.Errorf("%d cells at width 40: %q", w, got)
	}
	if !strings.HasPrefix(got, "filter: …") || !strings.HasSuffix(got, "192.168.0.0/16 ") {
		t.Errorf("the end, where the cursor is, is not in sight: %q", got)
	}
	in = in.Update(keyOf(t, "home"))
	got = ansi.Strip(in.View(st, 40))
	if !strings.HasPrefix(got, "filter: state established") || !strings.HasSuffix(got, "…") || ansi.StringWidth(got) > 40 {
		t.Errorf("at the start: %q", got)
	}
	if got := ansi.Strip(in.View(st, 0)); got != "filter: "+long {
		t.Errorf("no width: %q", got)
	}
}

// TestPasteIntoPrompts: a terminal's paste reaches the field being
// edited, the / filter's and the tuning value's, and nothing else.
func TestPasteIntoPrompts(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 1)
	m, _ = step(t, m, tea.PasteMsg{Content: "dport 443"}) // no prompt open: dropped
	m, _ = step(t, m, press("/"))
	if m.filt.bar.input.Value() != "" {
		t.Fatalf("a paste with no prompt open reached it: %q", m.filt.bar.input.Value())
	}
	m, _ = step(t, m, tea.PasteMsg{Content: "dport 443"})
	m, _ = step(t, m, press("enter"))
	if m.filt.bar.Active().String() != "dport 443" {
		t.Errorf("the filter in force: %q", m.filt.bar.Active().String())
	}
}

// TestLineInputBounded: a paste of megabytes keeps maxLineInput runes.
func TestLineInputBounded(t *testing.T) {
	in := lineInput{}
	in.Focus()
	in = in.Update(tea.PasteMsg{Content: strings.Repeat("x", 1<<20)})
	in = in.Update(keyOf(t, "y"))
	if n := len([]rune(in.Value())); n != maxLineInput {
		t.Errorf("%d runes kept, want %d", n, maxLineInput)
	}
}
