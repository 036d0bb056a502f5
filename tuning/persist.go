package tuning

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
	b, err := s.lastBatch()
	if err != nil {
		return PersistPlan{}, err
	}
	old, err := os.ReadFile(clean)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return PersistPlan{}, fmt.Errorf("read %s: %w", clean, err)
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
// directory, fsync, rename, fsync of the directory. It refuses if the file
// changed since the plan was made.
func (s *System) Persist(p PersistPlan) error {
	now, err := os.ReadFile(p.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", p.Path, err)
	}
	if string(now) != p.Old {
		return fmt.Errorf("%s changed since it was shown: look again and persist again", p.Path)
	}
	if err := writeAtomic(p.Path, []byte(p.New), 0o644); err != nil {
		return err
	}
	return s.audit("persist "+p.Path, p.Changes)
}

func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer d.Close()
	return d.Sync()
}
