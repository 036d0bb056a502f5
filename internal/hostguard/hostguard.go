// Package hostguard makes a test binary fail if it changed any of the
// host's known sysctls. Tests may write sysctls only inside private
// network namespaces or temporary directories; this checks they did.
package hostguard

import (
	"fmt"
	"os"
	"testing"

	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/tuning"
)

// Main runs the tests and compares every known tunable under /proc/sys
// before and after. Inside a test namespace it only runs the tests: there
// the values are the namespace's own and meant to change.
func Main(m *testing.M) {
	if netns.Inside() {
		os.Exit(m.Run())
	}
	before, err := read()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostguard: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	after, err := read()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostguard: %v\n", err)
		os.Exit(1)
	}
	for k, v := range before {
		if after[k] != v {
			fmt.Fprintf(os.Stderr, "hostguard: the tests changed the host's %s from %q to %q\n", k, v, after[k])
			code = 1
		}
	}
	os.Exit(code)
}

func read() (map[string]string, error) {
	settings, err := tuning.New(tuning.Options{}).Settings()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range settings {
		if s.Exists {
			out[s.Key] = s.Value
		}
	}
	return out, nil
}
