package cli

import (
	"errors"
	"flag"
	"fmt"

	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// A NetnsChoice is --netns, parsed once: tcpdash's own namespace (the
// zero value), every namespace (all), or the one a name, path, pid or
// container resolves to.
type NetnsChoice struct {
	what string // as typed, to resolve and to repeat in hints
	all  bool
}

func (n *NetnsChoice) Set(s string) error {
	if s == "" {
		return errors.New("needs a value: NAME, a path, pid:N, container:ID or all")
	}
	n.what, n.all = s, s == "all"
	return nil
}

// All says whether it is every namespace.
func (n NetnsChoice) All() bool { return n.all }

func (n *NetnsChoice) String() string {
	if n == nil {
		return ""
	}
	return n.what
}

func registerNetns(fs *flag.FlagSet, n *NetnsChoice) {
	fs.Var(n, "netns", "")
}

// openWatched resolves --netns and enters the namespace. Nothing is opened when
// it does not resolve.
func openWatched(n NetnsChoice) (*watch.Namespace, error) {
	if n.all {
		return nil, errors.New("--netns all: this mode acts on one namespace at a time; pick one with --netns NAME, pid:N or container:ID")
	}
	w, err := watch.Open(n.what)
	if err != nil {
		return nil, fmt.Errorf("--netns %w", err) // the libraries do not know their flag
	}
	return w, nil
}

// A Watching is one namespace entered, a collector polling it, and the
// eBPF source naming its openers: what record and the exporter watch.
type Watching struct {
	NS  *watch.Namespace
	Col *tcpinfo.Collector
	src openerSource
}

// OpenWatching enters the namespace n names and opens a collector there
// with o, its openers from the eBPF source m asks for. Nothing stays open
// when it fails.
func OpenWatching(n NetnsChoice, m EBPFMode, o tcpinfo.Options) (*Watching, error) {
	w, err := openWatched(n)
	if err != nil {
		return nil, err
	}
	src, err := loadOpeners(m)
	if err != nil {
		w.Close()
		return nil, err
	}
	col, err := w.Collector(src.options(o, w))
	if err != nil {
		src.Close()
		w.Close()
		return nil, err
	}
	return &Watching{NS: w, Col: col, src: src}, nil
}

// Close closes the collector, the source and the namespace, in that order.
func (w *Watching) Close() {
	w.Col.Close()
	w.src.Close()
	w.NS.Close()
}
