// Package ui is tcpdash's live dashboard: a Bubble Tea model that polls a
// Source off the UI loop and draws state histograms, top tables, port
// pressure and counter rates. It knows nothing about netlink; tests feed
// it snapshots.
package ui

import (
	"strconv"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/recording"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// HostInfo is what the header says about where tcpdash runs.
type HostInfo struct {
	Host, Kernel, Netns string
	// Where names the namespace fully, for confirmations: every name
	// (container, process) and its id. Empty: Netns.
	Where string
}

// Config is what the dashboard needs from its caller.
type Config struct {
	// Source gives the snapshots: a live collector, one namespace of a
	// fleet, a recording.
	Source   Source
	Interval time.Duration
	Info     HostInfo
	// Rows bounds each table; 0 means 100.
	Rows int
	// Tuner backs the tuning pane; ReadOnly turns its editing off.
	Tuner Tuner
	// Root says tcpdash runs as root, so notes never tell it to.
	Root bool
	// Unrecorded says changes go unrecorded (--no-undo without a state
	// file or audit log): the confirmation says so.
	Unrecorded bool
	ReadOnly   bool
	// PersistPath is where w writes; empty means tuning.DefaultPersistPath.
	PersistPath string
	// Owners reads which process holds which socket; nil turns process
	// attribution off.
	Owners func() (*tcpinfo.Owners, error)
	// Fleet, when set, is every namespace (--netns all): the dashboard
	// opens on the Namespaces pane, and enter watches one of them.
	Fleet Fleet
	// Filter is the filter in force at the start (--filter); / sets
	// another, parsed by ParseFilter (nil: filter.Parse). Either narrows
	// the tables only: findings, states and pressure stay over the whole
	// namespace.
	Filter      *filter.Filter
	ParseFilter func(string) (*filter.Filter, error)
	// Tape, when set, is a recording to replay instead of polling, from
	// its snapshot TapeStart.
	Tape      *recording.Tape
	TapeStart int
	// TapeRest, when set, reads the whole recording of which Tape is the
	// start: it replaces Tape when it arrives.
	TapeRest func() (*recording.Tape, error)
}

type pane int

const (
	paneStates pane = iota
	paneLocal
	paneRemote
	panePressure
	paneCounters
	paneProcesses
	paneFindings
	paneTuning
	paneHealth
	numPanes
)

var paneNames = [numPanes]string{"States", "Local ports", "Remote endpoints", "Port pressure", "Counters",
	"Processes", "Findings", "Tuning", "Health"}

// stateFilters is the cycle of the f key.
var stateFilters = []tcpinfo.State{0, tcpinfo.TimeWait, tcpinfo.CloseWait, tcpinfo.Established,
	tcpinfo.SynRecv, tcpinfo.FinWait2, tcpinfo.FinWait1, tcpinfo.LastAck, tcpinfo.Closing,
	tcpinfo.SynSent, tcpinfo.Listen}

// columns are the per-state columns of the top tables; s cycles through
// TOTAL (0) and these.
var columns = []tcpinfo.State{tcpinfo.Established, tcpinfo.TimeWait, tcpinfo.CloseWait,
	tcpinfo.SynRecv, tcpinfo.FinWait2, tcpinfo.Listen}

// Model is the root model.
type Model struct {
	cfg    Config
	keys   *keyMap
	help   help.Model
	styles *styles

	view  viewState
	sched schedule
	live  liveState
	filt  filterState

	// The panes: each keeps its own selection and mode; all read board.
	board     *board
	states    statesPane
	counters  countersPane
	local     localPane
	remote    remotePane
	pressure  pressurePane
	processes processesPane
	findingsP findingsPane
	tuning    tuningPane
	health    healthPane

	dd  drillState // the drill-down
	own ownersState
}

// viewState is the terminal's size, the focus and the help overlay.
type viewState struct {
	width, height int
	focus         pane
	detail        pane // the pane a compact layout shows under the states
	showHelp      bool
	// recorded says the frames come from a recording (replayModel): no
	// polls, and the tuning pane shows the values then in force.
	recorded bool
}

// schedule is the poll schedule: the user's interval, the tag that drops a
// stale tick, and whether a poll is in flight or paused.
type schedule struct {
	interval time.Duration
	gen      int
	inFlight bool
	paused   bool
}

// liveState is what the last polls brought.
type liveState struct {
	snap, prev *tcpinfo.Snapshot
	pollErr    error // the last poll's error; the data on screen is stale
	history    history
	findings   []diagnose.Finding // of snap against prev; see rediagnose
	settings   []tuning.Setting   // the sysctls in force, as last read
	advice     []diagnose.Recommendation
}

// filterState is the view's filters: the state filter, the sort column,
// and the / prompt with the filter it set.
type filterState struct {
	filter int // index into stateFilters
	sort   int // 0 total, else index+1 into columns
	bar    filterBar
}

// drillState is the drill-down, when open: the sockets behind a row.
type drillState struct {
	sockets  socketsPane
	drilling bool
}

// ownersState is the last /proc walk: who holds which socket.
type ownersState struct {
	owners         *tcpinfo.Owners
	ownersErr      error
	ownersInFlight bool
}

// New returns a dashboard that polls cfg.Source every cfg.Interval.
func New(cfg Config) Model {
	if cfg.Rows == 0 {
		cfg.Rows = 100
	}
	if cfg.PersistPath == "" {
		cfg.PersistPath = tuning.DefaultPersistPath
	}
	// Host and namespace names come from outside: made printable once.
	cfg.Info.Host, cfg.Info.Kernel, cfg.Info.Netns, cfg.Info.Where =
		termsafe.String(cfg.Info.Host), termsafe.String(cfg.Info.Kernel), termsafe.String(cfg.Info.Netns), termsafe.String(cfg.Info.Where)
	keys := newKeyMap()
	m := Model{
		cfg:       cfg,
		keys:      keys,
		help:      help.New(),
		styles:    newStyles(true),
		view:      viewState{detail: panePressure, recorded: cfg.Tape != nil},
		sched:     schedule{interval: cfg.Interval, inFlight: true}, // Init polls at once
		filt:      filterState{bar: newFilterBar(keys, cfg.Filter, cfg.ParseFilter)},
		local:     localPane{table: table{keys: keys}},
		remote:    remotePane{table{keys: keys}},
		pressure:  pressurePane{table{keys: keys}},
		processes: processesPane{table: table{keys: keys}},
		findingsP: findingsPane{table{keys: keys}},
		health:    healthPane{table: table{keys: keys}},
		tuning:    newTuningPane(cfg, keys),
	}
	m.refreshBoard()
	return m
}

// NewRoot returns the model to run for cfg: the dashboard, wrapped by a
// replay for a recording (cfg.Tape) or by a fleet for every namespace
// (cfg.Fleet).
func NewRoot(cfg Config) tea.Model {
	switch {
	case cfg.Tape != nil:
		return newReplayModel(cfg)
	case cfg.Fleet != nil:
		return newFleetModel(cfg)
	}
	return New(cfg)
}

// refreshBoard builds the board the panes read from the model's state, and
// hands it to every pane. It runs where that state changes: a poll, a
// setting, a key that changes a filter, the colours.
func (m *Model) refreshBoard() {
	b := &board{snap: m.live.snap, prev: m.live.prev, history: &m.live.history, findings: m.live.findings, styles: m.styles,
		settings: m.live.settings, advice: m.live.advice,
		filter: stateFilters[m.filt.filter], sort: m.filt.sort, match: m.filt.bar.Text(), root: m.cfg.Root, owners: m.cfg.Owners != nil}
	b.attribution = m.attributionLine()
	m.board = b
	m.states.setBoard(b)
	m.counters.setBoard(b)
	m.local.setBoard(b)
	m.local.clamp(m.local.rows())
	m.remote.setBoard(b)
	m.remote.clamp(m.remote.rows())
	m.pressure.setBoard(b)
	m.pressure.clamp(m.pressure.rows())
	m.processes.setBoard(b)
	m.processes.clamp(m.processes.rows())
	m.findingsP.setBoard(b)
	m.findingsP.clamp(m.findingsP.rows())
	m.health.setBoard(b)
	m.health.clamp(m.health.rows())
	m.tuning.setBoard(b)
	m.dd.sockets.setBoard(b)
}

// Init polls at once, reads the sysctls and asks the terminal for its
// background colour.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{poll(m.cfg.Source, m.query()), tea.RequestBackgroundColor}
	if m.cfg.Tuner != nil {
		cmds = append(cmds, loadSettings(m.cfg.Tuner), checkWritable(m.cfg.Tuner, m.cfg.ReadOnly))
	}
	return tea.Batch(cmds...)
}

func (m Model) query() tcpinfo.Query {
	q := tcpinfo.Query{State: stateFilters[m.filt.filter], Narrow: m.filt.bar.Active(), Owners: m.own.owners}
	if m.filt.sort > 0 {
		q.Rank = columns[m.filt.sort-1]
	}
	// On the processes pane the tables follow the selected process.
	if m.view.focus == paneProcesses && m.own.owners != nil {
		if pid, ok := m.processes.selectedPID(); ok {
			q.PID = pid
		}
	}
	return q
}

// sameView reports whether a snapshot built for q answers the question the
// model asks now. A newer owners walk alone does not call for a re-poll:
// the next tick brings it.
func (m Model) sameView(q tcpinfo.Query) bool {
	now := m.query()
	q.Owners, now.Owners = nil, nil
	q.Openers, now.Openers = nil, nil // the collector's own, not the view's
	return q == now
}

// effectiveInterval is the interval in force: the user's, stretched when
// dumps are slow.
func (m Model) effectiveInterval() time.Duration {
	if m.live.snap == nil {
		return m.sched.interval
	}
	return watch.Schedule{Interval: m.sched.interval}.Next(m.live.snap.Dump)
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.view.width, m.view.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return m, nil
	case tea.BackgroundColorMsg:
		m.styles = newStyles(msg.IsDark())
		m.help.Styles = help.DefaultStyles(msg.IsDark())
		m.refreshBoard()
		return m, nil
	case polledMsg:
		nm, cmd := m.polled(msg)
		if m := nm.(Model); m.dd.drilling {
			// The drill-down follows the polls: its sockets come and go.
			if lister, ok := m.cfg.Source.(SocketLister); ok {
				return m, tea.Batch(cmd, listSockets(lister, m.dd.sockets.filter, m.own.owners))
			}
		}
		return nm, cmd
	case socketsMsg:
		if m.dd.drilling {
			m.dd.sockets, _ = m.dd.sockets.Update(msg)
		}
		return m, nil
	case settingsMsg, writableMsg, plannedMsg, tunedMsg:
		var cmd tea.Cmd
		m.tuning, cmd = m.tuning.Update(msg)
		switch msg := msg.(type) {
		case settingsMsg:
			m.live.settings = msg.settings
		case tunedMsg:
			if msg.settings != nil {
				m.live.settings = msg.settings // read back
			}
		}
		m.rediagnose() // the advice in the findings reads the settings
		m.refreshBoard()
		return m, cmd
	case ownersMsg:
		m.own.ownersInFlight = false
		m.own.ownersErr = msg.err
		if msg.err == nil {
			m.own.owners = msg.owners
		}
		m.refreshBoard()
		return m, nil
	case tickMsg:
		if msg.gen != m.sched.gen || m.sched.paused || m.sched.inFlight {
			return m, nil
		}
		m.sched.inFlight = true
		return m, poll(m.cfg.Source, m.query())
	case tea.KeyPressMsg, tea.PasteMsg:
		if m.filt.bar.Editing() {
			var changed bool
			if m.filt.bar, changed = m.filt.bar.Update(msg); changed {
				m.resetCursors()
				return m.repoll()
			}
			return m, nil
		}
		if k, ok := msg.(tea.KeyPressMsg); ok {
			return m.key(k)
		}
		return m.paste(msg.(tea.PasteMsg))
	}
	return m, nil
}

func (m Model) polled(msg polledMsg) (tea.Model, tea.Cmd) {
	m.sched.inFlight = false
	if msg.err != nil {
		// Keep the last good data on screen, marked stale, and go on.
		m.live.pollErr = msg.err
	} else {
		m.live.pollErr = nil
		printableNames(msg.snap)
		m.live.prev, m.live.snap = m.live.snap, msg.snap
		m.live.history.add(msg.snap)
		m.rediagnose()
	}
	m.refreshBoard()
	if m.sched.paused {
		return m, nil
	}
	cmds := []tea.Cmd{}
	if m.cfg.Owners != nil && !m.own.ownersInFlight && m.own.owners.Stale(time.Now(), m.effectiveInterval()) {
		// Attribution is refreshed on its own goroutine, on its own slow
		// schedule: polls never wait for the /proc walk.
		m.own.ownersInFlight = true
		cmds = append(cmds, readOwners(m.cfg.Owners))
	}
	// The filter changed while this poll was in flight: its tables answer
	// the old question, so ask the new one now rather than in a second.
	if msg.err == nil && !m.sameView(msg.snap.Query) {
		m.sched.inFlight = true
		return m, tea.Batch(append(cmds, poll(m.cfg.Source, m.query()))...)
	}
	return m, tea.Batch(append(cmds, tick(m.effectiveInterval(), m.sched.gen))...)
}

// ownersMsg carries a finished /proc walk.
type ownersMsg struct {
	owners *tcpinfo.Owners
	err    error
}

func readOwners(read func() (*tcpinfo.Owners, error)) tea.Cmd {
	return func() tea.Msg {
		o, err := read()
		return ownersMsg{o, err}
	}
}

// repoll starts a new schedule: a poll now if none is in flight (the one in
// flight re-arms the schedule when it lands).
func (m Model) repoll() (Model, tea.Cmd) {
	m.refreshBoard() // what the titles say the tables show
	if m.view.recorded {
		return m, nil // a recorded frame answers every view the same
	}
	m.sched.gen++
	if m.sched.inFlight || m.sched.paused {
		return m, nil
	}
	m.sched.inFlight = true
	return m, poll(m.cfg.Source, m.query())
}

func (m Model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit) && msg.String() == "ctrl+c":
		return m, tea.Quit
	case key.Matches(msg, k.Suspend):
		// As in a shell: the terminal is restored while stopped, and
		// fg brings the dashboard back.
		return m, tea.Suspend
	case key.Matches(msg, k.Redraw):
		// Another process wrote to the terminal (a wall message, a
		// program started beside tcpdash): the renderer draws only what
		// changed, so what it did not draw stays until it is cleared.
		return m, tea.ClearScreen
	}
	if m.tuningCaptures(msg) {
		var cmd tea.Cmd
		m.tuning, cmd = m.tuning.Update(msg)
		return m, cmd
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case m.dd.drilling && key.Matches(msg, k.ClearSearch) && !m.view.showHelp:
		m.dd.drilling = false
		return m, nil
	case m.dd.drilling && key.Matches(msg, k.Up, k.Down):
		m.dd.sockets, _ = m.dd.sockets.Update(msg)
		return m, nil
	case key.Matches(msg, k.Accept) && !m.dd.drilling:
		return m.drill()
	case key.Matches(msg, k.Help):
		m.view.showHelp = !m.view.showHelp
	case key.Matches(msg, k.ClearSearch):
		if m.view.showHelp {
			m.view.showHelp = false
			return m, nil
		}
		var cleared bool
		if m.filt.bar, cleared = m.filt.bar.Clear(); cleared {
			m.resetCursors()
			return m.repoll()
		}
	case key.Matches(msg, k.NextPane):
		return m.focusPane((m.view.focus + 1) % numPanes)
	case key.Matches(msg, k.PrevPane):
		return m.focusPane((m.view.focus + numPanes - 1) % numPanes)
	case key.Matches(msg, k.Pane1, k.Pane2, k.Pane3, k.Pane4, k.Pane5, k.Pane6, k.Pane7, k.Pane8, k.Pane9):
		n, _ := strconv.Atoi(msg.String())
		return m.focusPane(pane(n - 1))
	case key.Matches(msg, k.Tune):
		return m.focusPane(paneTuning)
	case key.Matches(msg, k.Listeners) && m.view.focus == paneLocal:
		m.local, _ = m.local.Update(msg)
	case key.Matches(msg, k.Services) && m.view.focus == paneProcesses:
		m.processes, _ = m.processes.Update(msg)
		return m.repoll() // the tables follow a selected process only in its mode
	case key.Matches(msg, k.Refresh):
		if m.cfg.Owners == nil || m.own.ownersInFlight {
			return m, nil
		}
		m.own.ownersInFlight = true
		return m, readOwners(m.cfg.Owners)
	case key.Matches(msg, k.Pause):
		m.sched.paused = !m.sched.paused
		if m.sched.paused {
			m.sched.gen++ // drop the tick in flight
			return m, nil
		}
		return m.repoll()
	case key.Matches(msg, k.Faster, k.Slower):
		dir := 1
		if key.Matches(msg, k.Faster) {
			dir = -1
		}
		m.sched.interval = stepInterval(m.sched.interval, dir)
		m.sched.gen++
		if m.sched.inFlight || m.sched.paused {
			return m, nil
		}
		return m, tick(m.effectiveInterval(), m.sched.gen)
	case key.Matches(msg, k.StateFilter):
		m.filt.filter = (m.filt.filter + 1) % len(stateFilters)
		m.resetCursors()
		return m.repoll()
	case key.Matches(msg, k.Sort) && m.view.focus == paneHealth:
		m.health, _ = m.health.Update(msg) // the pane's own order
	case key.Matches(msg, k.Sort):
		m.filt.sort = (m.filt.sort + 1) % (len(columns) + 1)
		m.resetCursors()
		return m.repoll()
	case key.Matches(msg, k.Search):
		m.filt.bar = m.filt.bar.Open()
		return m, nil
	case key.Matches(msg, k.Up, k.Down):
		was := m.query()
		m.routeToFocused(msg)
		if m.query() != was { // another process selected: its endpoints
			return m.repoll()
		}
	}
	return m, nil
}

// tuningCaptures reports whether the tuning pane takes msg: it is
// focused, live, and editing or confirming.
func (m Model) tuningCaptures(msg tea.KeyPressMsg) bool {
	return m.tuningLive() && m.tuning.captures(msg)
}

// tuningLive reports whether the tuning pane is the one in view and can
// change anything: focused, with a tuner, on a live namespace.
func (m Model) tuningLive() bool {
	return m.view.focus == paneTuning && m.cfg.Tuner != nil && !m.view.recorded
}

// paste takes a terminal's paste into the field being edited, if any.
func (m Model) paste(msg tea.PasteMsg) (tea.Model, tea.Cmd) {
	if m.tuningLive() {
		m.tuning, _ = m.tuning.Update(msg)
	}
	return m, nil
}

// escUnused reports whether msg is an esc the dashboard has no use for:
// no prompt, help, drill-down, filter or edit to close. A wrapping model
// may take it (a fleet goes back to every namespace).
func (m Model) escUnused(msg tea.KeyPressMsg) bool {
	return key.Matches(msg, m.keys.ClearSearch) && !m.filt.bar.Editing() && !m.view.showHelp && !m.dd.drilling &&
		m.filt.bar.Active() == nil && !m.tuningCaptures(msg)
}

// drill opens the sockets behind the focused pane's selected row.
func (m Model) drill() (tea.Model, tea.Cmd) {
	lister, ok := m.cfg.Source.(SocketLister)
	if !ok {
		return m, nil
	}
	f, title, ok := m.drillFilter()
	if !ok {
		return m, nil
	}
	m.dd.drilling = true
	m.dd.sockets = socketsPane{table: table{keys: m.keys, base: base{b: m.board}}, title: termsafe.String(title), filter: f}
	return m, listSockets(lister, f, m.own.owners)
}

// routeToFocused hands a key to the focused pane.
func (m *Model) routeToFocused(msg tea.Msg) {
	switch m.view.focus {
	case paneLocal:
		m.local, _ = m.local.Update(msg)
	case paneRemote:
		m.remote, _ = m.remote.Update(msg)
	case panePressure:
		m.pressure, _ = m.pressure.Update(msg)
	case paneProcesses:
		m.processes, _ = m.processes.Update(msg)
	case paneFindings:
		m.findingsP, _ = m.findingsP.Update(msg)
	case paneTuning:
		m.tuning, _ = m.tuning.Update(msg)
	case paneHealth:
		m.health, _ = m.health.Update(msg)
	}
}

// focusPane moves the focus; entering or leaving the processes pane
// changes what the tables show, so it polls at once.
func (m Model) focusPane(p pane) (tea.Model, tea.Cmd) {
	was := m.query()
	m.setFocus(p)
	if m.query() != was {
		return m.repoll()
	}
	return m, nil
}

func (m *Model) setFocus(p pane) {
	m.view.focus = p
	if p != paneStates && !fullWidth(p) {
		m.view.detail = p
	}
}

// tuningShown reports whether the tuning pane has settings to show: live
// with a Tuner, or a recording's.
func (m Model) tuningShown() bool { return m.cfg.Tuner != nil || m.view.recorded }

// fullWidth panes take the whole body when focused.
func fullWidth(p pane) bool {
	return p == paneProcesses || p == paneFindings || p == paneTuning || p == paneHealth
}

// resetCursors puts every table's selection back on its first row: the
// rows mean something else under a new filter or sort.
func (m *Model) resetCursors() {
	for _, c := range []*cursor{&m.local.cursor, &m.remote.cursor, &m.pressure.cursor, &m.processes.cursor, &m.findingsP.cursor, &m.health.cursor} {
		c.reset()
	}
}

// printableNames makes the process names in a snapshot printable as it
// arrives: every pane, and the findings drawn from it, then show them
// safely. A process names itself, escape codes and newlines included.
func printableNames(s *tcpinfo.Snapshot) {
	// A recording's snapshot is a stranger's file: even its source and
	// namespace are text from outside.
	s.Source, s.SourceNote, s.Netns = tcpinfo.Source(termsafe.String(string(s.Source))), termsafe.String(s.SourceNote), termsafe.String(s.Netns)
	for i := range s.Processes {
		p := &s.Processes[i]
		p.Command, p.CgroupName, p.Cmdline = termsafe.String(p.Command), termsafe.String(p.CgroupName), termsafe.String(p.Cmdline)
	}
	for i := range s.Cgroups {
		c := &s.Cgroups[i]
		c.Name, c.Path = termsafe.String(c.Name), termsafe.String(c.Path)
	}
	for i := range s.Listeners {
		l := &s.Listeners[i]
		l.Owner.Command, l.Owner.Cmdline = termsafe.String(l.Owner.Command), termsafe.String(l.Owner.Cmdline)
	}
	for i := range s.PortPressure {
		g := &s.PortPressure[i]
		g.Opener.Command, g.OpenerCgroupName = termsafe.String(g.Opener.Command), termsafe.String(g.OpenerCgroupName)
	}
	for i := range s.HealthByCgroup {
		s.HealthByCgroup[i].CgroupName = termsafe.String(s.HealthByCgroup[i].CgroupName)
	}
	for i, n := range s.Names {
		s.Names[i] = termsafe.String(n)
	}
	s.SafeZones() // interface names, in link-local addresses
}
