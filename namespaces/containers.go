package namespaces

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tcpdash/tcpdash/cgroups"
)

// CgroupPath reads a process's cgroup-v2 path (the "0::" line of
// /proc/PID/cgroup), or on a v1-only host the first path that names a
// container.
func (f *Finder) CgroupPath(pid int) (string, bool) {
	b, err := os.ReadFile(filepath.Join(f.ProcRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", false
	}
	var fallback string
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			return parts[2], true
		}
		if _, ok := cgroups.ParseContainer(parts[2]); ok && fallback == "" {
			fallback = parts[2]
		}
	}
	return fallback, fallback != ""
}

func (f *Finder) containerOf(pid int) (cgroups.Container, bool) {
	path, ok := f.CgroupPath(pid)
	if !ok {
		return cgroups.Container{}, false
	}
	c, ok := cgroups.ParseContainer(path)
	return c, ok && c.ID != ""
}

// container resolves container:ID, an id prefix or a Docker name, to the
// namespace of the container's first process.
func (f *Finder) container(what string) (Namespace, error) {
	if what == "" {
		return Namespace{}, fmt.Errorf("--netns container: needs a container id prefix or name")
	}
	namer := f.Namer
	first := map[string]int{} // container id → its first pid
	var ids []string
	for _, pid := range f.pids() {
		c, ok := f.containerOf(pid)
		if !ok {
			continue
		}
		if !strings.HasPrefix(c.ID, what) && namer.DockerName(c.ID) != what {
			continue
		}
		if _, seen := first[c.ID]; !seen {
			first[c.ID] = pid
			ids = append(ids, c.ID)
		}
	}
	switch len(ids) {
	case 0:
		return Namespace{}, fmt.Errorf("--netns container:%s: no running container has that id prefix or name", what)
	case 1:
		ns, err := f.fromPID(first[ids[0]])
		if err != nil {
			return Namespace{}, fmt.Errorf("--netns container:%s: %w", what, err)
		}
		return f.named(ns), nil
	}
	slices.Sort(ids)
	short := make([]string, len(ids))
	for i, id := range ids {
		short[i] = id[:min(12, len(id))]
	}
	return Namespace{}, fmt.Errorf("--netns container:%s matches %d containers (%s): give more of the id",
		what, len(ids), strings.Join(short, ", "))
}
