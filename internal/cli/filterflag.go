package cli

import (
	"flag"

	"github.com/tcpdash/tcpdash/internal/cgroups"
	"github.com/tcpdash/tcpdash/internal/filter"
)

// registerFilter adds --filter, parsed (and its cgroup paths resolved) as
// the flags are.
func registerFilter(fs *flag.FlagSet, f **filter.Filter) {
	fs.Func("filter", "", func(expr string) error {
		parsed, err := parseFilter(expr)
		if err != nil {
			return err
		}
		*f = parsed
		return nil
	})
}

// parseFilter parses an expression and gives its cgroup paths their ids.
func parseFilter(expr string) (*filter.Filter, error) {
	f, err := filter.Parse(expr)
	if err != nil {
		return nil, err
	}
	if f.String() == "" {
		return nil, nil // an empty filter selects everything: no filter
	}
	err = f.ResolveCgroups(func(path string) (uint64, error) {
		r, err := cgroups.NewResolver()
		if err != nil {
			return 0, err
		}
		return r.ID(path)
	})
	return f, err
}
