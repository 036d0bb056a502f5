package ui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/recording"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// tapeFrame is one snapshot of a recording as a Source: replay feeds the
// panes through the same interface as a live collector. The query is not
// applied: a recording holds its tables as they were recorded.
type tapeFrame struct {
	tape *recording.Tape
	i    int
}

func (f tapeFrame) Collect(tcpinfo.Query) (*tcpinfo.Snapshot, error) { return f.tape.Snapshot(f.i) }

// frameMsg carries snapshot pos of a recording and the one before it, the
// pair rates are measured between.
type frameMsg struct {
	pos        int
	snap, prev *tcpinfo.Snapshot
	findings   []diagnose.Finding // logged with snap, decoded with it
	err        error
}

// tapeMsg brings the whole recording, read after its start was shown.
type tapeMsg struct {
	tape *recording.Tape
	err  error
}

// loadRest reads the whole recording.
func loadRest(load func() (*recording.Tape, error)) tea.Cmd {
	return func() tea.Msg {
		t, err := load()
		return tapeMsg{t, err}
	}
}

// playTickMsg says it is time for the next frame; gen drops a tick from
// before a pause, a step or a change of speed.
type playTickMsg struct{ gen int }

// loadFrame decodes snapshot pos and, unless prev is it already, the one
// before, and makes what it decoded printable: frames arrive ready to draw.
func loadFrame(t *recording.Tape, pos int, prev *tcpinfo.Snapshot) tea.Cmd {
	return func() tea.Msg {
		msg := frameMsg{pos: pos, prev: prev}
		if msg.snap, msg.err = (tapeFrame{t, pos}).Collect(tcpinfo.Query{}); msg.err != nil {
			return msg
		}
		printableNames(msg.snap)
		msg.findings = printableFindings(t.Findings(pos))
		if pos > 0 && prev == nil {
			if msg.prev, _ = (tapeFrame{t, pos - 1}).Collect(tcpinfo.Query{}); msg.prev != nil {
				printableNames(msg.prev)
			}
		}
		return msg
	}
}

// replayModel is the dashboard playing a recording: the player picks the
// frame, and the dashboard shows it as it shows a live poll.
type replayModel struct {
	dash   Model
	tape   *recording.Tape
	rest   func() (*recording.Tape, error)
	player player
	shown  int // the position of the frame on screen; -1: none yet
}

func newReplayModel(cfg Config) replayModel {
	d := New(cfg)
	d.sched.inFlight = false // nothing live to poll
	r := replayModel{dash: d, tape: cfg.Tape, rest: cfg.TapeRest, player: newPlayer(cfg.Tape, cfg.TapeStart), shown: -1}
	r.player.styles = d.styles
	return r
}

// Init loads the first frame, and the rest of the recording behind it.
func (r replayModel) Init() tea.Cmd {
	cmds := []tea.Cmd{loadFrame(r.tape, r.player.pos, nil), tea.RequestBackgroundColor}
	if r.rest != nil {
		cmds = append(cmds, loadRest(r.rest))
	}
	return tea.Batch(cmds...)
}

// loadFrame asks for the snapshot at the player's position. Stepping or
// playing forward hands over the snapshot on screen as the one before, so
// a frame decodes one snapshot, not two.
func (r replayModel) loadFrame() tea.Cmd {
	var prev *tcpinfo.Snapshot
	if r.shown >= 0 && r.shown == r.player.pos-1 {
		prev = r.dash.live.snap
	}
	return loadFrame(r.tape, r.player.pos, prev)
}

// speeds are the playback speeds [ and ] step through.
var speeds = []float64{0.25, 0.5, 1, 2, 4, 8, 16, 32, 64}

const normalSpeed = 2 // speeds[2] == 1

// replayKeys are the keys only replay has.
type replayKeys struct {
	Play, Back, Forward, Slower, Faster key.Binding
	Start, End, Jump, NextFinding       key.Binding
	PrevFinding                         key.Binding
}

func newReplayKeys() replayKeys {
	return replayKeys{
		Play:        key.NewBinding(key.WithKeys("space", "p"), key.WithHelp("space", "play/pause")),
		Back:        key.NewBinding(key.WithKeys("left"), key.WithHelp("←", "step back")),
		Forward:     key.NewBinding(key.WithKeys("right"), key.WithHelp("→", "step forward")),
		Slower:      key.NewBinding(key.WithKeys("["), key.WithHelp("[", "slower")),
		Faster:      key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "faster")),
		Start:       key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "start")),
		End:         key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "end")),
		Jump:        key.NewBinding(key.WithKeys("J"), key.WithHelp("J", "jump to a time")),
		NextFinding: key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next finding or sysctl change")),
		PrevFinding: key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "previous finding or sysctl change")),
	}
}

func (k replayKeys) all() []key.Binding {
	return []key.Binding{k.Play, k.Back, k.Forward, k.Slower, k.Faster, k.Start, k.End, k.Jump, k.NextFinding, k.PrevFinding}
}

// player is the replay status line and what it controls: the position in
// the recording, play and pause, the speed, jumps. It asks for frames;
// the root shows them.
type player struct {
	tape   *recording.Tape
	keys   replayKeys
	styles *styles
	width  int

	pos     int
	playing bool
	speed   int // index into speeds
	gen     int
	starts  []recording.Start
	// stops are where n and N stop: findings' starts and sysctl changes,
	// in order.
	stops []replayStop
	// changes are the snapshots where a recorded sysctl change first shows.
	changes []int

	jump    lineInput
	jumping bool
	// note is the last key's complaint or result: a bad time, the end.
	note string
}

func newPlayer(t *recording.Tape, start int) player {
	jump := lineInput{Prompt: "jump to: ", Placeholder: "(14:03:10, +90s or 2026-11-27T14:03:10Z)"}
	p := player{keys: newReplayKeys(), pos: start, speed: normalSpeed, jump: jump}
	return p.withTape(t)
}

// withTape is the player on t, where it was: the whole recording arrives
// after its start was shown (recording.LoadStart).
func (p player) withTape(t *recording.Tape) player {
	p.tape, p.starts, p.stops, p.changes = t, nil, nil, nil
	p.pos = min(p.pos, t.Len()-1)
	for _, s := range t.Starts() {
		s.Finding.Title = termsafe.String(s.Finding.Title)
		p.starts = append(p.starts, s)
		p.stops = append(p.stops, replayStop{s.Index, "starts here: " + s.Finding.Title})
	}
	for _, e := range t.Events {
		if e.Kind != "sysctl" {
			continue
		}
		// The first snapshot taken after the change shows it.
		i := min(t.Index(e.Time)+1, t.Len()-1)
		p.changes = append(p.changes, i)
		p.stops = append(p.stops, replayStop{i, fmt.Sprintf("sysctl changed before this: %s %s → %s",
			termsafe.String(e.Name), termsafe.String(e.Old), termsafe.String(e.New))})
	}
	slices.SortStableFunc(p.stops, func(a, b replayStop) int { return a.index - b.index })
	return p
}

// A replayStop is a snapshot n and N stop at, and what to say there.
type replayStop struct {
	index int
	note  string
}

func (p *player) SetSize(w, _ int) { p.width = w }

// captures reports whether the player takes k before the dashboard.
func (p player) captures(k tea.KeyPressMsg) bool {
	return p.jumping || key.Matches(k, p.keys.all()...)
}

// Update handles the player's keys and ticks, and each frame as it lands
// (to schedule the next while playing).
func (p player) Update(msg tea.Msg) (player, tea.Cmd) {
	switch msg := msg.(type) {
	case playTickMsg:
		if msg.gen != p.gen || !p.playing {
			return p, nil
		}
		if p.pos+1 >= p.tape.Len() {
			p.playing, p.note = false, "end of the recording"
			return p, nil
		}
		return p.seek(p.pos + 1)
	case frameMsg:
		if !p.playing || msg.pos != p.pos {
			return p, nil
		}
		return p, p.next()
	case tea.KeyPressMsg:
		if p.jumping {
			return p.jumpKey(msg)
		}
		return p.key(msg)
	case tea.PasteMsg:
		p.jump = p.jump.Update(msg) // unfocused, it takes nothing
	}
	return p, nil
}

func (p player) key(msg tea.KeyPressMsg) (player, tea.Cmd) {
	k := p.keys
	p.note = ""
	switch {
	case key.Matches(msg, k.Play):
		p.playing = !p.playing
		p.gen++
		if p.playing && p.pos+1 >= p.tape.Len() {
			return p.seek(0) // play again from the start
		}
		if p.playing {
			return p, p.next()
		}
	case key.Matches(msg, k.Back):
		p.playing = false
		return p.seek(p.pos - 1)
	case key.Matches(msg, k.Forward):
		p.playing = false
		return p.seek(p.pos + 1)
	case key.Matches(msg, k.Slower, k.Faster):
		if key.Matches(msg, k.Faster) {
			p.speed = min(p.speed+1, len(speeds)-1)
		} else {
			p.speed = max(p.speed-1, 0)
		}
		p.gen++
		if p.playing {
			return p, p.next()
		}
	case key.Matches(msg, k.Start):
		return p.seek(0)
	case key.Matches(msg, k.End):
		p.playing = false
		return p.seek(p.tape.Len() - 1)
	case key.Matches(msg, k.NextFinding, k.PrevFinding):
		next := key.Matches(msg, k.NextFinding)
		for i := range p.stops {
			s := p.stops[i]
			if !next {
				s = p.stops[len(p.stops)-1-i]
			}
			if next && s.index > p.pos || !next && s.index < p.pos {
				p.playing = false
				p.note = s.note
				// Stops at one snapshot are said together.
				for _, o := range p.stops {
					if o.index == s.index && o != s {
						p.note += "; " + o.note
					}
				}
				return p.seek(s.index)
			}
		}
		p.note = "no finding starts or sysctl change after this"
		if !next {
			p.note = "no finding starts or sysctl change before this"
		}
	case key.Matches(msg, k.Jump):
		p.jumping = true
		p.jump.SetValue("")
		p.jump.Focus()
		return p, nil
	}
	return p, nil
}

func (p player) jumpKey(msg tea.KeyPressMsg) (player, tea.Cmd) {
	switch msg.String() {
	case "enter":
		i, err := p.tape.Seek(p.jump.Value())
		if err != nil {
			p.note = termsafe.Error(err) // keep the text for correcting
			return p, nil
		}
		p.jumping, p.playing, p.note = false, false, ""
		p.jump.Blur()
		return p.seek(i)
	case "esc":
		p.jumping, p.note = false, ""
		p.jump.Blur()
		return p, nil
	}
	p.jump = p.jump.Update(msg)
	return p, nil
}

// seek moves to snapshot i (clamped). The root, which holds the
// snapshots, loads the frame when the position changes.
func (p player) seek(i int) (player, tea.Cmd) {
	p.pos = min(max(i, 0), p.tape.Len()-1)
	p.gen++
	return p, nil
}

// next schedules the next frame at the recorded pace, scaled by the speed.
// A gap in the recording (the recorder stopped) is not waited out.
func (p player) next() tea.Cmd {
	if p.pos+1 >= p.tape.Len() {
		return func() tea.Msg { return playTickMsg{p.gen} }
	}
	d := time.Duration(float64(p.tape.Time(p.pos+1).Sub(p.tape.Time(p.pos))) / speeds[p.speed])
	d = min(max(d, 10*time.Millisecond), 5*time.Second)
	gen := p.gen
	return tea.Tick(d, func(time.Time) tea.Msg { return playTickMsg{gen} })
}

// noteLines is the player's note, wrapped to w cells, for the lines above
// the status line: beside it, an 80-column status line cut the note (the
// time J could not read, and what it wants instead).
func (p player) noteLines(w int) []string {
	if p.note == "" {
		return nil
	}
	style := p.styles.warn
	if p.jumping {
		style = p.styles.statusErr
	}
	lines := wrap("! "+p.note, w)
	for i, l := range lines {
		lines[i] = style.Render(l)
	}
	return lines
}

// View is the status line: play state, speed, time, position, and a
// timeline with the findings' starts marked; while J is open, its prompt.
// The note goes above it (noteLines).
func (p player) View() string {
	st := p.styles
	if p.jumping {
		return fit(p.jump.View(st, p.width), p.width)
	}
	state := "⏸ paused"
	if p.playing {
		state = "▶ playing"
	}
	at := p.tape.Time(p.pos)
	head := fmt.Sprintf("%s %s× %s (+%s) %d/%d", state, speedName(speeds[p.speed]), at.Format("15:04:05"),
		at.Sub(p.tape.Time(0)).Truncate(time.Second), p.pos+1, p.tape.Len())
	if p.tape.Truncated {
		head += " (file cut short)"
	}
	if p.tape.More {
		head += " (reading the rest…)"
	}
	barW := p.width - len([]rune(head)) - 2
	if barW >= 10 {
		head += " " + p.timeline(barW)
	}
	return fit(st.status.Render(head), p.width)
}

// timeline draws the recording in w cells: ━ up to the position, ● at it,
// ◆ where a finding starts (! when a critical one does), § where a sysctl
// was changed.
func (p player) timeline(w int) string {
	st := p.styles
	n := p.tape.Len()
	col := func(i int) int {
		if n <= 1 {
			return 0
		}
		return i * (w - 1) / (n - 1)
	}
	cells := make([]string, w)
	here := col(p.pos)
	for c := range cells {
		cells[c] = "─"
		if c < here {
			cells[c] = "━"
		}
	}
	for _, s := range p.starts {
		c := col(s.Index)
		if s.Finding.Severity == diagnose.Critical {
			cells[c] = st.trouble.Render("!")
		} else if cells[c] != st.trouble.Render("!") {
			cells[c] = st.warn.Render("◆")
		}
	}
	for _, i := range p.changes {
		cells[col(i)] = st.title.Render("§")
	}
	cells[here] = st.title.Render("●")
	return strings.Join(cells, "")
}

func speedName(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%g", s)
	}
	return fmt.Sprintf("%.0f", s)
}

// Update handles what only replay has: frames, the player's keys and
// ticks; the rest goes to the dashboard.
func (r replayModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tapeMsg:
		if msg.err != nil {
			r.player.note = "the rest of the recording: " + termsafe.Error(msg.err)
			return r, nil
		}
		r.tape = msg.tape
		r.player = r.player.withTape(msg.tape)
		return r, nil
	case frameMsg:
		if msg.pos != r.player.pos {
			return r, nil // the user has moved on
		}
		if err := r.dash.showFrame(msg, r.tape); err != nil {
			r.player.note = termsafe.Error(err)
		} else {
			r.shown = msg.pos
		}
		var cmd tea.Cmd
		r.player, cmd = r.player.Update(msg)
		return r, cmd
	case playTickMsg:
		return r.routeToPlayer(msg)
	case tickMsg, polledMsg:
		return r, nil // nothing live to poll
	case tea.PasteMsg:
		if r.player.jumping {
			return r.routeToPlayer(msg)
		}
	case tea.KeyPressMsg:
		if r.dash.filt.bar.Editing() || r.dash.view.showHelp && !r.player.jumping {
			break
		}
		if r.player.captures(msg) {
			return r.routeToPlayer(msg)
		}
		k := r.dash.keys
		if key.Matches(msg, k.StateFilter, k.Sort, k.Search, k.Faster, k.Slower) {
			r.player.note = "a recording holds its tables as recorded: filters and sorting need the live sockets"
			return r, nil
		}
		if key.Matches(msg, k.Accept) && r.dash.view.focus != paneTuning {
			r.player.note = "a recording holds counts, not sockets: the drill-down needs the live sockets"
			return r, nil
		}
	}
	nm, cmd := r.dash.Update(msg)
	r.dash = nm.(Model)
	r.player.styles = r.dash.styles
	return r, cmd
}

// routeToPlayer hands msg to the player, and loads the frame it moved to.
func (r replayModel) routeToPlayer(msg tea.Msg) (tea.Model, tea.Cmd) {
	was := r.player.pos
	var cmd tea.Cmd
	r.player, cmd = r.player.Update(msg)
	switch {
	case r.player.pos == was:
	case cmd == nil:
		cmd = r.loadFrame()
	default:
		cmd = tea.Batch(cmd, r.loadFrame())
	}
	return r, cmd
}

// View draws the dashboard's frame with the player as its footer.
func (r replayModel) View() tea.View { return screen(r.render()) }

func (r replayModel) render() string {
	d := r.dash
	every := d.styles.warn.Render("REPLAY")
	if d.live.snap != nil && d.live.snap.Interval > 0 {
		every += " recorded every " + d.live.snap.Interval.String()
	}
	c := chrome{every: every, keys: [][]key.Binding{r.player.keys.all()}}
	if !d.filt.bar.Editing() {
		c.footer = func(w int) []string {
			shortHelp := append(r.player.keys.all()[:3:3], d.keys.Quit, d.keys.Help, r.player.keys.Jump, r.player.keys.NextFinding, d.keys.NextPane)
			return append(r.player.noteLines(w), sized(r.player, w, 1).View(), fit(d.help.ShortHelpView(shortHelp), w))
		}
	}
	return d.renderIn(c)
}

// showFrame puts a recorded frame of t on every pane: the snapshot and
// the one before it (for rates), the findings logged with it, the history
// the sparklines draw, and the sysctls then in force. It returns the
// frame's error, which the panes show as a poll's.
func (m *Model) showFrame(msg frameMsg, t *recording.Tape) error {
	if msg.err != nil {
		m.live.pollErr = msg.err
		m.refreshBoard()
		return msg.err
	}
	m.live.pollErr = nil
	m.live.snap, m.live.prev = msg.snap, msg.prev
	m.live.findings = msg.findings
	m.live.history = history{}
	for i := max(msg.pos-historyLen+1, 0); i <= msg.pos; i++ {
		m.live.history.samples = append(m.live.history.samples, sample{t.Time(i), t.States(i)})
	}
	if t.Header == nil {
		m.tuning, _ = m.tuning.Update(settingsMsg{err: errors.New("a --json log holds no sysctl values (tcpdash record keeps them)")})
	} else {
		m.live.settings = recordedSettings(t.Sysctls(msg.pos))
		m.tuning, _ = m.tuning.Update(settingsMsg{settings: m.live.settings})
		// The findings are the recorded ones; the advice joins them to the
		// sysctls then in force, as live.
		m.live.advice = diagnose.AdviceFor(msg.snap, msg.prev, m.live.settings, m.live.findings)
	}
	m.tuning, _ = m.tuning.Update(writableMsg{fmt.Errorf("a recording: the values in force at %s, read-only", msg.snap.Time.Format("15:04:05"))})
	m.refreshBoard()
	return nil
}

// recordedSettings are the known tunables with their recorded values.
func recordedSettings(sysctls map[string]string) []tuning.Setting {
	var out []tuning.Setting
	for _, t := range tuning.Known() {
		v, ok := sysctls[t.Key]
		out = append(out, tuning.Setting{Tunable: t, Value: termsafe.String(v), Exists: ok})
	}
	return out
}

// printableFindings makes recorded findings safe to draw: a recording is
// a file from outside, and a finding quotes process names.
func printableFindings(in []diagnose.Finding) []diagnose.Finding {
	out := make([]diagnose.Finding, len(in))
	for i, f := range in {
		f.Kind, f.Subject, f.Title, f.Short, f.Detail = termsafe.String(f.Kind), termsafe.String(f.Subject),
			termsafe.String(f.Title), termsafe.String(f.Short), termsafe.String(f.Detail)
		f.Evidence = append([]string(nil), f.Evidence...)
		for j := range f.Evidence {
			f.Evidence[j] = termsafe.String(f.Evidence[j])
		}
		f.Sysctls = append([]diagnose.Recommendation(nil), f.Sysctls...)
		for j, r := range f.Sysctls {
			f.Sysctls[j] = diagnose.Recommendation{Key: termsafe.String(r.Key), Value: termsafe.String(r.Value), Reason: termsafe.String(r.Reason)}
		}
		out[i] = f
	}
	return out
}
