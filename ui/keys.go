package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// keyMap holds every binding; help is generated from it, so what `?`
// lists is what works.
type keyMap struct {
	Quit, Help, Suspend   key.Binding
	Redraw                key.Binding
	NextPane, PrevPane    key.Binding
	Pane1, Pane2, Pane3   key.Binding
	Pane4, Pane5          key.Binding
	Pause, Faster, Slower key.Binding
	StateFilter, Sort     key.Binding
	Search, ClearSearch   key.Binding
	Up, Down              key.Binding
	Accept                key.Binding
	Tune, Pane6           key.Binding
	Pane7, Pane8, Pane9   key.Binding
	Refresh, Services     key.Binding
	Listeners             key.Binding
	Edit, Undo, Persist   key.Binding
	Yes, No               key.Binding
}

func newKeyMap() *keyMap {
	return &keyMap{
		Quit:        key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help:        key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Suspend:     key.NewBinding(key.WithKeys("ctrl+z"), key.WithHelp("ctrl+z", "suspend (fg resumes)")),
		Redraw:      key.NewBinding(key.WithKeys("ctrl+l"), key.WithHelp("ctrl+l", "redraw the screen")),
		NextPane:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		PrevPane:    key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),
		Pane1:       key.NewBinding(key.WithKeys("1"), key.WithHelp("1", "states")),
		Pane2:       key.NewBinding(key.WithKeys("2"), key.WithHelp("2", "local ports")),
		Pane3:       key.NewBinding(key.WithKeys("3"), key.WithHelp("3", "remote endpoints")),
		Pane4:       key.NewBinding(key.WithKeys("4"), key.WithHelp("4", "port pressure")),
		Pane5:       key.NewBinding(key.WithKeys("5"), key.WithHelp("5", "counters")),
		Pause:       key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Faster:      key.NewBinding(key.WithKeys("-"), key.WithHelp("-", "shorter interval")),
		Slower:      key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+", "longer interval")),
		StateFilter: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "state filter")),
		Sort:        key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort column")),
		Search:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter (ss words)")),
		ClearSearch: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Up:          key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("k/↑", "up")),
		Down:        key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("j/↓", "down")),
		Accept:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply filter")),
		Tune:        key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "tuning")),
		Pane6:       key.NewBinding(key.WithKeys("6"), key.WithHelp("6", "processes")),
		Pane7:       key.NewBinding(key.WithKeys("7"), key.WithHelp("7", "findings")),
		Pane8:       key.NewBinding(key.WithKeys("8"), key.WithHelp("8/t", "tuning")),
		Pane9:       key.NewBinding(key.WithKeys("9"), key.WithHelp("9", "health (--health)")),
		Refresh:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "re-read owners")),
		Services:    key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "processes / services (6)")),
		Listeners:   key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "ports / listeners (2)")),
		Edit:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "edit (tuning)")),
		Undo:        key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "undo (tuning)")),
		Persist:     key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "persist (tuning)")),
		Yes:         key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "confirm")),
		No:          key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "cancel")),
	}
}

// ShortHelp is the one-line help at the bottom.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Quit, k.Help, k.NextPane, k.Pause, k.StateFilter, k.Sort, k.Search, k.Tune}
}

// FullHelp is what `?` shows, in columns.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Quit, k.Help, k.Suspend, k.Redraw, k.Pause, k.Faster, k.Slower, k.Refresh, k.Listeners},
		{k.NextPane, k.PrevPane, k.Pane1, k.Pane2, k.Pane3, k.Pane4, k.Pane5, k.Pane6, k.Pane7, k.Pane8, k.Pane9},
		{k.StateFilter, k.Sort, k.Search, k.ClearSearch, k.Up, k.Down},
		{k.Services, k.Edit, k.Undo, k.Persist, k.Yes, k.No},
	}
}

// step is the cursor move a message asks for: -1 up, +1 down, 0 none.
func (k keyMap) step(msg tea.Msg) int {
	km, ok := msg.(tea.KeyPressMsg)
	switch {
	case !ok:
		return 0
	case key.Matches(km, k.Up):
		return -1
	case key.Matches(km, k.Down):
		return 1
	}
	return 0
}

// KeyHelp is every key the dashboard takes and what it does, in the order
// ? lists them: the man page is made from it.
func KeyHelp() [][2]string {
	var out [][2]string
	for _, group := range newKeyMap().FullHelp() {
		for _, b := range group {
			h := b.Help()
			out = append(out, [2]string{h.Key, h.Desc})
		}
	}
	return out
}
