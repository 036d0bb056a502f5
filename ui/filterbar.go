package ui

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/termsafe"
)

// filterBar is the / prompt and the filter it put in force. It speaks one
// language, ss's, and what it sets narrows the tables only: the states,
// counters, port pressure and findings stay over the whole namespace, so
// a filter never silences an alarm (tcpinfo.Query.Narrow).
type filterBar struct {
	input   lineInput
	keys    *keyMap
	parse   func(string) (*filter.Filter, error)
	editing bool
	err     string         // why the text typed was refused, printable
	active  *filter.Filter // in force; nil: every socket
}

// newFilterBar starts with initial (--filter's) in force. parse reads an
// expression; nil means filter.Parse, which resolves no cgroup path.
func newFilterBar(keys *keyMap, initial *filter.Filter, parse func(string) (*filter.Filter, error)) filterBar {
	if parse == nil {
		parse = filter.Parse
	}
	in := lineInput{Prompt: "filter: ", Placeholder: "(ss's words, e.g. dport 443, state time-wait, dst 10.0.0.0/8)"}
	return filterBar{input: in, keys: keys, parse: parse, active: initial}
}

// Active is the filter in force, nil for none.
func (f filterBar) Active() *filter.Filter { return f.active }

// Editing reports whether the prompt has the keys.
func (f filterBar) Editing() bool { return f.editing }

// Text is the filter in force as the user typed it, printable.
func (f filterBar) Text() string {
	if f.active == nil {
		return ""
	}
	return termsafe.String(f.active.String())
}

// Open gives the prompt the keys, holding the filter in force to edit.
func (f filterBar) Open() filterBar {
	f.editing, f.err = true, ""
	f.input.SetValue(f.active.String())
	f.input.Focus()
	return f
}

// Clear drops the filter in force; changed says there was one.
func (f filterBar) Clear() (_ filterBar, changed bool) {
	changed = f.active != nil
	f.active, f.err = nil, ""
	f.input.Reset()
	return f, changed
}

// Update takes a key or a paste while editing. changed says another
// filter is in force: the tables ask again.
func (f filterBar) Update(msg tea.Msg) (_ filterBar, changed bool) {
	k, _ := msg.(tea.KeyPressMsg)
	switch {
	case key.Matches(k, f.keys.Accept):
		text := f.input.Value()
		nf, err := f.parse(text)
		if err != nil {
			var fe *filter.Error
			if errors.As(err, &fe) && fe.Suggest != "" {
				// What ss would take, in place of what it refuses: enter
				// again accepts it.
				f.err = fmt.Sprintf("ss reads no bare %q; enter takes this", strings.TrimSpace(text))
				f.input.SetValue(fe.Suggest)
				return f, false
			}
			f.err = termsafe.Error(err) // the text stays, for correcting
			return f, false
		}
		if nf != nil && nf.String() == "" {
			nf = nil // nothing typed: every socket
		}
		changed = nf.String() != f.active.String()
		f.active, f.editing, f.err = nf, false, ""
		f.input.Blur()
		return f, changed
	case key.Matches(k, f.keys.ClearSearch):
		// Leave the prompt; the filter in force stays.
		f.editing, f.err = false, ""
		f.input.Blur()
		return f, false
	}
	f.input = f.input.Update(msg)
	return f, false
}

// View is the prompt while editing: why the last text was refused,
// wrapped to w cells above the prompt line, so that the reason is read
// whole at any width.
func (f filterBar) View(st *styles, w int) []string {
	var out []string
	if f.err != "" {
		for _, l := range wrap("! "+f.err, w) {
			out = append(out, st.statusErr.Render(l))
		}
	}
	return append(out, f.input.View(st, w))
}
