package tuning

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tcpdash/tcpdash/internal/safefile"
)

// DefaultPersistPath is where persisted values go: a file of tcpdash's
// own, read by systemd-sysctl and `sysctl --system` at boot.
const DefaultPersistPath = "/etc/sysctl.d/90-tcpdash.conf"

// A PersistPlan is the file that persisting would write.
type PersistPlan struct {
	Path     string
	Old, New string // file contents before and after
	Changes  []Change
}

// PlanPersist returns the sysctl.d file that would keep the last applied
// batch's keys at their current values across reboots. Lines for other
// keys, and comments, are kept. It changes nothing.
func (s *System) PlanPersist(path string) (PersistPlan, error) {
	clean := filepath.Clean(path)
	if clean == "/etc/sysctl.conf" {
		return PersistPlan{}, errors.New("tcpdash never edits /etc/sysctl.conf: persist to a file in /etc/sysctl.d")
	}
	b, err := s.lastRecord()
	if err != nil {
		return PersistPlan{}, err
	}
	if b.pending() {
		return PersistPlan{}, fmt.Errorf("%w (%s): run tcpdash tune undo first", ErrInterrupted, b.describe())
	}
	if s.opts.Elsewhere != "" {
		return PersistPlan{}, s.elsewhere(b)
	}
	old, err := safefile.ReadFile(clean)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return PersistPlan{}, err
	}
	p := PersistPlan{Path: clean, Old: string(old)}
	values := map[string]string{}
	var order []string
	for _, c := range b.Changes {
		now, err := s.current(c.Key)
		if err != nil {
			return PersistPlan{}, err
		}
		values[c.Key] = display(now)
		order = append(order, c.Key)
		p.Changes = append(p.Changes, Change{Key: c.Key, Old: c.Old, New: now})
	}

	var out bytes.Buffer
	done := map[string]bool{}
	for _, line := range strings.SplitAfter(string(old), "\n") {
		if line == "" {
			continue
		}
		key, _, isSetting := strings.Cut(line, "=")
		key = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(key), "-"))
		if v, ours := values[key]; isSetting && ours && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			if !done[key] {
				fmt.Fprintf(&out, "%s = %s\n", key, v)
				done[key] = true
			}
			continue
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteByte('\n')
		}
	}
	if out.Len() == 0 {
		out.WriteString("# Written by tcpdash tune persist; applied at boot by systemd-sysctl.\n")
	}
	for _, k := range order {
		if !done[k] {
			fmt.Fprintf(&out, "%s = %s\n", k, values[k])
			done[k] = true
		}
	}
	p.New = out.String()
	return p, nil
}

// Persist writes the planned file atomically: a temporary file in the same
// directory, fsync, rename, fsync of the directory. It keeps an existing
// file's mode, refuses a file that is not root's (or the caller's) own,
// and refuses if the file changed since the plan was made.
func (s *System) Persist(p PersistPlan) error {
	d, name, err := safefile.Split(p.Path, false, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	now, err := d.ReadFile(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if string(now) != p.Old {
		return fmt.Errorf("%s changed since it was shown: look again and persist again", p.Path)
	}
	mode := os.FileMode(0o644)
	if m, err := d.Mode(name); err == nil {
		mode = m
	}
	if err := d.WriteAtomic(name, []byte(p.New), mode); err != nil {
		return err
	}
	return s.audit("persist "+p.Path, p.Changes)
}

// elsewhere refuses to persist another namespace's values, showing where
// they belong instead: the container's own spec, which its runtime applies
// each time it starts.
func (s *System) elsewhere(b *record) error {
	var flags, k8s []string
	for _, c := range b.Changes {
		v, err := s.current(c.Key)
		if err != nil {
			return err
		}
		flags = append(flags, fmt.Sprintf("--sysctl %s=%q", c.Key, display(v)))
		k8s = append(k8s, fmt.Sprintf("{name: %s, value: %q}", c.Key, display(v)))
	}
	return fmt.Errorf("%s is not tcpdash's own network namespace: /etc/sysctl.d would give its values to the host at boot; "+
		"keep them in the container's spec instead (docker run %s; Kubernetes securityContext.sysctls: [%s])",
		s.opts.Elsewhere, strings.Join(flags, " "), strings.Join(k8s, ", "))
}
