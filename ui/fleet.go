package ui

import (
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/internal/termsafe"
)

// fleetModel is the dashboard over every namespace (--netns all). It opens
// on the Namespaces pane; enter hands one namespace to the dashboard, and
// esc there, with nothing left to clear, comes back.
type fleetModel struct {
	dash       Model
	fleet      Fleet
	namespaces namespacesPane
	atFleet    bool
	inFlight   bool // a fleet poll
	gen        int  // tags the fleet's ticks: one from before leaving is void
}

// fleetTickMsg says it is time to poll the fleet.
type fleetTickMsg struct{ gen int }

func newFleetModel(cfg Config) fleetModel {
	d := New(cfg)
	d.sched.inFlight = false // no namespace yet
	f := fleetModel{dash: d, fleet: cfg.Fleet, namespaces: namespacesPane{table: table{keys: d.keys}}, atFleet: true, inFlight: true}
	f.namespaces.setBoard(d.board)
	return f
}

// Init polls the fleet and asks for the background colour.
func (f fleetModel) Init() tea.Cmd { return tea.Batch(pollFleet(f.fleet), tea.RequestBackgroundColor) }

func (f fleetModel) tick() tea.Cmd {
	gen := f.gen
	return tea.Tick(f.dash.sched.interval, func(time.Time) tea.Msg { return fleetTickMsg{gen} })
}

// Update handles what only a fleet has, and hands the rest to the
// dashboard.
func (f fleetModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case fleetMsg:
		f.inFlight = false
		f.namespaces, _ = f.namespaces.Update(msg)
		if !f.atFleet || f.dash.sched.paused {
			return f, nil
		}
		return f, f.tick()
	case fleetTickMsg:
		if msg.gen != f.gen || !f.atFleet || f.dash.sched.paused || f.inFlight {
			return f, nil
		}
		f.inFlight = true
		return f, pollFleet(f.fleet)
	case watchMsg:
		if msg.err != nil {
			f.namespaces.err = msg.err
			return f, nil
		}
		var cmd tea.Cmd
		f.dash, cmd = f.dash.watch(msg.watch)
		f.atFleet = false
		f.gen++ // the fleet's tick is void
		return f, cmd
	case polledMsg, tickMsg:
		if f.atFleet { // a namespace's poll or tick from before esc left it
			f.dash.sched.inFlight = false
			return f, nil
		}
	case tea.KeyPressMsg:
		if f.atFleet && !f.dash.view.showHelp {
			return f.key(msg)
		}
		if !f.atFleet && f.dash.escUnused(msg) {
			return f.leave()
		}
	}
	nm, cmd := f.dash.Update(msg)
	f.dash = nm.(Model)
	f.namespaces.setBoard(f.dash.board)
	return f, cmd
}

// key is a key on the Namespaces pane.
func (f fleetModel) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := f.dash.keys
	switch {
	case key.Matches(msg, k.Accept):
		if netns := f.namespaces.selected(); netns != "" {
			return f, enterNamespace(f.fleet, netns)
		}
	case key.Matches(msg, k.Up, k.Down):
		f.namespaces, _ = f.namespaces.Update(msg)
	case key.Matches(msg, k.Pause):
		f.dash.sched.paused = !f.dash.sched.paused
		f.gen++ // a tick in flight is void
		if !f.dash.sched.paused && !f.inFlight {
			f.inFlight = true
			return f, pollFleet(f.fleet)
		}
	case key.Matches(msg, k.Quit, k.Help, k.Suspend, k.Redraw):
		nm, cmd := f.dash.Update(msg)
		f.dash = nm.(Model)
		return f, cmd
	}
	return f, nil // the other panes' keys wait for a namespace
}

// leave goes back to the Namespaces pane.
func (f fleetModel) leave() (tea.Model, tea.Cmd) {
	f.atFleet = true
	f.dash.cfg.Info.Netns = "all"
	f.dash.sched.gen++ // the namespace's tick is void
	f.gen++
	if f.inFlight || f.dash.sched.paused {
		return f, nil
	}
	f.inFlight = true
	return f, pollFleet(f.fleet)
}

// View draws the dashboard's frame: around the Namespaces pane at the
// fleet, around the namespace entered otherwise.
func (f fleetModel) View() tea.View { return screen(f.render()) }

func (f fleetModel) render() string {
	if !f.atFleet {
		return f.dash.renderIn(chrome{hint: "esc: every namespace"})
	}
	// The badge counts every namespace's worst finding: the fleet's, not
	// the last namespace entered.
	var worst []diagnose.Finding
	for _, r := range f.namespaces.rows {
		if r.Worst != nil {
			worst = append(worst, *r.Worst)
		}
	}
	st := f.dash.styles
	return f.dash.renderIn(chrome{
		body:  func(w, h int) []string { return sized(f.namespaces, w, h).View(true) },
		line2: humanize.Int(len(f.namespaces.rows)) + " network namespaces; each dumped when its counters move, or every 5 s",
		badge: worst,
		footer: func(w int) []string {
			status := "focus: Namespaces · enter: watch the selected one · esc there: back here"
			if f.dash.sched.paused {
				status += " · paused (p)"
			}
			return []string{fit(st.status.Render(status), w), fit(f.dash.help.ShortHelpView(f.dash.keys.ShortHelp()), w)}
		},
	})
}

// watch switches every pane, tuning included, to one namespace, and
// starts polling it.
func (m Model) watch(w Watch) (Model, tea.Cmd) {
	// The namespace's name comes from outside (container, process names).
	m.cfg.Source, m.cfg.Tuner, m.cfg.Owners, m.cfg.Info.Netns = w.Source, w.Tuner, w.Owners, termsafe.String(w.Netns)
	m.cfg.Info.Where = termsafe.String(w.Where)
	m.live = liveState{}
	m.own.owners, m.own.ownersErr = nil, nil
	m.tuning = newTuningPane(m.cfg, m.keys)
	m.processes.services = false
	m.resetCursors()
	m.view.focus, m.view.detail = paneStates, panePressure
	m.sched.gen++ // a tick from before is void
	m.refreshBoard()
	m.sched.inFlight = true
	cmds := []tea.Cmd{poll(m.cfg.Source, m.query())}
	if m.cfg.Tuner != nil {
		cmds = append(cmds, loadSettings(m.cfg.Tuner), checkWritable(m.cfg.Tuner, m.cfg.ReadOnly))
	}
	return m, tea.Batch(cmds...)
}
