package tuning

import (
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
	// StateFile remembers the last batch, for undo, and a batch in
	// progress, so that an interrupted one can be restored. Its lock file
	// is beside it (StateFile + ".lock").
	StateFile string
	// AuditLog gets a line for every intended, applied, rolled back,
	// undone or persisted change.
	AuditLog string
	// NoUndo allows changes without a StateFile or AuditLog: no undo, no
	// record. Without it, an empty StateFile or AuditLog refuses changes.
	NoUndo bool
	// LockWait is how long a second tcpdash waits for the lock before it
	// refuses; 0 means DefaultLockWait.
	LockWait time.Duration
	// Netns and User identify who changed what, in the audit log.
	Netns, User string
	// NetnsCookie is the namespace's SO_NETNS_COOKIE (0 if unknown):
	// records are kept against it, as Linux reuses inodes.
	NetnsCookie uint64
	// InNamespace, when set, runs sysctl I/O on a thread inside the
	// network namespace being tuned (namespaces.Handle.Do).
	InNamespace func(fn func() error) error
	// Now stamps audit lines; nil means time.Now.
	Now func() time.Time
	// Elsewhere names the namespace tuned when it is not the caller's own
	// (a container's, another's): its values belong in its runtime's spec,
	// and persisting them to /etc/sysctl.d would give them to the host.
	Elsewhere string
}

// A System reads and changes sysctls under one root.
type System struct {
	opts Options
	// afterWrite, when set, runs between each sysctl write and its
	// read-back: tests slow a batch down with it to kill the process in
	// the middle, or change what the read-back sees.
	afterWrite func(key string)
}

// New returns a System; an empty SysctlRoot means /proc/sys.
func New(opts Options) *System {
	if opts.SysctlRoot == "" {
		opts.SysctlRoot = "/proc/sys"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LockWait == 0 {
		opts.LockWait = DefaultLockWait
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
// They are read in one visit to the namespace: a stream reads them every
// poll, and each visit is a hand-off to the thread that lives there.
func (s *System) Settings() ([]Setting, error) {
	var out []Setting
	err := s.inNamespace(func() error {
		for _, t := range Known() {
			v, err := sysctl.Read(s.opts.SysctlRoot, t.Key)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				out = append(out, Setting{Tunable: t})
			case err != nil:
				return fmt.Errorf("read %s: %w", t.Key, err)
			default:
				out = append(out, Setting{Tunable: t, Value: display(v), Exists: true})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *System) read(t Tunable) (v string, err error) {
	err = s.inNamespace(func() (err error) {
		v, err = sysctl.Read(s.opts.SysctlRoot, t.Key)
		return err
	})
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
	Key      string   `json:"key"`
	Old      string   `json:"old"`
	New      string   `json:"new"`
	Warnings []string `json:"warnings,omitempty"`
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
		if t.Same(v, old) {
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
	var f *os.File
	err := s.inNamespace(func() (err error) {
		// /proc/sys resolves in the opening thread's namespace; the open
		// file keeps it.
		f, err = os.OpenFile(filepath.Join(s.opts.SysctlRoot, t.Path()), os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0)
		return err
	})
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
	if s.afterWrite != nil {
		s.afterWrite(t.Key)
	}
	got, err := s.read(t)
	if err != nil {
		return err
	}
	if !t.Same(got, value) {
		return fmt.Errorf("%s: wrote %q but the kernel reads back %q", t.Key, display(value), display(got))
	}
	return nil
}

// inNamespace runs fn where /proc/sys is the watched namespace's.
func (s *System) inNamespace(fn func() error) error {
	if s.opts.InNamespace == nil {
		return fn()
	}
	return s.opts.InNamespace(fn)
}

// CanWrite reports why sysctls cannot be written here, or nil. It probes
// access to a per-namespace sysctl rather than guessing from the uid:
// root of a user namespace may write its own network namespace's values.
func (s *System) CanWrite() error {
	if !s.opts.NoUndo && (s.opts.StateFile == "" || s.opts.AuditLog == "") {
		return errors.New("no state file or audit log: undo would be impossible (--no-undo allows that)")
	}
	p := filepath.Join(s.opts.SysctlRoot, "net/ipv4/tcp_fin_timeout")
	if err := s.inNamespace(func() error { return syscall.Access(p, 2 /* W_OK */) }); err != nil {
		return fmt.Errorf("writing sysctls needs root or CAP_NET_ADMIN over this network namespace (uid %d): %w", os.Geteuid(), err)
	}
	return nil
}
