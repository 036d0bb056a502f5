package tuning

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tcpdash/tcpdash/internal/sysctl"
)

// Options say where a System reads and writes. Tests point every path at
// a temporary directory, or run inside a private network namespace.
type Options struct {
	// SysctlRoot is /proc/sys, or a directory laid out like it.
	SysctlRoot string
	// StateFile remembers the last applied batch, for undo.
	StateFile string
	// AuditLog gets a line for every applied, undone or persisted change.
	AuditLog string
	// Netns and User identify who changed what, in the audit log.
	Netns, User string
	// Now stamps audit lines; nil means time.Now.
	Now func() time.Time
}

// A System reads and changes sysctls under one root.
type System struct {
	opts Options
}

// New returns a System; an empty SysctlRoot means /proc/sys.
func New(opts Options) *System {
	if opts.SysctlRoot == "" {
		opts.SysctlRoot = "/proc/sys"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &System{opts: opts}
}

// A Setting is a tunable with its value on this system.
type Setting struct {
	Tunable
	// Value is the current value, whitespace folded ("32768 60999").
	Value string
	// Exists is false when the running kernel has no such sysctl.
	Exists bool
}

// Settings reads every known tunable. Reading needs no privileges.
func (s *System) Settings() ([]Setting, error) {
	var out []Setting
	for _, t := range Known() {
		v, err := s.read(t)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, Setting{Tunable: t})
		case err != nil:
			return nil, err
		default:
			out = append(out, Setting{Tunable: t, Value: display(v), Exists: true})
		}
	}
	return out, nil
}

func (s *System) read(t Tunable) (string, error) {
	v, err := sysctl.Read(s.opts.SysctlRoot, t.Key)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", t.Key, err)
	}
	return v, nil
}

// display folds the kernel's tabs and newlines into single spaces.
func display(v string) string { return strings.Join(strings.Fields(v), " ") }

// An Assignment asks for a key to take a value.
type Assignment struct{ Key, Value string }

// ParseAssignment parses KEY=VALUE.
func ParseAssignment(arg string) (Assignment, error) {
	k, v, ok := strings.Cut(arg, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return Assignment{}, fmt.Errorf("%q: want KEY=VALUE, such as net.ipv4.tcp_tw_reuse=1", arg)
	}
	return Assignment{strings.TrimSpace(k), v}, nil
}

// A Change is one key's move from Old to New, in the kernel's format.
type Change struct {
	Key, Old, New string
	Warnings      []string
}

func (c Change) String() string {
	return fmt.Sprintf("%s: %s → %s", c.Key, display(c.Old), display(c.New))
}

// A Plan is a batch of changes, checked but not applied.
type Plan struct {
	Changes []Change
}

// Plan checks assignments against the table and the running kernel and
// returns what applying them would change. It changes nothing. Values
// equal to the current ones are left out.
func (s *System) Plan(as []Assignment) (Plan, error) {
	var p Plan
	seen := map[string]bool{}
	for _, a := range as {
		t, err := s.tunable(a.Key)
		if err != nil {
			return Plan{}, err
		}
		if seen[t.Key] {
			return Plan{}, fmt.Errorf("%s is set twice: set each key once", t.Key)
		}
		seen[t.Key] = true
		old, err := s.read(t)
		if err != nil {
			return Plan{}, explain(t.Key, a.Value, err)
		}
		v, err := t.check(a.Value, old)
		if err != nil {
			return Plan{}, fmt.Errorf("%s: %w (valid: %s)", t.Key, err, t.Values)
		}
		if display(v) == display(old) {
			continue
		}
		p.Changes = append(p.Changes, Change{Key: t.Key, Old: old, New: v, Warnings: t.Warnings(old, v)})
	}
	return p, nil
}

// tunable checks that key is safe to turn into a path and is one tcpdash
// knows and may write.
func (s *System) tunable(key string) (Tunable, error) {
	if strings.Contains(key, "/") || strings.Contains(key, "..") {
		return Tunable{}, fmt.Errorf("%q is not a sysctl key: keys are dotted names such as net.ipv4.tcp_tw_reuse", key)
	}
	t, ok := Lookup(key)
	if !ok {
		return Tunable{}, fmt.Errorf("unknown key %q: tcpdash changes only the keys `tcpdash tune` lists", key)
	}
	if t.Removed != "" {
		return Tunable{}, fmt.Errorf("%s was removed in %s and is never written: %s", t.Key, t.Removed, t.Does)
	}
	return t, nil
}

// current reads the value of a known, writable key.
func (s *System) current(key string) (string, error) {
	t, err := s.tunable(key)
	if err != nil {
		return "", err
	}
	v, err := s.read(t)
	if err != nil {
		return "", explain(key, "", err)
	}
	return v, nil
}

// explain turns a sysctl I/O error into one line that says what to do,
// keeping the cause for errors.Is.
func explain(key, value string, err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied: writing needs root or CAP_NET_ADMIN over this network namespace: %w", key, err)
	case errors.Is(err, syscall.EINVAL):
		return fmt.Errorf("%s: the kernel rejected %q (EINVAL): %w", key, display(value), err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: not on this kernel (ENOENT): %w", key, err)
	}
	return fmt.Errorf("%s: %w", key, err)
}

// write sets one sysctl and reads it back. It opens the file without
// O_CREATE: a missing sysctl is an error, never a new file.
func (s *System) write(t Tunable, value string) error {
	f, err := os.OpenFile(filepath.Join(s.opts.SysctlRoot, t.Path()), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return explain(t.Key, value, err)
	}
	_, err = f.WriteString(value + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return explain(t.Key, value, err)
	}
	got, err := s.read(t)
	if err != nil {
		return err
	}
	if display(got) != display(value) {
		return fmt.Errorf("%s: wrote %q but the kernel reads back %q", t.Key, display(value), display(got))
	}
	return nil
}

// Apply writes a plan, reading each value back. If any write fails, the
// ones already written are restored, newest first, and the error names the
// key and the reason. On success the batch is remembered for Undo and
// written to the audit log.
func (s *System) Apply(p Plan) error {
	if err := s.apply(p, "apply"); err != nil {
		return err
	}
	return s.saveBatch(p)
}

func (s *System) apply(p Plan, action string) error {
	for i, c := range p.Changes {
		t, err := s.tunable(c.Key)
		if err != nil {
			return err
		}
		if err := s.write(t, c.New); err != nil {
			return s.rollback(p.Changes[:i], err)
		}
	}
	return s.audit(action, p.Changes)
}

func (s *System) rollback(done []Change, cause error) error {
	var failed []string
	for i := len(done) - 1; i >= 0; i-- {
		t, _ := Lookup(done[i].Key)
		if err := s.write(t, done[i].Old); err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w; restoring the batch failed too: %s", cause, strings.Join(failed, "; "))
	}
	if len(done) > 0 {
		return fmt.Errorf("%w (the %d change(s) before it were restored)", cause, len(done))
	}
	return cause
}

// batch is the state file's content.
type batch struct {
	Time    time.Time `json:"time"`
	Netns   string    `json:"netns"`
	Changes []Change  `json:"changes"`
}

func (s *System) saveBatch(p Plan) error {
	if s.opts.StateFile == "" {
		return nil
	}
	b, err := json.MarshalIndent(batch{s.opts.Now(), s.opts.Netns, p.Changes}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.opts.StateFile), 0o755); err != nil {
		return fmt.Errorf("applied, but cannot remember the batch for undo: %w", err)
	}
	if err := writeAtomic(s.opts.StateFile, b, 0o600); err != nil {
		return fmt.Errorf("applied, but cannot remember the batch for undo: %w", err)
	}
	return nil
}

func (s *System) lastBatch() (batch, error) {
	var b batch
	if s.opts.StateFile == "" {
		return b, errors.New("no state file: undo is off")
	}
	data, err := os.ReadFile(s.opts.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return b, errors.New("nothing to undo: no batch applied by tcpdash is on record")
	}
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, fmt.Errorf("%s is corrupt: %w", s.opts.StateFile, err)
	}
	if b.Netns != s.opts.Netns {
		return b, fmt.Errorf("the last batch was applied in network namespace %s, this is %s: undo it there", b.Netns, s.opts.Netns)
	}
	return b, nil
}

// PlanUndo returns the plan that restores the values from before the last
// applied batch. It refuses if any of them changed since.
func (s *System) PlanUndo() (Plan, error) {
	b, err := s.lastBatch()
	if err != nil {
		return Plan{}, err
	}
	var p Plan
	for i := len(b.Changes) - 1; i >= 0; i-- {
		c := b.Changes[i]
		now, err := s.current(c.Key)
		if err != nil {
			return Plan{}, err
		}
		if display(now) != display(c.New) {
			return Plan{}, fmt.Errorf("%s is now %s, not the %s tcpdash set: something else changed it, so undo would clobber that",
				c.Key, display(now), display(c.New))
		}
		p.Changes = append(p.Changes, Change{Key: c.Key, Old: now, New: c.Old})
	}
	return p, nil
}

// Undo applies an undo plan and forgets the batch.
func (s *System) Undo(p Plan) error {
	if err := s.apply(p, "undo"); err != nil {
		return err
	}
	if err := os.Remove(s.opts.StateFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// audit appends one line per change.
func (s *System) audit(action string, changes []Change) error {
	if s.opts.AuditLog == "" || len(changes) == 0 {
		return nil
	}
	var b strings.Builder
	now := s.opts.Now().UTC().Format(time.RFC3339)
	for _, c := range changes {
		fmt.Fprintf(&b, "%s user=%s netns=%s %s %s\n", now, s.opts.User, s.opts.Netns, action, c)
	}
	if err := os.MkdirAll(filepath.Dir(s.opts.AuditLog), 0o755); err != nil {
		return fmt.Errorf("changed, but cannot write the audit log: %w", err)
	}
	f, err := os.OpenFile(s.opts.AuditLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("changed, but cannot write the audit log: %w", err)
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// CanWrite reports why sysctls cannot be written here, or nil. It probes
// access to a per-namespace sysctl rather than guessing from the uid:
// root of a user namespace may write its own network namespace's values.
func (s *System) CanWrite() error {
	p := filepath.Join(s.opts.SysctlRoot, "net/ipv4/tcp_fin_timeout")
	if err := syscall.Access(p, 2 /* W_OK */); err != nil {
		return fmt.Errorf("writing sysctls needs root or CAP_NET_ADMIN over this network namespace (uid %d): %w", os.Geteuid(), err)
	}
	return nil
}
