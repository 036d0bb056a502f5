package namespaces

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tcpdash/tcpdash/internal/cgroups"
	"github.com/tcpdash/tcpdash/internal/termsafe"
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
// namespace of the container's processes. Only cgroups where the runtime
// itself puts containers count (a user with a delegated subtree can name a
// cgroup docker-<id>.scope too), and a container whose processes are in
// more than one network namespace is refused, naming each: tcpdash would
// otherwise watch, or tune, whichever it met first.
func (f *Finder) container(what string) (Namespace, error) {
	if what == "" {
		return Namespace{}, errors.New("container: needs a container id prefix or name")
	}
	namer := f.Namer
	type candidate struct {
		pid   int
		path  string
		inode uint64
	}
	found := map[string][]candidate{} // container id → its processes, one per namespace
	var ids []string
	for _, pid := range f.pids() {
		path, ok := f.CgroupPath(pid)
		if !ok {
			continue
		}
		c, ok := cgroups.ParseContainer(path)
		if !ok || c.ID == "" || !RuntimeParent(c.Runtime, path) {
			continue
		}
		if !strings.HasPrefix(c.ID, what) && namer.DockerName(c.ID) != what {
			continue
		}
		ns, err := f.fromPID(pid)
		if err != nil {
			continue // gone meanwhile
		}
		if _, seen := found[c.ID]; !seen {
			ids = append(ids, c.ID)
		}
		if !slices.ContainsFunc(found[c.ID], func(k candidate) bool { return k.inode == ns.Inode }) {
			found[c.ID] = append(found[c.ID], candidate{pid, path, ns.Inode})
		}
	}
	switch len(ids) {
	case 0:
		return Namespace{}, fmt.Errorf("container:%s: no running container has that id prefix or name", what)
	case 1:
		cands := found[ids[0]]
		if len(cands) > 1 {
			var each []string
			for _, k := range cands {
				each = append(each, fmt.Sprintf("pid %d in net:[%d] (cgroup %s)", k.pid, k.inode, termsafe.String(k.path)))
			}
			return Namespace{}, fmt.Errorf("container:%s is ambiguous: its processes are in %d network namespaces (%s): name one as pid:PID",
				what, len(cands), strings.Join(each, "; "))
		}
		ns, err := f.fromPID(cands[0].pid)
		if err != nil {
			return Namespace{}, fmt.Errorf("container:%s: %w", what, err)
		}
		if ns.Inode != cands[0].inode {
			return Namespace{}, fmt.Errorf("container:%s: pid %d changed namespace while it was resolved: try again", what, cands[0].pid)
		}
		return f.named(ns), nil
	}
	slices.Sort(ids)
	short := make([]string, len(ids))
	for i, id := range ids {
		short[i] = id[:min(12, len(id))]
	}
	return Namespace{}, fmt.Errorf("container:%s matches %d containers (%s): give more of the id",
		what, len(ids), strings.Join(short, ", "))
}

// RuntimeParent reports whether a container's cgroup path lies where its
// runtime puts containers: docker under system.slice (systemd driver) or
// /docker (cgroupfs), containerd and CRI-O under kubepods or system.slice,
// podman under machine.slice or /libpod (and a user's own slice when
// rootless, where that user owns it anyway).
func RuntimeParent(runtime, path string) bool {
	under := func(prefixes ...string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(path, p) })
	}
	switch runtime {
	case "docker":
		return under("/system.slice/docker-", "/docker/")
	case "containerd", "crio", "cri":
		return under("/kubepods", "/system.slice/")
	case "podman":
		return under("/machine.slice/", "/libpod_parent/", "/libpod/", "/user.slice/")
	}
	return false
}
