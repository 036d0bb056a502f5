package ui

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tcpdash/tcpdash/tuning"
)

// fakeTuner is an in-memory sysctl table that records what was done.
type fakeTuner struct {
	interrupted string
	values      map[string]string
	last        []tuning.Change // the last applied batch
	writeErr    error
	applied     int
}

func newFakeTuner() *fakeTuner {
	return &fakeTuner{values: map[string]string{
		"net.ipv4.tcp_tw_reuse": "2", "net.ipv4.tcp_fin_timeout": "60", "net.ipv4.ip_local_port_range": "32768 60999",
		"net.ipv4.tcp_max_tw_buckets": "6000", "net.ipv4.tcp_timestamps": "1", "net.core.somaxconn": "4096",
	}}
}

func (f *fakeTuner) Settings() ([]tuning.Setting, error) {
	var out []tuning.Setting
	for _, t := range tuning.Known() {
		v, ok := f.values[t.Key]
		out = append(out, tuning.Setting{Tunable: t, Value: v, Exists: ok})
	}
	return out, nil
}

func (f *fakeTuner) CanWrite() error { return f.writeErr }

func (f *fakeTuner) Plan(as []tuning.Assignment) (tuning.Plan, error) {
	var p tuning.Plan
	for _, a := range as {
		t, ok := tuning.Lookup(a.Key)
		if !ok {
			return p, errors.New("unknown key")
		}
		v, err := t.Check(a.Value)
		if err != nil {
			return p, err
		}
		p.Changes = append(p.Changes, tuning.Change{Key: a.Key, Old: f.values[a.Key], New: strings.Join(strings.Fields(v), " "),
			Warnings: t.Warnings(f.values[a.Key], v)})
	}
	return p, nil
}

func (f *fakeTuner) Apply(p tuning.Plan) error {
	for _, c := range p.Changes {
		f.values[c.Key] = c.New
	}
	f.last = p.Changes
	f.applied++
	return nil
}

func (f *fakeTuner) PlanUndo() (tuning.Plan, error) {
	if f.last == nil {
		return tuning.Plan{}, errors.New("nothing to undo")
	}
	var p tuning.Plan
	for _, c := range f.last {
		p.Changes = append(p.Changes, tuning.Change{Key: c.Key, Old: c.New, New: c.Old})
	}
	return p, nil
}

func (f *fakeTuner) Undo(p tuning.Plan) error {
	for _, c := range p.Changes {
		f.values[c.Key] = c.New
	}
	f.last = nil
	return nil
}

func (f *fakeTuner) PlanPersist(path string) (tuning.PersistPlan, error) {
	return tuning.PersistPlan{Path: path, New: "net.ipv4.tcp_fin_timeout = 30\n"}, nil
}

func (f *fakeTuner) Persist(tuning.PersistPlan) error { return nil }

func (f *fakeTuner) Interrupted() (string, error) { return f.interrupted, nil }

// tuned returns a model on the tuning pane with the tuner's messages in.
func tuned(t *testing.T, tu *fakeTuner, readOnly bool) Model {
	t.Helper()
	m := New(Config{Source: &fakeCollector{}, Interval: time.Second, Info: fakeInfo(), Tuner: tu, ReadOnly: readOnly})
	m, _ = step(t, m, tea.WindowSizeMsg{Width: 120, Height: 40})
	// Poll 4 has TIME_WAIT at 98% of the fake tcp_max_tw_buckets.
	m, _ = step(t, m, polledMsg{snap: fakeSnapshot(4, m.query())})
	m, _ = step(t, m, loadSettings(tu)())
	m, _ = step(t, m, checkWritable(tu, readOnly)())
	m, _ = step(t, m, press("t"))
	return m
}

// run feeds a command's message back, as the program would.
func run(t *testing.T, m Model, cmd tea.Cmd) Model {
	t.Helper()
	if cmd == nil {
		t.Fatal("want a command")
	}
	m, _ = step(t, m, cmd())
	return m
}

// selectKey moves the cursor to key.
func selectKey(t *testing.T, m Model, key string) Model {
	t.Helper()
	for i, s := range m.tuning.settings {
		if s.Key == key {
			m.tuning.row = i
			return m
		}
	}
	t.Fatalf("no %s", key)
	return m
}

func typeText(t *testing.T, m Model, s string) Model {
	for _, r := range s {
		m, _ = step(t, m, press(string(r)))
	}
	return m
}

func TestTuneEditConfirmApplyUndo(t *testing.T) {
	tu := newFakeTuner()
	m := selectKey(t, tuned(t, tu, false), "net.ipv4.tcp_fin_timeout")
	m, _ = step(t, m, press("enter"))
	if !m.tuning.editing || m.tuning.edit.Value() != "60" {
		t.Fatalf("enter edits, prefilled with the current value: %v %q", m.tuning.editing, m.tuning.edit.Value())
	}
	m, _ = step(t, m, tea.KeyPressMsg{Code: tea.KeyBackspace})
	m, _ = step(t, m, tea.KeyPressMsg{Code: tea.KeyBackspace})
	m = typeText(t, m, "3x")
	if !strings.Contains(m.tuning.editErr, `"3x" is not a whole number`) {
		t.Errorf("inline validation: %q", m.tuning.editErr)
	}
	if _, cmd := step(t, m, press("enter")); cmd != nil {
		t.Error("an invalid value must not go on to a plan")
	}
	m, _ = step(t, m, tea.KeyPressMsg{Code: tea.KeyBackspace})
	m = typeText(t, m, "0")
	m, cmd := step(t, m, press("enter"))
	m = run(t, m, cmd) // the plan
	if m.tuning.pending == nil {
		t.Fatal("a confirmation dialog must open")
	}
	out := ansi.Strip(m.render())
	for _, want := range []string{"Confirm: apply", "net.ipv4.tcp_fin_timeout: 60 → 30", "does not shorten TIME_WAIT", "(default: no)"} {
		if !strings.Contains(out, want) {
			t.Errorf("dialog lacks %q:\n%s", want, out)
		}
	}
	// Anything but y leaves it unapplied: enter, q, other letters.
	for _, k := range []string{"enter", "q", "x"} {
		m, cmd = step(t, m, press(k))
		if cmd != nil || tu.applied != 0 || m.tuning.pending == nil {
			t.Fatalf("%s in the dialog must do nothing", k)
		}
	}
	m, cmd = step(t, m, press("y"))
	m = run(t, m, cmd)
	if tu.values["net.ipv4.tcp_fin_timeout"] != "30" || m.tuning.pending != nil {
		t.Fatal("y applies")
	}
	if out := ansi.Strip(m.render()); !strings.Contains(out, "net.ipv4.tcp_fin_timeout = 30 (read back)") {
		t.Errorf("the pane shows the read-back:\n%s", out)
	}

	m, cmd = step(t, m, press("u"))
	m = run(t, m, cmd)
	if !strings.Contains(ansi.Strip(m.render()), "Confirm: undo") {
		t.Fatal("u asks first")
	}
	m, cmd = step(t, m, press("y"))
	m = run(t, m, cmd)
	if tu.values["net.ipv4.tcp_fin_timeout"] != "60" {
		t.Error("undo restores 60")
	}
}

func TestTuneCancel(t *testing.T) {
	tu := newFakeTuner()
	m := selectKey(t, tuned(t, tu, false), "net.ipv4.tcp_tw_reuse")
	m, _ = step(t, m, press("enter"))
	m, _ = step(t, m, tea.KeyPressMsg{Code: tea.KeyBackspace})
	m = typeText(t, m, "1")
	m, cmd := step(t, m, press("enter"))
	m = run(t, m, cmd)
	for _, k := range []string{"n", "esc"} {
		mm, cmd := step(t, m, press(k))
		if cmd != nil || mm.tuning.pending != nil || tu.applied != 0 {
			t.Errorf("%s must cancel without applying", k)
		}
		if !strings.Contains(ansi.Strip(mm.render()), "cancelled: nothing changed") {
			t.Errorf("%s: the pane says it was cancelled", k)
		}
	}
	// esc while editing leaves the value alone.
	m = selectKey(t, tuned(t, tu, false), "net.ipv4.tcp_tw_reuse")
	m, _ = step(t, m, press("enter"))
	m, cmd = step(t, m, press("esc"))
	if m.tuning.editing || cmd != nil {
		t.Error("esc ends editing")
	}
}

func TestTuneReadOnly(t *testing.T) {
	tu := newFakeTuner()
	for _, tt := range []struct {
		readOnly bool
		err      error
		want     string
	}{
		{true, nil, "editing is off: started with --read-only"},
		{false, errors.New("writing sysctls needs root or CAP_NET_ADMIN"), "editing is off: writing sysctls needs root"},
	} {
		tu.writeErr = tt.err
		m := selectKey(t, tuned(t, tu, tt.readOnly), "net.ipv4.tcp_fin_timeout")
		out := ansi.Strip(m.render())
		if !strings.Contains(out, tt.want) || !strings.Contains(out, "net.ipv4.tcp_fin_timeout") {
			t.Errorf("pane:\n%s\nwant %q and every tunable", out, tt.want)
		}
		for _, k := range []string{"enter", "u", "w"} {
			if mm, cmd := step(t, m, press(k)); cmd != nil || mm.tuning.editing {
				t.Errorf("%s works while editing is off", k)
			}
		}
	}
}

func TestTuneRemovedAndRecommended(t *testing.T) {
	tu := newFakeTuner()
	m := selectKey(t, tuned(t, tu, false), "net.ipv4.tcp_tw_recycle")
	m, cmd := step(t, m, press("enter"))
	if cmd != nil || m.tuning.editing || !strings.Contains(ansi.Strip(m.render()), "tcp_tw_recycle cannot be edited: removed in Linux 4.12") {
		t.Error("tcp_tw_recycle must not be editable")
	}
	// The fake snapshot's TIME_WAIT is near the fake tcp_max_tw_buckets.
	m = selectKey(t, m, "net.ipv4.tcp_max_tw_buckets")
	out := ansi.Strip(m.render())
	if !strings.Contains(out, "recommended 12000") || !strings.Contains(out, "raise it") {
		t.Errorf("recommendation missing:\n%s", out)
	}
	m, cmd = step(t, m, press("w"))
	m = run(t, m, cmd)
	if !strings.Contains(ansi.Strip(m.render()), "/etc/sysctl.d/90-tcpdash.conf will read:") {
		t.Error("w shows the file first")
	}
}

// TestTuneRecommendsFindingsFix: the fake destination uses 14% of its
// ports, below the general advice's threshold, but the exhaustion forecast
// makes it a finding: the pane recommends the finding's fix, citing it.
func TestTuneRecommendsFindingsFix(t *testing.T) {
	m := tuned(t, newFakeTuner(), false)
	m, _ = step(t, m, polledMsg{snap: fakeSnapshot(5, m.query())}) // a second poll: growth, and a forecast
	m = selectKey(t, m, "net.ipv4.tcp_tw_reuse")
	out := ansi.Strip(m.render())
	if !regexp.MustCompile(`net\.ipv4\.tcp_tw_reuse\s+2\s+1\s`).MatchString(out) ||
		!strings.Contains(out, `recommended 1: for the finding "connect() to 10.0.0.5:3306`) {
		t.Errorf("the pressure finding's fix is not recommended:\n%s", out)
	}
}

// TestTuningRefusalBeforeConfirm: a change that Apply would refuse (a
// batch left interrupted must be undone first) is refused at enter, with
// the reason on screen, before any value is typed or confirmed; and the
// edit field starts at the recommended value.
func TestTuningRefusalBeforeConfirm(t *testing.T) {
	tu := newFakeTuner()
	m := tuned(t, tu, false)
	rec, ok := m.tuning.recommendations()["net.ipv4.tcp_max_tw_buckets"]
	if !ok || rec.Value == tu.values["net.ipv4.tcp_max_tw_buckets"] {
		t.Fatalf("the scene recommends a new tcp_max_tw_buckets: %+v", rec)
	}
	m = selectKey(t, m, "net.ipv4.tcp_max_tw_buckets")
	m, _ = step(t, m, press("enter"))
	if !m.tuning.editing || m.tuning.edit.Value() != rec.Value {
		t.Fatalf("the field starts at the recommended %s: editing %v, value %q", rec.Value, m.tuning.editing, m.tuning.edit.Value())
	}

	tu.interrupted = "a batch of 2 changes at 14:00:00"
	m = selectKey(t, tuned(t, tu, false), "net.ipv4.tcp_tw_reuse")
	m, _ = step(t, m, press("enter"))
	if m.tuning.editing || m.tuning.pending != nil {
		t.Fatal("enter opened the editor although Apply would refuse the change")
	}
	if out := flatten(ansi.Strip(m.render())); !strings.Contains(out, "a batch of 2 changes at 14:00:00 (u here), then values can be changed; nothing changed") {
		t.Errorf("the refusal is not on screen:\n%s", out)
	}
	if tu.applied != 0 {
		t.Error("something was applied")
	}
}

// TestTunePasteIsChecked: a pasted value is the typed one: into the field,
// checked as it arrives.
func TestTunePasteIsChecked(t *testing.T) {
	tu := newFakeTuner()
	m := selectKey(t, tuned(t, tu, false), "net.ipv4.tcp_fin_timeout")
	m, _ = step(t, m, press("enter"))
	m, _ = step(t, m, tea.PasteMsg{Content: "5x"})
	if m.tuning.edit.Value() != "605x" || !strings.Contains(m.tuning.editErr, "not a whole number") {
		t.Errorf("after a paste: %q, error %q", m.tuning.edit.Value(), m.tuning.editErr)
	}
}
