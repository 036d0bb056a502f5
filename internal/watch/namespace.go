package watch

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/tcpdash/tcpdash/internal/cgroups"
	"github.com/tcpdash/tcpdash/internal/conntrack"
	"github.com/tcpdash/tcpdash/internal/namespaces"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// A Namespace is the network namespace a mode looks at and tunes:
// tcpdash's own, or another, held open (Handle) to enter it.
type Namespace struct {
	NS     namespaces.Namespace
	Handle *namespaces.Handle // nil for tcpdash's own namespace
}

// ID is the namespace's id: net:[inode].
func (w *Namespace) ID() string { return w.NS.ID() }

// Open resolves what (a name, a path, pid:N or container:ID; empty for
// tcpdash's own) and holds the namespace open. Nothing is opened when it
// does not resolve.
func Open(what string) (*Namespace, error) {
	f := namespaces.NewFinder()
	self, err := f.Self()
	if err != nil {
		return nil, fmt.Errorf("own network namespace: %w", err)
	}
	if what == "" {
		return &Namespace{NS: self}, nil
	}
	ns, err := f.Resolve(what)
	if err != nil {
		return nil, err
	}
	if ns.Inode == self.Inode {
		return &Namespace{NS: ns}, nil
	}
	h, err := namespaces.Enter(ns)
	if err != nil {
		return nil, err
	}
	return &Namespace{NS: ns, Handle: h}, nil
}

// CgroupResolver names the cgroups in snapshots; without a cgroup2 mount
// they stay ids (a cgroup-v1-only host reports the root for every socket).
// The mount is looked for when the first name is asked: a snapshot with no
// socket to name, an empty namespace's or a filter's that matched none,
// reads no mountinfo.
func CgroupResolver() tcpinfo.CgroupResolver { return &lazyCgroups{} }

type lazyCgroups struct {
	once sync.Once
	r    *cgroups.Resolver // nil: no cgroup2 mount
}

func (l *lazyCgroups) Resolve(id uint64) (path, name string, ok bool) {
	l.once.Do(func() { l.r, _ = cgroups.NewResolver() })
	if l.r == nil {
		return "", "", false
	}
	return l.r.Resolve(id)
}

// Settings reads the sysctls that findings give advice about; without
// them the advice is only less specific. Reading needs no state file,
// audit log or identity.
func (w *Namespace) Settings() []tuning.Setting {
	s, _ := tuning.New(tuning.Options{InNamespace: w.InNamespace()}).Settings()
	return s
}

// OwnersReader walks /proc for who holds which socket in the namespace.
func (w *Namespace) OwnersReader() func() (*tcpinfo.Owners, error) {
	id := w.NS.ID()
	return func() (*tcpinfo.Owners, error) { return tcpinfo.ReadOwnersIn("/proc", id) }
}

func (w *Namespace) Close() {
	if w.Handle != nil {
		w.Handle.Close()
	}
}

// CollectorNamespace is what tcpinfo needs; nil for tcpdash's own.
func (w *Namespace) CollectorNamespace() tcpinfo.Namespace {
	if w.Handle == nil {
		return nil
	}
	return w.Handle
}

// Collector opens a collector on the watched namespace that names
// cgroups; o says the rest.
func (w *Namespace) Collector(o tcpinfo.Options) (*tcpinfo.Collector, error) {
	o.Namespace, o.Cgroups = w.CollectorNamespace(), CgroupResolver()
	fd := 0
	if w.Handle != nil {
		fd = w.Handle.NetNSFD()
	}
	o.Conntrack = conntrack.New(fd, w.InNamespace())
	return tcpinfo.NewCollector(o)
}

// InNamespace runs sysctl I/O inside the watched namespace.
func (w *Namespace) InNamespace() func(func() error) error {
	if w.Handle == nil {
		return nil
	}
	return w.Handle.Do
}

// String names the namespace for headers: "web net:[4026532180]".
func (w *Namespace) String() string { return w.NS.String() }

// Describe names it fully, for confirmations of a change: every name —
// the container, the process in it and its pid — then its id:
// "docker 0123456789ab (web), pid 4242 (nginx) net:[4026532180]".
func (w *Namespace) Describe() string {
	if len(w.NS.Names) == 0 {
		return w.NS.ID()
	}
	return strings.Join(w.NS.Names, ", ") + " " + w.NS.ID()
}

// LabelAlways names the namespace in a snapshot, tcpdash's own too.
func (w *Namespace) LabelAlways(s *tcpinfo.Snapshot) {
	s.Netns, s.Names = w.NS.ID(), w.NS.Names
}

// Label says in a snapshot which namespace it is of, when --netns chose
// one: scripts that watch several can tell the lines apart.
func (w *Namespace) Label(s *tcpinfo.Snapshot) {
	if w.Handle != nil {
		w.LabelAlways(s)
	}
}

// Cookie is the namespace's SO_NETNS_COOKIE, 0 where the kernel lacks it.
func (w *Namespace) Cookie() uint64 {
	c, _ := namespaces.Cookie(w.InNamespace())
	return c
}

// StateFile keeps each namespace's batches apart: the default state file
// of a namespace other than the host's carries its cookie (its inode where
// the kernel has no cookies), so a batch left in a namespace that is gone
// blocks no other, and one that reuses its inode never finds it. The host
// is pid 1's namespace; under ip netns exec tcpdash's own is not.
func (w *Namespace) StateFile(path, dflt string) string {
	if path != dflt || (w.Handle == nil && !w.NotHost()) {
		return path
	}
	ext := filepath.Ext(path)
	key := strconv.FormatUint(w.NS.Inode, 10)
	if c := w.Cookie(); c != 0 {
		key = "c" + strconv.FormatUint(c, 10)
	}
	return fmt.Sprintf("%s.%s%s", strings.TrimSuffix(path, ext), key, ext)
}

// NotHost reports whether the watched namespace is known not to be pid
// 1's; false where that cannot be read.
func (w *Namespace) NotHost() bool {
	host, err := namespaces.NewFinder().FromPID(1)
	return err == nil && host.Inode != w.NS.Inode
}
