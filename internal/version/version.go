// Package version says which build of tcpdash this is: the release's
// version and commit when scripts/package.sh sets them with -ldflags,
// else what Go recorded (the module version, and the VCS revision of a
// build from a clone), so that a bug report can name its build.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by the release build (-ldflags "-X ..."); empty otherwise. They
// are variables because -X can set only those.
var (
	version string // v0.4.0
	commit  string // the full revision
	date    string // RFC 3339, the commit's time
)

// Info is one build.
type Info struct {
	Version  string // v0.4.0, or (devel)
	Commit   string // the revision, or empty when unknown
	Modified bool   // built from a tree with uncommitted changes
	Time     string // the commit's time, RFC 3339
	Go       string // go1.26.0
}

// Get returns this build's Info.
func Get() Info {
	i := Info{Version: "(devel)", Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Commit = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			case "vcs.time":
				i.Time = s.Value
			}
		}
	}
	if version != "" {
		i.Version = version
	}
	if commit != "" {
		i.Commit, i.Modified = commit, false
	}
	if date != "" {
		i.Time = date
	}
	return i
}

// Short is the commit's first 12 characters, with "-dirty" for a
// modified tree.
func (i Info) Short() string {
	c := i.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if c != "" && i.Modified {
		c += "-dirty"
	}
	return c
}

// String is the one line tcpdash --version prints.
func (i Info) String() string {
	parts := []string{"tcpdash " + i.Version}
	var more []string
	if c := i.Short(); c != "" {
		more = append(more, "commit "+c)
	} else {
		more = append(more, "commit unknown (not built from a clone)")
	}
	if i.Time != "" {
		more = append(more, "committed "+i.Time)
	}
	more = append(more, i.Go)
	return fmt.Sprintf("%s (%s)", strings.Join(parts, " "), strings.Join(more, ", "))
}

// Build names the build in one word: the version, and the commit when
// known (v0.4.0+0123456789ab), for recordings' headers and the exporter's
// build_info.
func (i Info) Build() string {
	if c := i.Short(); c != "" {
		return i.Version + "+" + c
	}
	return i.Version
}
