package ui

import (
	"cmp"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/tuning"
)

// A Tuner reads and changes sysctls; *tuning.System is the real one.
type Tuner interface {
	Settings() ([]tuning.Setting, error)
	CanWrite() error
	Plan([]tuning.Assignment) (tuning.Plan, error)
	Apply(tuning.Plan) error
	PlanUndo() (tuning.Plan, error)
	Undo(tuning.Plan) error
	PlanPersist(path string) (tuning.PersistPlan, error)
	Persist(tuning.PersistPlan) error
	// Interrupted describes a batch a killed tcpdash left half done.
	Interrupted() (string, error)
}

// tuneAction is what a confirmation dialog will do.
type tuneAction int

const (
	actApply tuneAction = iota
	actUndo
	actPersist
)

var actionVerbs = [...]string{"Apply", "Undo", "Persist"}

type (
	settingsMsg struct {
		settings    []tuning.Setting
		interrupted string
		err         error
	}
	writableMsg struct{ err error }
	plannedMsg  struct {
		action  tuneAction
		plan    tuning.Plan
		persist tuning.PersistPlan
		err     error
	}
	tunedMsg struct {
		action      tuneAction
		summary     []string
		settings    []tuning.Setting
		interrupted string
		err         error
	}
)

// tuningPane is every known tunable with its value and the advice for it;
// it edits, undoes and persists them, each behind a confirmation.
type tuningPane struct {
	table
	tuner       Tuner
	persistPath string
	// netns names the namespace changes apply to; unrecorded says they go
	// without undo (--no-undo): both for the confirmation.
	netns      string
	unrecorded bool

	settings []tuning.Setting
	loadErr  error
	// interrupted says a batch was left half done, and how to undo it.
	interrupted string
	// editOff says why editing is off; empty when it is on.
	editOff string
	editing bool
	edit    lineInput
	editErr string
	// pending is the change awaiting y/N; nil when no dialog is open.
	pending *plannedMsg
	// result is the last apply, undo or persist, read back, or its error.
	result    []string
	resultErr error
}

func newTuningPane(cfg Config, keys *keyMap) tuningPane {
	return tuningPane{edit: lineInput{Prompt: "new value: "}, table: table{keys: keys}, tuner: cfg.Tuner, persistPath: cfg.PersistPath,
		netns: cmp.Or(cfg.Info.Where, cfg.Info.Netns), unrecorded: cfg.Unrecorded}
}

// captures reports whether the pane takes k before the dashboard's own
// keys: a dialog or an editor holds the keyboard.
func (p tuningPane) captures(k tea.KeyPressMsg) bool {
	return p.pending != nil || p.editing || key.Matches(k, p.keys.Edit, p.keys.Undo, p.keys.Persist)
}

// Update handles the tuning messages, and keys while focused.
func (p tuningPane) Update(msg tea.Msg) (tuningPane, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		if p.captures(k) {
			p, cmd, _ := p.key(k)
			return p, cmd
		}
		p.cursor.move(p.keys.step(k), len(p.settings))
		return p, nil
	}
	if paste, ok := msg.(tea.PasteMsg); ok {
		if p.editing && p.pending == nil {
			p.edit = p.edit.Update(paste)
			p.check()
		}
		return p, nil
	}
	return p.message(msg)
}

func loadSettings(t Tuner) tea.Cmd {
	return func() tea.Msg {
		s, err := t.Settings()
		interrupted, _ := t.Interrupted()
		return settingsMsg{s, interrupted, err}
	}
}

func checkWritable(t Tuner, readOnly bool) tea.Cmd {
	return func() tea.Msg {
		if readOnly {
			return writableMsg{fmt.Errorf("started with --read-only")}
		}
		return writableMsg{t.CanWrite()}
	}
}

func planChange(t Tuner, k, v string) tea.Cmd {
	return func() tea.Msg {
		p, err := t.Plan([]tuning.Assignment{{Key: k, Value: v}})
		return plannedMsg{action: actApply, plan: p, err: err}
	}
}

func planUndo(t Tuner) tea.Cmd {
	return func() tea.Msg {
		p, err := t.PlanUndo()
		return plannedMsg{action: actUndo, plan: p, err: err}
	}
}

func planPersist(t Tuner, path string) tea.Cmd {
	return func() tea.Msg {
		p, err := t.PlanPersist(path)
		return plannedMsg{action: actPersist, persist: p, err: err}
	}
}

// carryOut does a confirmed action and reads the settings back.
func carryOut(t Tuner, p plannedMsg) tea.Cmd {
	return func() tea.Msg {
		var err error
		var summary []string
		switch p.action {
		case actApply:
			err = t.Apply(p.plan)
		case actUndo:
			err = t.Undo(p.plan)
		case actPersist:
			err = t.Persist(p.persist)
			summary = []string{"wrote " + p.persist.Path}
		}
		s, rerr := t.Settings()
		if err == nil {
			err = rerr
		}
		interrupted, _ := t.Interrupted()
		if err == nil && p.action != actPersist {
			for _, c := range p.plan.Changes {
				for _, st := range s {
					if st.Key == c.Key {
						summary = append(summary, fmt.Sprintf("%s = %s (read back)", st.Key, st.Value))
					}
				}
			}
		}
		return tunedMsg{action: p.action, summary: summary, settings: s, interrupted: interrupted, err: err}
	}
}

// key handles the keys the pane captures. It reports whether it used
// the key.
// check validates the value as the user types.
func (p *tuningPane) check() {
	p.editErr = ""
	if _, err := p.selectedSetting().Check(p.edit.Value()); err != nil {
		p.editErr = err.Error()
	}
}

func (p tuningPane) key(msg tea.KeyPressMsg) (tuningPane, tea.Cmd, bool) {
	k := p.keys
	ts := &p
	switch {
	case ts.pending != nil:
		switch {
		case key.Matches(msg, k.Yes):
			planned := *ts.pending
			ts.pending = nil
			return p, carryOut(p.tuner, planned), true
		case key.Matches(msg, k.No):
			ts.pending = nil
			ts.result, ts.resultErr = []string{"cancelled: nothing changed"}, nil
			return p, nil, true
		}
		return p, nil, true // the dialog holds the keyboard; No is the default
	case ts.editing:
		switch {
		case key.Matches(msg, k.Edit):
			s := p.selectedSetting()
			if _, err := s.Check(ts.edit.Value()); err != nil {
				ts.editErr = err.Error()
				return p, nil, true
			}
			ts.editing = false
			ts.edit.Blur()
			return p, planChange(p.tuner, s.Key, ts.edit.Value()), true
		case key.Matches(msg, k.ClearSearch):
			ts.editing, ts.editErr = false, ""
			ts.edit.Blur()
			return p, nil, true
		}
		ts.edit = ts.edit.Update(msg)
		ts.check()
		return p, nil, true
	case key.Matches(msg, k.Edit):
		if ts.editOff != "" || len(ts.settings) == 0 {
			return p, nil, true
		}
		s := p.selectedSetting()
		if s.Removed != "" || !s.Exists {
			ts.result, ts.resultErr = nil, fmt.Errorf("%s cannot be edited: %s", s.Key, notEditable(s))
			return p, nil, true
		}
		if ts.interrupted != "" { // Apply would refuse it after y: say so now
			// The system's own words, which name the batch.
			ts.result, ts.resultErr = nil, fmt.Errorf("%s (u here), then values can be changed; nothing changed", ts.interrupted)
			return p, nil, true
		}
		ts.editing, ts.editErr = true, ""
		// The field starts at the advice, where there is any: the
		// change the user most likely came to make.
		v := s.Value
		if r, ok := p.recommendations()[s.Key]; ok && r.Value != "" {
			v = r.Value
		}
		ts.edit.SetValue(v)
		ts.edit.Focus()
		return p, nil, true
	case key.Matches(msg, k.Undo):
		if ts.editOff != "" {
			return p, nil, true
		}
		return p, planUndo(p.tuner), true
	case key.Matches(msg, k.Persist):
		if ts.editOff != "" {
			return p, nil, true
		}
		return p, planPersist(p.tuner, p.persistPath), true
	}
	return p, nil, false
}

func notEditable(s tuning.Setting) string {
	switch {
	case s.Removed != "":
		return "removed in " + s.Removed + "; tcpdash never writes it"
	case s.Scope == tuning.Global:
		return "global, and not visible in this network namespace"
	}
	return "not on this kernel"
}

func (p tuningPane) selectedSetting() tuning.Setting {
	i := p.row
	if i < 0 || i >= len(p.settings) {
		return tuning.Setting{}
	}
	return p.settings[i]
}

// message handles the tuning messages.
func (p tuningPane) message(msg tea.Msg) (tuningPane, tea.Cmd) {
	ts := &p
	switch msg := msg.(type) {
	case settingsMsg:
		ts.settings, ts.loadErr, ts.interrupted = msg.settings, msg.err, msg.interrupted
		ts.cursor.clamp(len(ts.settings))
	case writableMsg:
		ts.editOff = ""
		if msg.err != nil {
			ts.editOff = msg.err.Error()
		}
	case plannedMsg:
		switch {
		case msg.err != nil:
			ts.result, ts.resultErr = nil, msg.err
		case msg.action == actUndo && len(msg.plan.Changes) == 0 && ts.interrupted != "":
			// An interrupted batch whose keys are all back: only its
			// record is left to clear, which changes no sysctl.
			return p, carryOut(p.tuner, msg)
		case msg.action != actPersist && len(msg.plan.Changes) == 0:
			ts.result, ts.resultErr = []string{"nothing to change: the value is already so"}, nil
		default:
			ts.pending = &msg
		}
	case tunedMsg:
		ts.result, ts.resultErr = msg.summary, msg.err
		if msg.settings != nil {
			ts.settings, ts.interrupted = msg.settings, msg.interrupted
		}
	}
	return p, nil
}

// recommendations is the board's advice by key: the findings' own fixes
// are in it, so the pane never lacks the fix a finding names.
func (p tuningPane) recommendations() map[string]diagnose.Recommendation {
	out := map[string]diagnose.Recommendation{}
	if p.b == nil || p.b.settings == nil {
		return out
	}
	for _, r := range p.b.advice {
		out[r.Key] = r
	}
	return out
}

// View draws the pane in its box; it takes the whole body when focused.
func (p tuningPane) View(focused bool) []string {
	w, h := p.w, p.h
	st := p.b.styles
	ts := p
	inner := w - 2
	if ts.pending != nil {
		return p.confirmDialog()
	}
	recs := p.recommendations()
	const keyW, valW, recW, scopeW = 34, 14, 14, 11
	body := []string{st.header.Render(fit("KEY", keyW) + fit("CURRENT", valW) + fit("RECOMMENDED", recW) + fit("SCOPE", scopeW))}
	if ts.loadErr != nil {
		body = append(body, st.statusErr.Render("cannot read sysctls: "+termsafe.Error(ts.loadErr)))
	}
	if ts.interrupted != "" {
		body = append(body, wrap(st.trouble.Render("! ")+termsafe.String(ts.interrupted)+" (u)", inner)...)
	}
	rows := make([]string, 0, len(ts.settings))
	for _, s := range ts.settings {
		val := s.Value
		switch {
		case s.Removed != "":
			val = "removed"
		case !s.Exists && s.Scope == tuning.Global:
			val = "host only"
		case !s.Exists:
			val = "absent"
		case val == "":
			val = "(empty)"
		}
		rec := "-"
		if r, ok := recs[s.Key]; ok {
			rec = r.Value
		} else if s.Removed != "" {
			rec = "never"
		}
		rows = append(rows, fit(s.Key, keyW)+fit(val, valW)+fit(rec, recW)+fit(s.Scope.String(), scopeW))
	}

	// The selected tunable: what it does, and the advice about it.
	sel := p.selectedSetting()
	var detail []string
	if sel.Key != "" {
		detail = append(detail, wrap(st.header.Render(sel.Key)+st.dim.Render(fmt.Sprintf("  values: %s %s · default %s", sel.Values, sel.Unit, sel.Default)), inner)...)
		if r, ok := recs[sel.Key]; ok {
			detail = append(detail, wrap(st.warn.Render("recommended "+r.Value+": ")+r.Reason, inner)...)
		}
		detail = append(detail, wrap(sel.Does, inner)...)
	}
	if r, ok := recs[""]; ok {
		detail = append(detail, wrap(st.trouble.Render("! ")+r.Reason, inner)...)
	}
	// What the user is doing and what came of it: always in the box,
	// where the user is looking, whatever has to give way.
	var tail []string
	switch {
	case ts.editing:
		tail = append(tail, ts.edit.View(st, inner))
		if ts.editErr != "" {
			tail = append(tail, wrap(st.statusErr.Render("! "+termsafe.String(ts.editErr)), inner)...)
		}
		tail = append(tail, st.dim.Render("enter: review the change · esc: cancel"))
	case ts.editOff != "":
		tail = append(tail, wrap(st.warn.Render("editing is off: "+termsafe.String(ts.editOff)), inner)...)
	default:
		tail = append(tail, fit(st.dim.Render("enter: edit the selected value · u: undo the last batch · w: persist it"), inner))
	}
	if ts.resultErr != nil {
		tail = append(tail, wrap(st.statusErr.Render("! "+termsafe.Error(ts.resultErr)), inner)...)
	}
	for _, r := range ts.result {
		tail = append(tail, wrap(st.good.Render(termsafe.String(r)), inner)...)
	}
	// The list keeps at least three rows; the description gives way
	// first (its first lines, the key and the advice, stay longest).
	room := h - 2 - len(body) - 1 - len(tail)
	listH := min(len(rows), max(room-len(detail), 3))
	detail = detail[:max(0, min(len(detail), room-listH))]
	body = append(body, tableRows(rows, listH, p.row, focused, st)...)
	body = append(body, "")
	body = append(append(body, detail...), tail...)
	return frame(paneTitle(paneTuning, ""), focused, body, w, h, st)
}

func (t tuningPane) confirmDialog() []string {
	w, h := t.w, t.h
	st := t.b.styles
	p := t.pending
	verb := actionVerbs[p.action]
	var body []string
	switch p.action {
	case actPersist:
		body = append(body, wrap(termsafe.String(p.persist.Path)+" will read:", w-2)...)
		body = append(body, "")
		for _, l := range strings.Split(strings.TrimRight(p.persist.New, "\n"), "\n") {
			body = append(body, "    "+termsafe.String(l))
		}
	default:
		// Wrapped, never cut: the namespace's name, each change and its
		// warnings are what y agrees to.
		body = append(body, wrap(fmt.Sprintf("%s in network namespace %s:", verb, t.netns), w-2)...)
		body = append(body, "")
		if t.unrecorded {
			body = append(body, st.warn.Render("  --no-undo: not recorded; undo cannot restore it"))
		}
		for _, c := range p.plan.Changes {
			body = append(body, indent(wrap(termsafe.String(c.String()), w-4), "  ")...)
			for _, warn := range c.Warnings {
				for i, l := range wrap("! "+warn, w-6) {
					lead := "    "
					if i > 0 {
						lead = "      "
					}
					body = append(body, st.warn.Render(lead+l))
				}
			}
		}
	}
	body = append(body, "", st.header.Render(verb+"? y to confirm, n or esc to cancel (default: no)"))
	return frame("Confirm: "+strings.ToLower(verb), true, body, w, h, st)
}

// indent puts lead before each line.
func indent(lines []string, lead string) []string {
	for i := range lines {
		lines[i] = lead + lines[i]
	}
	return lines
}

// wrap breaks s into lines of at most w cells at spaces.
func wrap(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && lipgloss.Width(line)+1+lipgloss.Width(word) > w {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}
