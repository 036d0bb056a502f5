// Package ui is tcpdash's live dashboard: a Bubble Tea model that polls a
// Source off the UI loop and draws state histograms, top tables, port
// pressure and counter rates. It knows nothing about netlink; tests feed
// it snapshots.
package ui

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/recording"
	"github.com/tcpdash/tcpdash/internal/termsafe"
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
	// Filter selects the sockets every count is over (--filter); / sets
	// another, parsed by ParseFilter (nil: / takes only a port or an
	// address).
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
	numPanes
)

var paneNames = [numPanes]string{"States", "Local ports", "Remote endpoints", "Port pressure", "Counters",
	"Processes", "Findings", "Tuning"}

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
	keys   keyMap
	help   help.Model
	styles styles

	width, height int
	focus         pane
	detail        pane // the pane a compact layout shows under the states
	showHelp      bool

	interval time.Duration // the user's
	gen      int           // tags the tick schedule
	inFlight bool
	paused   bool

	snap, prev *tcpinfo.Snapshot
	pollErr    error // the last poll's error; the data on screen is stale
	history    history
	findings   []diagnose.Finding // of snap against prev; see rediagnose

	filter    int // index into stateFilters
	sort      int // 0 total, else index+1 into columns
	search    textinput.Model
	searching bool
	addr      netip.Addr
	port      uint16
	expr      *filter.Filter // the view's filter: --filter's, or what / set
	searchErr string

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

	// The drill-down, when open: the sockets behind a row.
	sockets  socketsPane
	drilling bool

	// With a Fleet: the Namespaces pane, whether it is on screen, and
	// whether its poll is in flight.
	namespaces    namespacesPane
	atFleet       bool
	fleetInFlight bool

	owners         *tcpinfo.Owners
	ownersErr      error
	ownersInFlight bool

	// With a Tape: the replay status line and its position, and the
	// position of the frame on screen (-1: none yet).
	player player
	shown  int
}

// New returns a dashboard that polls cfg.Source every cfg.Interval.
func New(cfg Config) Model {
	if cfg.Rows == 0 {
		cfg.Rows = 100
	}
	if cfg.PersistPath == "" {
		cfg.PersistPath = tuning.DefaultPersistPath
	}
	ti := textinput.New()
	ti.Prompt = "filter: "
	ti.Placeholder = "port, address, address:port, or ss's words: state time-wait dport = :443"
	// Host and namespace names come from outside: made printable once.
	cfg.Info.Host, cfg.Info.Kernel, cfg.Info.Netns, cfg.Info.Where =
		termsafe.String(cfg.Info.Host), termsafe.String(cfg.Info.Kernel), termsafe.String(cfg.Info.Netns), termsafe.String(cfg.Info.Where)
	keys := newKeyMap()
	m := Model{
		expr:       cfg.Filter,
		cfg:        cfg,
		keys:       keys,
		help:       help.New(),
		styles:     newStyles(true),
		interval:   cfg.Interval,
		inFlight:   true, // Init polls at once
		detail:     panePressure,
		search:     ti,
		local:      localPane{table: table{keys: keys}},
		remote:     remotePane{table{keys: keys}},
		pressure:   pressurePane{table{keys: keys}},
		processes:  processesPane{table: table{keys: keys}},
		findingsP:  findingsPane{table{keys: keys}},
		tuning:     newTuningPane(cfg, keys),
		namespaces: namespacesPane{table: table{keys: keys}},
		atFleet:    cfg.Fleet != nil,
	}
	if m.atFleet {
		m.inFlight, m.fleetInFlight = false, true
	}
	if cfg.Tape != nil {
		m.player = newPlayer(cfg.Tape, cfg.TapeStart)
		m.inFlight, m.shown = false, -1
	}
	m.refreshBoard()
	return m
}

// refreshBoard builds the board the panes read from the model's state, and
// hands it to every pane. It runs where that state changes: a poll, a
// setting, a key that changes a filter, the colours.
func (m *Model) refreshBoard() {
	b := &board{snap: m.snap, prev: m.prev, history: &m.history, findings: m.findings, styles: m.styles,
		filter: stateFilters[m.filter], sort: m.sort, match: m.filterText(), root: m.cfg.Root, owners: m.cfg.Owners != nil}
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
	m.tuning.setBoard(b)
	m.namespaces.setBoard(b)
	m.sockets.setBoard(b)
	m.player.styles = m.styles
}

// Init polls at once, reads the sysctls and asks the terminal for its
// background colour.
func (m Model) Init() tea.Cmd {
	if m.atFleet {
		return tea.Batch(pollFleet(m.cfg.Fleet), tea.RequestBackgroundColor)
	}
	if t := m.cfg.Tape; t != nil {
		cmds := []tea.Cmd{loadFrame(t, m.player.pos, nil), tea.RequestBackgroundColor}
		if m.cfg.TapeRest != nil {
			cmds = append(cmds, loadRest(m.cfg.TapeRest))
		}
		return tea.Batch(cmds...)
	}
	cmds := []tea.Cmd{poll(m.cfg.Source, m.query()), tea.RequestBackgroundColor}
	if m.cfg.Tuner != nil {
		cmds = append(cmds, loadSettings(m.cfg.Tuner), checkWritable(m.cfg.Tuner, m.cfg.ReadOnly))
	}
	return tea.Batch(cmds...)
}

func (m Model) query() tcpinfo.Query {
	q := tcpinfo.Query{State: stateFilters[m.filter], Port: m.port, Addr: m.addr, Owners: m.owners, Filter: m.expr}
	if m.sort > 0 {
		q.Rank = columns[m.sort-1]
	}
	// On the processes pane the tables follow the selected process.
	if m.focus == paneProcesses && m.owners != nil {
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
	return q == now
}

// effectiveInterval is the interval in force: the user's, stretched when
// dumps are slow.
func (m Model) effectiveInterval() time.Duration {
	if m.snap == nil {
		return m.interval
	}
	return tcpinfo.Stretch(m.interval, m.snap.Dump)
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m.cfg.Fleet != nil {
		if nm, cmd, ok := m.fleetUpdate(msg); ok {
			return nm, cmd
		}
	}
	if m.cfg.Tape != nil {
		if nm, cmd, ok := m.replayUpdate(msg); ok {
			return nm, cmd
		}
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return m, nil
	case tea.BackgroundColorMsg:
		m.styles = newStyles(msg.IsDark())
		m.help.Styles = help.DefaultStyles(msg.IsDark())
		m.refreshBoard()
		return m, nil
	case polledMsg:
		nm, cmd := m.polled(msg)
		if m := nm.(Model); m.drilling {
			// The drill-down follows the polls: its sockets come and go.
			if lister, ok := m.cfg.Source.(SocketLister); ok {
				return m, tea.Batch(cmd, listSockets(lister, m.sockets.filter, m.owners))
			}
		}
		return nm, cmd
	case socketsMsg:
		if m.drilling {
			m.sockets, _ = m.sockets.Update(msg)
		}
		return m, nil
	case settingsMsg, writableMsg, plannedMsg, tunedMsg:
		var cmd tea.Cmd
		m.tuning, cmd = m.tuning.Update(msg)
		m.rediagnose() // the advice in the findings reads the settings
		m.refreshBoard()
		return m, cmd
	case ownersMsg:
		m.ownersInFlight = false
		m.ownersErr = msg.err
		if msg.err == nil {
			m.owners = msg.owners
		}
		m.refreshBoard()
		return m, nil
	case tickMsg:
		if msg.gen != m.gen || m.paused || m.inFlight {
			return m, nil
		}
		m.inFlight = true
		return m, poll(m.cfg.Source, m.query())
	case tea.KeyPressMsg:
		if m.searching {
			return m.searchKey(msg)
		}
		return m.key(msg)
	}
	return m, nil
}

func (m Model) polled(msg polledMsg) (tea.Model, tea.Cmd) {
	m.inFlight = false
	if msg.err != nil {
		// Keep the last good data on screen, marked stale, and go on.
		m.pollErr = msg.err
	} else {
		m.pollErr = nil
		printableNames(msg.snap)
		m.prev, m.snap = m.snap, msg.snap
		m.history.add(msg.snap)
		m.rediagnose()
	}
	m.refreshBoard()
	if m.paused {
		return m, nil
	}
	cmds := []tea.Cmd{}
	if m.cfg.Owners != nil && !m.ownersInFlight && m.owners.Stale(time.Now()) {
		// Attribution is refreshed on its own goroutine, on its own slow
		// schedule: polls never wait for the /proc walk.
		m.ownersInFlight = true
		cmds = append(cmds, readOwners(m.cfg.Owners))
	}
	// The filter changed while this poll was in flight: its tables answer
	// the old question, so ask the new one now rather than in a second.
	if msg.err == nil && !m.sameView(msg.snap.Query) {
		m.inFlight = true
		return m, tea.Batch(append(cmds, poll(m.cfg.Source, m.query()))...)
	}
	return m, tea.Batch(append(cmds, tick(m.effectiveInterval(), m.gen))...)
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
	if m.cfg.Tape != nil {
		return m, nil // a recorded frame answers every view the same
	}
	m.gen++
	if m.inFlight || m.paused {
		return m, nil
	}
	m.inFlight = true
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
	}
	if m.focus == paneTuning && m.cfg.Tuner != nil && m.cfg.Tape == nil && m.tuning.captures(msg) {
		var cmd tea.Cmd
		m.tuning, cmd = m.tuning.Update(msg)
		return m, cmd
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case m.drilling && key.Matches(msg, k.ClearSearch) && !m.showHelp:
		m.drilling = false
		return m, nil
	case m.drilling && key.Matches(msg, k.Up, k.Down):
		m.sockets, _ = m.sockets.Update(msg)
		return m, nil
	case key.Matches(msg, k.Accept) && !m.drilling:
		return m.drill()
	case key.Matches(msg, k.Help):
		m.showHelp = !m.showHelp
	case key.Matches(msg, k.ClearSearch):
		if m.showHelp {
			m.showHelp = false
			return m, nil
		}
		if m.addr.IsValid() || m.port != 0 || m.searchErr != "" || m.expr != m.cfg.Filter {
			m.addr, m.port, m.searchErr, m.expr = netip.Addr{}, 0, "", m.cfg.Filter
			m.search.Reset()
			return m.repoll()
		}
		if m.cfg.Fleet != nil && !(m.focus == paneTuning && m.tuning.captures(msg)) {
			return m.leave() // nothing left to clear: back to every namespace
		}
	case key.Matches(msg, k.NextPane):
		return m.focusPane((m.focus + 1) % numPanes)
	case key.Matches(msg, k.PrevPane):
		return m.focusPane((m.focus + numPanes - 1) % numPanes)
	case key.Matches(msg, k.Pane1, k.Pane2, k.Pane3, k.Pane4, k.Pane5, k.Pane6, k.Pane7, k.Pane8):
		n, _ := strconv.Atoi(msg.String())
		return m.focusPane(pane(n - 1))
	case key.Matches(msg, k.Tune):
		return m.focusPane(paneTuning)
	case key.Matches(msg, k.Listeners) && m.focus == paneLocal:
		m.local, _ = m.local.Update(msg)
	case key.Matches(msg, k.Services) && m.focus == paneProcesses:
		m.processes, _ = m.processes.Update(msg)
		return m.repoll() // the tables follow a selected process only in its mode
	case key.Matches(msg, k.Refresh):
		if m.cfg.Owners == nil || m.ownersInFlight {
			return m, nil
		}
		m.ownersInFlight = true
		return m, readOwners(m.cfg.Owners)
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
		if m.paused {
			m.gen++ // drop the tick in flight
			return m, nil
		}
		return m.repoll()
	case key.Matches(msg, k.Faster, k.Slower):
		dir := 1
		if key.Matches(msg, k.Faster) {
			dir = -1
		}
		m.interval = stepInterval(m.interval, dir)
		m.gen++
		if m.inFlight || m.paused {
			return m, nil
		}
		return m, tick(m.effectiveInterval(), m.gen)
	case key.Matches(msg, k.StateFilter):
		m.filter = (m.filter + 1) % len(stateFilters)
		m.resetCursors()
		return m.repoll()
	case key.Matches(msg, k.Sort):
		m.sort = (m.sort + 1) % (len(columns) + 1)
		m.resetCursors()
		return m.repoll()
	case key.Matches(msg, k.Search):
		m.searching = true
		m.searchErr = ""
		return m, m.search.Focus()
	case key.Matches(msg, k.Up, k.Down):
		was := m.query()
		m.routeToFocused(msg)
		if m.query() != was { // another process selected: its endpoints
			return m.repoll()
		}
	}
	return m, nil
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
	m.drilling = true
	m.sockets = socketsPane{table: table{keys: m.keys, base: base{b: m.board}}, title: termsafe.String(title), filter: f}
	return m, listSockets(lister, f, m.owners)
}

// routeToFocused hands a key to the focused pane.
func (m *Model) routeToFocused(msg tea.Msg) {
	switch m.focus {
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

func (m Model) searchKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Accept):
		// A port or an address, as before; anything else is ss's
		// language, run in the kernel.
		addr, port, err := parseFilter(m.search.Value())
		expr := m.cfg.Filter
		if err != nil && m.cfg.ParseFilter != nil {
			var ferr error
			if expr, ferr = m.cfg.ParseFilter(m.search.Value()); ferr == nil {
				err = nil
			} else {
				err = ferr
			}
		}
		if err != nil {
			// Say what is wrong and keep the text for correcting.
			m.searchErr = termsafe.Error(err)
			return m, nil
		}
		m.searching, m.searchErr = false, ""
		m.search.Blur()
		m.addr, m.port, m.expr = addr, port, expr
		m.resetCursors()
		return m.repoll()
	case key.Matches(msg, m.keys.ClearSearch):
		m.searching, m.searchErr = false, ""
		m.search.Blur()
		m.search.SetValue(m.filterText())
		return m, nil
	}
	var cmd tea.Cmd
	m.search, cmd = m.search.Update(msg)
	return m, cmd
}

func (m *Model) setFocus(p pane) {
	m.focus = p
	if p != paneStates && !fullWidth(p) {
		m.detail = p
	}
}

// tuningShown reports whether the tuning pane has settings to show: live
// with a Tuner, or a recording's.
func (m Model) tuningShown() bool { return m.cfg.Tuner != nil || m.cfg.Tape != nil }

// fullWidth panes take the whole body when focused.
func fullWidth(p pane) bool { return p == paneProcesses || p == paneFindings || p == paneTuning }

// resetCursors puts every table's selection back on its first row: the
// rows mean something else under a new filter or sort.
func (m *Model) resetCursors() {
	m.local.row, m.remote.row, m.pressure.row, m.processes.row, m.findingsP.row = 0, 0, 0, 0, 0
}

// filterText is the active port/address filter as the user would type it.
func (m Model) filterText() string {
	switch {
	case m.expr != nil && m.expr != m.cfg.Filter:
		return m.expr.String()
	case m.addr.IsValid() && m.port != 0:
		return netip.AddrPortFrom(m.addr, m.port).String()
	case m.addr.IsValid():
		return m.addr.String()
	case m.port != 0:
		return strconv.Itoa(int(m.port))
	}
	return ""
}

var errFilter = errors.New("want a port (3306), an address (10.0.0.5) or address:port ([::1]:80)")

// parseFilter parses what the user typed after /. Empty clears.
func parseFilter(s string) (netip.Addr, uint16, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, 0, nil
	}
	if n, err := strconv.ParseUint(s, 10, 16); err == nil {
		if n == 0 {
			return netip.Addr{}, 0, fmt.Errorf("filter %q: port 0 matches nothing; %w", s, errFilter)
		}
		return netip.Addr{}, uint16(n), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Port(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), 0, nil
	}
	return netip.Addr{}, 0, fmt.Errorf("filter %q: %w", s, errFilter)
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
	for i, n := range s.Names {
		s.Names[i] = termsafe.String(n)
	}
	s.SafeZones() // interface names, in link-local addresses
}
