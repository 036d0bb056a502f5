package cli

import (
	"errors"
	"flag"
	"fmt"

	"github.com/tcpdash/tcpdash/internal/watch"
)

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
func openWatched(n netnsChoice) (*watch.Namespace, error) {
	if n.all {
		return nil, errors.New("--netns all: this mode acts on one namespace at a time; pick one with --netns NAME, pid:N or container:ID")
	}
	w, err := watch.Open(n.what)
	if err != nil {
		return nil, fmt.Errorf("--netns %w", err) // the libraries do not know their flag
	}
	return w, nil
}
