package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/tcpdash/tcpdash/internal/termsafe"
)

// fleetUpdate handles what only --netns all has: the Namespaces pane's
// polls and keys, and entering and leaving a namespace. It reports
// whether it handled msg.
func (m Model) fleetUpdate(msg tea.Msg) (Model, tea.Cmd, bool) {
	switch msg := msg.(type) {
	case fleetMsg:
		m.fleet.fleetInFlight = false
		m.fleet.namespaces, _ = m.fleet.namespaces.Update(msg)
		if !m.fleet.atFleet || m.sched.paused {
			return m, nil, true
		}
		return m, tick(m.sched.interval, m.sched.gen), true
	case watchMsg:
		if msg.err != nil {
			m.fleet.namespaces.err = msg.err
			return m, nil, true
		}
		m, cmd := m.watch(msg)
		return m, cmd, true
	case tickMsg:
		if !m.fleet.atFleet {
			return m, nil, false
		}
		if msg.gen != m.sched.gen || m.sched.paused || m.fleet.fleetInFlight {
			return m, nil, true
		}
		m.fleet.fleetInFlight = true
		return m, pollFleet(m.cfg.Fleet), true
	case polledMsg:
		if m.fleet.atFleet { // a namespace's poll that was in flight when esc left it
			m.sched.inFlight = false
			return m, nil, true
		}
	case tea.KeyPressMsg:
		if !m.fleet.atFleet || m.view.showHelp {
			return m, nil, false
		}
		k := m.keys
		switch {
		case key.Matches(msg, k.Accept):
			if netns := m.fleet.namespaces.selected(); netns != "" {
				return m, enterNamespace(m.cfg.Fleet, netns), true
			}
			return m, nil, true
		case key.Matches(msg, k.Up, k.Down):
			m.fleet.namespaces, _ = m.fleet.namespaces.Update(msg)
			return m, nil, true
		case key.Matches(msg, k.Quit, k.Help, k.Pause, k.Suspend):
			return m, nil, false // the dashboard's own
		}
		return m, nil, true // the other panes' keys wait for a namespace
	}
	return m, nil, false
}

// watch switches every pane, tuning included, to one namespace, and
// starts polling it.
func (m Model) watch(msg watchMsg) (Model, tea.Cmd) {
	w := msg.watch
	// The namespace's name comes from outside (container, process names).
	m.cfg.Source, m.cfg.Tuner, m.cfg.Owners, m.cfg.Info.Netns = w.Source, w.Tuner, w.Owners, termsafe.String(w.Netns)
	m.cfg.Info.Where = termsafe.String(w.Where)
	m.fleet.atFleet = false
	m.live.snap, m.live.prev, m.live.findings, m.live.pollErr = nil, nil, nil, nil
	m.live.history = history{}
	m.own.owners, m.own.ownersErr = nil, nil
	m.tuning = newTuningPane(m.cfg, m.keys)
	m.processes.services = false
	m.resetCursors()
	m.view.focus, m.view.detail = paneStates, panePressure
	m.sched.gen++ // the fleet's tick is void
	m.refreshBoard()
	m.sched.inFlight = true
	cmds := []tea.Cmd{poll(m.cfg.Source, m.query())}
	if m.cfg.Tuner != nil {
		cmds = append(cmds, loadSettings(m.cfg.Tuner), checkWritable(m.cfg.Tuner, m.cfg.ReadOnly))
	}
	return m, tea.Batch(cmds...)
}

// leave goes back to the Namespaces pane.
func (m Model) leave() (Model, tea.Cmd) {
	m.fleet.atFleet = true
	m.cfg.Info.Netns = "all"
	m.sched.gen++ // the namespace's tick is void
	if m.fleet.fleetInFlight || m.sched.paused {
		return m, nil
	}
	m.fleet.fleetInFlight = true
	return m, pollFleet(m.cfg.Fleet)
}
