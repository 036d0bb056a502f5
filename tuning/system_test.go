package tuning

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeRoot lays out a sysctl tree in a temporary directory with the
// compiled-in defaults, as a new network namespace has them.
func fakeRoot(t testing.TB) (*System, string) {
	t.Helper()
	dir := t.TempDir()
	values := map[string]string{
		"net.ipv4.tcp_tw_reuse": "2", "net.ipv4.tcp_tw_reuse_delay": "1000", "net.ipv4.tcp_fin_timeout": "60",
		"net.ipv4.ip_local_port_range": "32768\t60999", "net.ipv4.ip_local_reserved_ports": "",
		"net.ipv4.tcp_max_tw_buckets": "131072", "net.ipv4.tcp_timestamps": "1", "net.ipv4.tcp_syncookies": "1",
		"net.ipv4.tcp_max_syn_backlog": "512", "net.core.somaxconn": "4096", "net.ipv4.tcp_max_orphans": "65536",
	}
	for k, v := range values {
		p := filepath.Join(dir, strings.ReplaceAll(k, ".", "/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := t.TempDir()
	return New(Options{
		SysctlRoot: dir, StateFile: filepath.Join(state, "last-batch.json"), AuditLog: filepath.Join(state, "audit.log"),
		Netns: "net:[1]", User: "tester",
		Now: func() time.Time { return time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC) },
	}), dir
}

// treeState reads every file of a tree, to prove that nothing changed.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

func assign(t *testing.T, args ...string) []Assignment {
	t.Helper()
	var as []Assignment
	for _, a := range args {
		x, err := ParseAssignment(a)
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, x)
	}
	return as
}

func TestPlanRefusesBadInput(t *testing.T) {
	s, dir := fakeRoot(t)
	before := treeState(t, dir)
	tests := []struct{ arg, want string }{
		{"net.ipv4.tcp_fin_timeout=abc", `"abc" is not a whole number`},
		{"net.ipv4.tcp_fin_timeout=-1", "-1 is out of range 1-3600"},
		{"net.ipv4.ip_local_port_range=60000 1024", "LOW must be below HIGH"},
		{"net.ipv4.ip_local_port_range=1024", "want two ports"},
		{"net.ipv4.ip_local_port_range=0 70000", "ports are 1-65535"},
		{"net.ipv4.tcp_tw_reuse=3", `"3" is not one of 0, 1, 2`},
		{"net.ipv4.tcp_tw_reuse_delay=0", "0 is out of range 1-60000"},
		{"net.ipv4.ip_local_reserved_ports=80,9000-800", "want ports or ranges"},
		{"net.ipv4.tcp_bogus=1", `unknown key "net.ipv4.tcp_bogus"`},
		{"net/ipv4/tcp_fin_timeout=30", "is not a sysctl key"},
		{"net.ipv4..tcp_fin_timeout=30", "is not a sysctl key"},
		{"../../etc/passwd=x", "is not a sysctl key"},
		{"net.ipv4.tcp_tw_recycle=1", "was removed in Linux 4.12 and is never written"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			_, err := s.Plan(assign(t, tt.arg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
	if _, err := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30", "net.ipv4.tcp_fin_timeout=40")); err == nil {
		t.Error("a key set twice must be refused")
	}
	if _, err := ParseAssignment("net.ipv4.tcp_fin_timeout"); err == nil {
		t.Error("an argument without = must be refused")
	}
	if diff := treeState(t, dir); len(diff) != len(before) {
		t.Fatal("files appeared")
	}
	for p, v := range treeState(t, dir) {
		if before[p] != v {
			t.Errorf("planning changed %s", p)
		}
	}
}

func TestPlanNormalizesAndWarns(t *testing.T) {
	s, _ := fakeRoot(t)
	p, err := s.Plan(assign(t, "net.ipv4.ip_local_port_range= 1024  65535 ", "net.ipv4.tcp_fin_timeout=30",
		"net.ipv4.tcp_tw_reuse_delay=1000", "net.ipv4.tcp_max_tw_buckets=1000"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 3 {
		t.Fatalf("changes %v: the unchanged tcp_tw_reuse_delay must be left out", p.Changes)
	}
	if c := p.Changes[0]; c.New != "1024\t65535" || c.String() != "net.ipv4.ip_local_port_range: 32768 60999 → 1024 65535" {
		t.Errorf("change %q / %q", c.New, c)
	}
	if w := p.Changes[1].Warnings; len(w) != 1 || !strings.Contains(w[0], "does not shorten TIME_WAIT") {
		t.Errorf("tcp_fin_timeout warnings %v", w)
	}
	if w := p.Changes[2].Warnings; len(w) != 1 || !strings.Contains(w[0], "lowering tcp_max_tw_buckets") {
		t.Errorf("tcp_max_tw_buckets warnings %v", w)
	}
}

func TestApplyUndoAudit(t *testing.T) {
	s, dir := fakeRoot(t)
	p, err := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30", "net.ipv4.tcp_tw_reuse=1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	read := func(k string) string {
		b, _ := os.ReadFile(filepath.Join(dir, strings.ReplaceAll(k, ".", "/")))
		return strings.TrimSpace(string(b))
	}
	if read("net.ipv4.tcp_fin_timeout") != "30" || read("net.ipv4.tcp_tw_reuse") != "1" {
		t.Fatal("values not written")
	}
	u, err := s.PlanUndo()
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Changes) != 2 || u.Changes[0].Key != "net.ipv4.tcp_tw_reuse" || u.Changes[0].New != "2" {
		t.Fatalf("undo plan %v: want newest first, back to the old values", u.Changes)
	}
	if err := s.Undo(u); err != nil {
		t.Fatal(err)
	}
	if read("net.ipv4.tcp_fin_timeout") != "60" || read("net.ipv4.tcp_tw_reuse") != "2" {
		t.Fatal("undo did not restore")
	}
	if _, err := s.PlanUndo(); err == nil || !strings.Contains(err.Error(), "nothing to undo") {
		t.Errorf("second undo: %v", err)
	}
	log, _ := os.ReadFile(s.opts.AuditLog)
	want := "2026-11-24T15:00:00Z user=tester netns=net:[1] intent apply net.ipv4.tcp_fin_timeout: 60 → 30\n" +
		"2026-11-24T15:00:00Z user=tester netns=net:[1] intent apply net.ipv4.tcp_tw_reuse: 2 → 1\n" +
		"2026-11-24T15:00:00Z user=tester netns=net:[1] apply net.ipv4.tcp_fin_timeout: 60 → 30\n" +
		"2026-11-24T15:00:00Z user=tester netns=net:[1] apply net.ipv4.tcp_tw_reuse: 2 → 1\n" +
		"2026-11-24T15:00:00Z user=tester netns=net:[1] intent undo net.ipv4.tcp_tw_reuse: 1 → 2\n" +
		"2026-11-24T15:00:00Z user=tester netns=net:[1] intent undo net.ipv4.tcp_fin_timeout: 30 → 60\n" +
		"2026-11-24T15:00:00Z user=tester netns=net:[1] undo net.ipv4.tcp_tw_reuse: 1 → 2\n" +
		"2026-11-24T15:00:00Z user=tester netns=net:[1] undo net.ipv4.tcp_fin_timeout: 30 → 60\n"
	if string(log) != want {
		t.Errorf("audit log:\n%s\nwant:\n%s", log, want)
	}
}

func TestUndoRefusesWhenChangedSince(t *testing.T) {
	s, dir := fakeRoot(t)
	p, _ := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30"))
	if err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "net/ipv4/tcp_fin_timeout"), []byte("45\n"), 0o644)
	if _, err := s.PlanUndo(); err == nil || !strings.Contains(err.Error(), "something else changed it") {
		t.Fatalf("error %v", err)
	}
}

// TestApplyRollsBack: a key in the middle of a batch fails, so the one
// before it is restored and the one after it is never written.
func TestApplyRollsBack(t *testing.T) {
	s, dir := fakeRoot(t)
	p, err := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30", "net.ipv4.tcp_syncookies=2", "net.ipv4.tcp_tw_reuse=1"))
	if err != nil {
		t.Fatal(err)
	}
	before := treeState(t, dir)
	// The middle key vanishes once the first is written.
	s.afterWrite = func(key string) {
		if key == "net.ipv4.tcp_fin_timeout" {
			os.Remove(filepath.Join(dir, "net/ipv4/tcp_syncookies"))
		}
	}
	err = s.Apply(p)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "net.ipv4.tcp_syncookies: not on this kernel") ||
		!strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("error %v", err)
	}
	delete(before, filepath.Join(dir, "net/ipv4/tcp_syncookies"))
	for path, v := range treeState(t, dir) {
		if before[path] != v {
			t.Errorf("%s is %q after a failed batch, was %q", path, v, before[path])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "net/ipv4/tcp_syncookies")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("apply created a sysctl file")
	}
	if _, err := s.PlanUndo(); err == nil {
		t.Error("a failed batch must not be recorded for undo")
	}
	log, _ := os.ReadFile(s.opts.AuditLog)
	if !strings.Contains(string(log), "rollback net.ipv4.tcp_syncookies") {
		t.Errorf("the audit log does not record the rollback:\n%s", log)
	}
}

// TestApplyRestoresFailingKey: the key whose read-back fails is restored
// too, not only the ones before it.
func TestApplyRestoresFailingKey(t *testing.T) {
	s, dir := fakeRoot(t)
	p, err := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30", "net.core.somaxconn=8192"))
	if err != nil {
		t.Fatal(err)
	}
	before := treeState(t, dir)
	tampered := false
	s.afterWrite = func(key string) {
		if key == "net.core.somaxconn" && !tampered {
			tampered = true
			os.WriteFile(filepath.Join(dir, "net/core/somaxconn"), []byte("7777\n"), 0o644)
		}
	}
	err = s.Apply(p)
	var ce *ChangedError
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "reads back") {
		t.Fatalf("error %v: want a read-back failure with nothing changed", err)
	}
	s.afterWrite = nil
	for path, v := range treeState(t, dir) {
		if before[path] != v {
			t.Errorf("%s is %q after a failed batch, was %q", path, v, before[path])
		}
	}
}

// TestNothingChangesWithoutARecord: when the state file or the audit log
// cannot be written, the kernel is not touched.
func TestNothingChangesWithoutARecord(t *testing.T) {
	for name, breakIt := range map[string]func(s *System){
		"state dir is a file": func(s *System) {
			os.WriteFile(filepath.Dir(s.opts.StateFile)+"/blocker", nil, 0o600)
			s.opts.StateFile = filepath.Dir(s.opts.StateFile) + "/blocker/state.json"
		},
		"audit log is a directory": func(s *System) { os.Mkdir(s.opts.AuditLog, 0o700) },
		"no state file":            func(s *System) { s.opts.StateFile = "" },
		"no audit log":             func(s *System) { s.opts.AuditLog = "" },
	} {
		t.Run(name, func(t *testing.T) {
			s, dir := fakeRoot(t)
			breakIt(s)
			before := treeState(t, dir)
			p, err := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30"))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Apply(p)
			var ce *ChangedError
			if err == nil || errors.As(err, &ce) {
				t.Fatalf("error %v: want a refusal", err)
			}
			if !strings.Contains(err.Error(), "nothing changed") && !strings.Contains(err.Error(), "--no-undo") {
				t.Errorf("the refusal does not say nothing changed: %v", err)
			}
			for path, v := range treeState(t, dir) {
				if before[path] != v {
					t.Errorf("%s is %q, was %q", path, v, before[path])
				}
			}
		})
	}
}

// TestInterruptedBatch: a batch killed after its pending record leaves
// that record; apply refuses until undo restores it.
func TestInterruptedBatch(t *testing.T) {
	s, dir := fakeRoot(t)
	before := treeState(t, dir)
	p, _ := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30", "net.ipv4.tcp_tw_reuse=1", "net.core.somaxconn=100"))
	// Simulate kill -9 after the second write: stop the batch by panicking
	// out of it, so the record is left as a crash would leave it.
	s.afterWrite = func(key string) {
		if key == "net.ipv4.tcp_tw_reuse" {
			panic("killed")
		}
	}
	func() {
		defer func() { recover() }()
		s.Apply(p)
	}()
	s.afterWrite = nil
	msg, _ := s.Interrupted()
	if !strings.Contains(msg, "interrupted") || !strings.Contains(msg, "tcpdash tune undo") {
		t.Fatalf("Interrupted() = %q", msg)
	}
	p2, _ := s.Plan(assign(t, "net.ipv4.tcp_syncookies=2"))
	if err := s.Apply(p2); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("apply over an interrupted batch: %v", err)
	}
	u, err := s.PlanUndo()
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Changes) != 2 {
		t.Fatalf("undo plan %v: want the two keys written", u.Changes)
	}
	if err := s.Undo(u); err != nil {
		t.Fatal(err)
	}
	state := filepath.Dir(s.opts.StateFile)
	for path, v := range treeState(t, dir) {
		if before[path] != v && !strings.HasPrefix(path, state) {
			t.Errorf("%s is %q after undo, was %q", path, v, before[path])
		}
	}
	if msg, _ := s.Interrupted(); msg != "" {
		t.Errorf("still interrupted after undo: %q", msg)
	}
}

// TestUndoValidatesTheRecord: a state file that would write values tune
// set refuses is not trusted.
func TestUndoValidatesTheRecord(t *testing.T) {
	s, _ := fakeRoot(t)
	p, _ := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30"))
	if err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(s.opts.StateFile)
	os.WriteFile(s.opts.StateFile, []byte(strings.Replace(string(b), `"old": "60"`, `"old": "3600000"`, 1)), 0o600)
	if _, err := s.PlanUndo(); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("PlanUndo over a tampered record: %v", err)
	}
}

func TestPersist(t *testing.T) {
	s, _ := fakeRoot(t)
	if _, err := s.PlanPersist(filepath.Join(t.TempDir(), "x.conf")); err == nil {
		t.Error("persist with nothing applied must be refused")
	}
	p, _ := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30", "net.ipv4.ip_local_port_range=1024 65535"))
	if err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "90-tcpdash.conf")
	existing := "# mine\nnet.core.somaxconn = 8192\nnet.ipv4.tcp_fin_timeout = 15\n"
	os.WriteFile(path, []byte(existing), 0o644)
	pp, err := s.PlanPersist(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# mine\nnet.core.somaxconn = 8192\nnet.ipv4.tcp_fin_timeout = 30\nnet.ipv4.ip_local_port_range = 1024 65535\n"
	if pp.New != want || pp.Old != existing {
		t.Fatalf("planned file:\n%s\nwant:\n%s", pp.New, want)
	}
	if b, _ := os.ReadFile(path); string(b) != existing {
		t.Fatal("planning wrote the file")
	}
	if err := s.Persist(pp); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != want {
		t.Errorf("file:\n%s", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// A file changed after it was shown is not overwritten.
	pp2, _ := s.PlanPersist(path)
	os.WriteFile(path, []byte("# someone else\n"), 0o644)
	if err := s.Persist(pp2); err == nil || !strings.Contains(err.Error(), "changed since it was shown") {
		t.Errorf("error %v", err)
	}
	if _, err := s.PlanPersist("/etc/../etc/sysctl.conf"); err == nil || !strings.Contains(err.Error(), "never edits /etc/sysctl.conf") {
		t.Errorf("error %v", err)
	}
	log, _ := os.ReadFile(s.opts.AuditLog)
	if !strings.Contains(string(log), "persist "+path+" net.ipv4.tcp_fin_timeout: 60 → 30") {
		t.Errorf("audit log lacks the persist:\n%s", log)
	}
}

func TestSettings(t *testing.T) {
	s, _ := fakeRoot(t)
	settings, err := s.Settings()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Setting{}
	for _, st := range settings {
		got[st.Key] = st
	}
	if r := got["net.ipv4.ip_local_port_range"]; !r.Exists || r.Value != "32768 60999" {
		t.Errorf("port range %+v", r)
	}
	if r := got["net.ipv4.tcp_tw_recycle"]; r.Exists || r.Removed == "" {
		t.Errorf("tcp_tw_recycle %+v: want absent and marked removed", r)
	}
	if len(settings) != len(Known()) {
		t.Errorf("%d settings for %d tunables", len(settings), len(Known()))
	}
}

// TestUndoRecordNotRemovable: the values are restored although the record
// cannot be removed, and the error says so.
func TestUndoRecordNotRemovable(t *testing.T) {
	s, dir := fakeRoot(t)
	p, _ := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30"))
	if err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	u, err := s.PlanUndo()
	if err != nil {
		t.Fatal(err)
	}
	// Once the undo is under way, the record turns into a directory that
	// cannot be unlinked.
	s.afterWrite = func(string) {
		os.Remove(s.opts.StateFile)
		os.MkdirAll(filepath.Join(s.opts.StateFile, "x"), 0o700)
	}
	err = s.Undo(u)
	var ce *ChangedError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "every value was restored") ||
		!strings.Contains(err.Error(), "net.ipv4.tcp_fin_timeout=60") {
		t.Fatalf("error %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "net/ipv4/tcp_fin_timeout")); string(b) != "60\n" {
		t.Fatalf("tcp_fin_timeout %q after undo", b)
	}
}

// FuzzStateFile: whatever a state file holds, undo either refuses or plans
// only values tune set would accept, for keys tcpdash knows.
func FuzzStateFile(f *testing.F) {
	f.Add([]byte(`{"netns":"net:[1]","status":"applied","changes":[{"key":"net.ipv4.tcp_fin_timeout","old":"60","new":"30"}]}`))
	f.Add([]byte(`{"netns":"net:[1]","status":"pending","changes":[{"key":"net.core.somaxconn","old":"0","new":"4096"}]}`))
	f.Add([]byte(`{"netns":"net:[1]","changes":[{"key":"../../etc/passwd","old":"x","new":"y"}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := fakeRoot(t)
		if err := os.WriteFile(s.opts.StateFile, data, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := s.PlanUndo()
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(string(data), "\n") {
				t.Fatalf("a refusal spans lines: %q", err)
			}
			return
		}
		for _, c := range p.Changes {
			tu, ok := Lookup(c.Key)
			if !ok || tu.Removed != "" {
				t.Fatalf("undo plans unknown or removed key %q", c.Key)
			}
			if _, err := tu.Check(c.New); err != nil {
				t.Fatalf("undo plans %s=%q, which tune set refuses: %v", c.Key, c.New, err)
			}
		}
	})
}

// A sysctl file that is a symlink is never written through: /proc/sys has
// none, so one is a planted trap, and the file it points at stays as it was.
func TestApplyRefusesSymlink(t *testing.T) {
	s, dir := fakeRoot(t)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "net/ipv4/tcp_fin_timeout")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, key); err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(p); err == nil {
		t.Fatal("applied through a symlink")
	}
	if b, _ := os.ReadFile(victim); string(b) != "60\n" {
		t.Errorf("the symlink's target now holds %q", b)
	}
}

// BenchmarkSettingsInNamespace: reading every tunable of another
// namespace in one visit to its thread, against a visit per key, the way
// the namespace handle hands work to the thread that lives there.
func BenchmarkSettingsInNamespace(b *testing.B) {
	s, _ := fakeRoot(b)
	work := make(chan func())
	go func() {
		runtime.LockOSThread()
		for fn := range work {
			fn()
		}
	}()
	defer close(work)
	s.opts.InNamespace = func(fn func() error) error {
		done := make(chan error)
		work <- func() { done <- fn() }
		return <-done
	}
	b.Run("one visit", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Settings(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("a visit per key", func(b *testing.B) {
		for b.Loop() {
			for _, t := range Known() {
				s.read(t)
			}
		}
	})
}

// TestGoneNamespaceRecord: a batch recorded in a namespace whose inode a
// new namespace reuses (the same net:[N], another cookie) is never undone
// into the new one, and blocks nothing silently: undo and apply refuse,
// naming tune discard, which removes the record (audited) and restores
// nothing.
func TestGoneNamespaceRecord(t *testing.T) {
	a, root := fakeRoot(t)
	a.opts.Netns, a.opts.NetnsCookie = "net:[4026532300]", 41
	p, err := a.Plan(assign(t, "net.core.somaxconn=1000"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(p); err != nil {
		t.Fatal(err)
	}
	b := New(a.opts)
	b.opts.NetnsCookie = 77 // namespace B, with A's inode
	before := treeState(t, root)
	if _, err := b.PlanUndo(); !errors.Is(err, ErrGone) || !strings.Contains(err.Error(), "tcpdash tune discard") {
		t.Errorf("undo in the namespace that reused the inode: %v, want ErrGone naming tune discard", err)
	}
	if p, err := b.Plan(assign(t, "net.core.somaxconn=2000")); err == nil {
		if err := b.Apply(p); !errors.Is(err, ErrGone) {
			t.Errorf("apply over a gone namespace's record: %v, want ErrGone", err)
		}
	}
	if diff := cmp.Diff(before, treeState(t, root)); diff != "" {
		t.Errorf("sysctls changed (-before +after):\n%s", diff)
	}
	desc, err := b.PlanDiscard()
	if err != nil || !strings.Contains(desc, "net.core.somaxconn") || !strings.Contains(desc, "net:[4026532300]") {
		t.Fatalf("PlanDiscard: %q, %v", desc, err)
	}
	if err := b.Discard(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, treeState(t, root)); diff != "" {
		t.Errorf("discard changed sysctls (-before +after):\n%s", diff)
	}
	audit, _ := os.ReadFile(b.opts.AuditLog)
	if !strings.Contains(string(audit), "discard (netns net:[4026532300], nothing restored) net.core.somaxconn") {
		t.Errorf("the discard is not audited:\n%s", audit)
	}
	if _, err := b.PlanUndo(); err == nil || !strings.Contains(err.Error(), "nothing to undo") {
		t.Errorf("after discard: %v, want nothing to undo", err)
	}
}
