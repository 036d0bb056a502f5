// Package namespaces finds, names and enters network namespaces: the ones
// processes live in (/proc/*/ns/net), the ones ip netns names
// (/run/netns/NAME) and Docker's (/run/docker/netns/*), and the ones
// containers live in, found through their processes' cgroup paths without
// any runtime client.
package namespaces

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/cgroups"
)

// nsfsMagic is NSFS_MAGIC: namespace files live on nsfs.
const nsfsMagic = 0x6e736673

// Dirs where named namespaces are bind-mounted.
var namedDirs = []string{"/run/netns", "/var/run/netns", "/run/docker/netns"}

// A Namespace is a network namespace and what it is known by.
type Namespace struct {
	// Inode identifies it: net:[Inode].
	Inode uint64
	// Path is a file that refers to it: /run/netns/NAME, or
	// /proc/PID/ns/net of a process in it.
	Path string
	// Names are what people call it, best first: ip netns names,
	// container names, then "pid N (comm)".
	Names []string
	// PID is a process in it, 0 if none (a named namespace may be empty).
	PID int
}

// ID is the kernel's name for it, as /proc/PID/ns/net reads.
func (n Namespace) ID() string { return fmt.Sprintf("net:[%d]", n.Inode) }

// String names it for people: its best name and its ID.
func (n Namespace) String() string {
	if len(n.Names) == 0 {
		return n.ID()
	}
	return n.Names[0] + " " + n.ID()
}

// A Finder looks namespaces up under a /proc root and the named
// namespace directories; tests point both at their own trees.
type Finder struct {
	ProcRoot  string   // /proc
	NamedDirs []string // /run/netns, /var/run/netns, /run/docker/netns
	// Namer reads container and pod names.
	Namer *cgroups.Namer
}

// NewFinder looks at the live system.
func NewFinder() *Finder {
	return &Finder{ProcRoot: "/proc", NamedDirs: namedDirs, Namer: cgroups.NewNamer()}
}

// Self is the namespace tcpdash runs in.
func (f *Finder) Self() (Namespace, error) {
	return f.fromPID(os.Getpid())
}

// Resolve finds the namespace WHAT names: NAME (an ip netns name), a path
// to a namespace file, pid:N or container:ID (a container id prefix or
// name). Errors are one line naming what was not found or was ambiguous.
func (f *Finder) Resolve(what string) (Namespace, error) {
	switch {
	case what == "":
		return Namespace{}, errors.New("needs a value: NAME, a path, pid:N, container:ID or all")
	case strings.HasPrefix(what, "pid:"):
		pid, err := strconv.Atoi(strings.TrimPrefix(what, "pid:"))
		if err != nil || pid <= 0 {
			return Namespace{}, fmt.Errorf("%q: pid:N takes a process id, such as pid:4242", what)
		}
		ns, err := f.fromPID(pid)
		if err != nil {
			return Namespace{}, fmt.Errorf("%s: no such process, or its namespace cannot be read: %w", what, err)
		}
		return f.named(ns), nil
	case strings.HasPrefix(what, "container:"):
		return f.container(strings.TrimPrefix(what, "container:"))
	case strings.ContainsRune(what, '/'):
		ns, err := f.fromPath(what)
		if err != nil {
			return Namespace{}, fmt.Errorf("%s: %w", what, err)
		}
		return f.named(ns), nil
	}
	for _, dir := range f.NamedDirs {
		p := filepath.Join(dir, what)
		if ns, err := f.fromPath(p); err == nil {
			return f.named(ns), nil
		}
	}
	return Namespace{}, fmt.Errorf("%s: no network namespace of that name in %s (ip netns list shows them)",
		what, strings.Join(f.NamedDirs, ", "))
}

// fromPath reads the namespace a file refers to.
func (f *Finder) fromPath(path string) (Namespace, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return Namespace{}, err
	}
	// A network namespace file lives on nsfs; anything else is not one.
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return Namespace{}, err
	}
	if int64(sfs.Type) != nsfsMagic {
		return Namespace{}, errors.New("not a namespace file")
	}
	return Namespace{Inode: st.Ino, Path: path}, nil
}

// FromPID is the namespace process pid is in.
func (f *Finder) FromPID(pid int) (Namespace, error) { return f.fromPID(pid) }

func (f *Finder) fromPID(pid int) (Namespace, error) {
	path := filepath.Join(f.ProcRoot, strconv.Itoa(pid), "ns/net")
	link, err := os.Readlink(path)
	if err != nil {
		return Namespace{}, err
	}
	inode, ok := parseNetns(link)
	if !ok {
		return Namespace{}, fmt.Errorf("%s reads %q", path, link)
	}
	return Namespace{Inode: inode, Path: path, PID: pid}, nil
}

// parseNetns parses "net:[4026531840]".
func parseNetns(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "net:[")
	if !ok || !strings.HasSuffix(s, "]") {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
	return n, err == nil && n != 0
}

// All lists every network namespace: those of processes (one entry per
// inode) and named ones, a named namespace with no process included.
func (f *Finder) All() ([]Namespace, error) {
	byInode := map[uint64]*Namespace{}
	var order []uint64
	add := func(ns Namespace) *Namespace {
		if got, ok := byInode[ns.Inode]; ok {
			if got.PID == 0 {
				got.PID = ns.PID
			}
			return got
		}
		byInode[ns.Inode] = &ns
		order = append(order, ns.Inode)
		return &ns
	}
	for _, pid := range f.pids() {
		if ns, err := f.fromPID(pid); err == nil {
			add(ns)
		}
	}
	for _, dir := range f.NamedDirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if ns, err := f.fromPath(filepath.Join(dir, e.Name())); err == nil {
				got := add(ns)
				if got.Path != ns.Path && got.PID != 0 && strings.HasPrefix(got.Path, f.ProcRoot) {
					got.Path = ns.Path // a bind mount outlives any process
				}
			}
		}
	}
	// Named directories are read, and pid 1 looked up, once for all: per
	// namespace, 205 namespaces cost 84,731 stat calls.
	n := f.namer()
	n.scanned = true // a namespace with no pid yet has no process
	out := make([]Namespace, 0, len(order))
	for _, inode := range order {
		out = append(out, n.name(*byInode[inode]))
	}
	return out, nil
}

// pids lists the processes under ProcRoot, in order.
func (f *Finder) pids() []int {
	entries, _ := os.ReadDir(f.ProcRoot)
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// named fills in ns's names: "host" for pid 1's, ip netns names,
// container names of the processes in it, and "pid N (comm)" of the first
// process in it.
func (f *Finder) named(ns Namespace) Namespace { return f.namer().name(ns) }

// A namer names namespaces from one reading of the named directories and
// of pid 1's namespace.
type namer struct {
	f     *Finder
	host  uint64
	names map[uint64][]string // ip netns names by inode
	// scanned says every process was looked at already.
	scanned bool
}

func (f *Finder) namer() namer {
	n := namer{f: f, names: map[uint64][]string{}}
	if host, err := f.fromPID(1); err == nil {
		n.host = host.Inode
	}
	for _, dir := range f.NamedDirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			var st unix.Stat_t
			if unix.Stat(filepath.Join(dir, e.Name()), &st) == nil && !slices.Contains(n.names[st.Ino], e.Name()) {
				n.names[st.Ino] = append(n.names[st.Ino], e.Name())
			}
		}
	}
	return n
}

func (n namer) name(ns Namespace) Namespace {
	f := n.f
	ns.Names = nil
	// The namespace pid 1 is in is the host's: say so first, rather than
	// "pid 2 (kthreadd)".
	if n.host != 0 && n.host == ns.Inode {
		ns.Names = append(ns.Names, "host")
	}
	ns.Names = append(ns.Names, n.names[ns.Inode]...)
	if ns.PID == 0 && !n.scanned {
		ns.PID = f.firstPID(ns.Inode)
	}
	if ns.PID != 0 {
		if c, ok := f.containerOf(ns.PID); ok && !slices.Contains(ns.Names, c.String()) {
			ns.Names = append(ns.Names, c.String())
		}
		ns.Names = append(ns.Names, fmt.Sprintf("pid %d (%s)", ns.PID, f.comm(ns.PID)))
	}
	return ns
}

// firstPID finds the lowest pid in the namespace, 0 if none.
func (f *Finder) firstPID(inode uint64) int {
	for _, pid := range f.pids() {
		if ns, err := f.fromPID(pid); err == nil && ns.Inode == inode {
			return pid
		}
	}
	return 0
}

func (f *Finder) comm(pid int) string {
	b, err := os.ReadFile(filepath.Join(f.ProcRoot, strconv.Itoa(pid), "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
