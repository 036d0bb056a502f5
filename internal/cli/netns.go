package cli

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tcpdash/tcpdash/internal/namespaces"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// A watched namespace is the one a mode looks at and tunes: tcpdash's own,
// or the one --netns names, held open on a thread inside it.
type watched struct {
	ns     namespaces.Namespace
	handle *namespaces.Handle // nil for tcpdash's own namespace
}

// A netnsChoice is --netns, parsed once: tcpdash's own namespace (the
// zero value), every namespace (all), or the one a name, path, pid or
// container resolves to.
type netnsChoice struct {
	what string // as typed, to resolve and to repeat in hints
	all  bool
}

func (n *netnsChoice) Set(s string) error {
	if s == "" {
		return errors.New("needs a value: NAME, a path, pid:N, container:ID or all")
	}
	n.what, n.all = s, s == "all"
	return nil
}

func (n *netnsChoice) String() string {
	if n == nil {
		return ""
	}
	return n.what
}

func registerNetns(fs *flag.FlagSet, n *netnsChoice) {
	fs.Var(n, "netns", "")
}

// openWatched resolves --netns and enters the namespace. Nothing is opened when
// it does not resolve.
func openWatched(n netnsChoice) (*watched, error) {
	f := namespaces.NewFinder()
	self, err := f.Self()
	if err != nil {
		return nil, fmt.Errorf("own network namespace: %w", err)
	}
	switch {
	case n.all:
		return nil, errors.New("--netns all: this mode acts on one namespace at a time; pick one with --netns NAME, pid:N or container:ID")
	case n.what == "":
		return &watched{ns: self}, nil
	}
	ns, err := f.Resolve(n.what)
	if err != nil {
		return nil, fmt.Errorf("--netns %w", err) // the library does not know its flag
	}
	if ns.Inode == self.Inode {
		return &watched{ns: ns}, nil
	}
	h, err := namespaces.Enter(ns)
	if err != nil {
		return nil, err
	}
	return &watched{ns: ns, handle: h}, nil
}

func (w *watched) Close() {
	if w.handle != nil {
		w.handle.Close()
	}
}

// collectorNamespace is what tcpinfo needs; nil for tcpdash's own.
func (w *watched) collectorNamespace() tcpinfo.Namespace {
	if w.handle == nil {
		return nil
	}
	return w.handle
}

// collector opens a collector on the watched namespace that names
// cgroups; o says the rest.
func (w *watched) collector(o tcpinfo.Options) (*tcpinfo.Collector, error) {
	o.Namespace, o.Cgroups = w.collectorNamespace(), cgroupResolver()
	return tcpinfo.NewCollector(o)
}

// inNamespace runs sysctl I/O inside the watched namespace.
func (w *watched) inNamespace() func(func() error) error {
	if w.handle == nil {
		return nil
	}
	return w.handle.Do
}

// String names the namespace for headers: "web net:[4026532180]".
func (w *watched) String() string { return w.ns.String() }

// Describe names it fully, for confirmations of a change: every name —
// the container, the process in it and its pid — then its id:
// "docker 0123456789ab (web), pid 4242 (nginx) net:[4026532180]".
func (w *watched) Describe() string {
	if len(w.ns.Names) == 0 {
		return w.ns.ID()
	}
	return strings.Join(w.ns.Names, ", ") + " " + w.ns.ID()
}

// labelAlways names the namespace in a snapshot, tcpdash's own too.
func (w *watched) labelAlways(s *tcpinfo.Snapshot) {
	s.Netns, s.Names = w.ns.ID(), w.ns.Names
}

// label says in a snapshot which namespace it is of, when --netns chose
// one: scripts that watch several can tell the lines apart.
func (w *watched) label(s *tcpinfo.Snapshot) {
	if w.handle != nil {
		w.labelAlways(s)
	}
}

// cookie is the namespace's SO_NETNS_COOKIE, 0 where the kernel lacks it.
func (w *watched) cookie() uint64 {
	c, _ := namespaces.Cookie(w.inNamespace())
	return c
}

// stateFile keeps each namespace's batches apart: the default state file
// of a namespace other than the host's carries its cookie (its inode where
// the kernel has no cookies), so a batch left in a namespace that is gone
// blocks no other, and one that reuses its inode never finds it. The host
// is pid 1's namespace; under ip netns exec tcpdash's own is not.
func (w *watched) stateFile(path, dflt string) string {
	if path != dflt || (w.handle == nil && !w.notHost()) {
		return path
	}
	ext := filepath.Ext(path)
	key := strconv.FormatUint(w.ns.Inode, 10)
	if c := w.cookie(); c != 0 {
		key = "c" + strconv.FormatUint(c, 10)
	}
	return fmt.Sprintf("%s.%s%s", strings.TrimSuffix(path, ext), key, ext)
}

// notHost reports whether the watched namespace is known not to be pid
// 1's; false where that cannot be read.
func (w *watched) notHost() bool {
	host, err := namespaces.NewFinder().FromPID(1)
	return err == nil && host.Inode != w.ns.Inode
}
