package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestResolveByHandle makes scratch cgroups on the real cgroup2 mount and
// resolves their ids: opened by handle (no walk), and by a walk where
// handles are refused, to the same paths; a removed cgroup resolves to
// nothing, without a walk.
func TestResolveByHandle(t *testing.T) {
	r, err := NewResolver()
	netns.Require(t, err == nil, "no cgroup2 mount here")
	netns.Require(t, !strings.HasPrefix(r.Mount, "/proc/"), "the cgroup2 mount is not in this mount namespace")
	scratch := filepath.Join(r.Mount, fmt.Sprintf("tcpdash-resolve-%d", os.Getpid()))
	dirs := []string{scratch, filepath.Join(scratch, "kubepods"), filepath.Join(scratch, "kubepods", "pod 1"),
		filepath.Join(scratch, "docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab.scope")}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			netns.Require(t, false, "cannot make a scratch cgroup (needs root): "+err.Error())
		}
	}
	t.Cleanup(func() {
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
	})
	walker := &Resolver{Mount: r.Mount, Root: r.Root, Namer: &Namer{}, rewalkAt: time.Second, handles: handlesRefused}
	r.Namer = &Namer{}
	for _, d := range dirs {
		rel, _ := filepath.Rel(r.Mount, d)
		want := filepath.Join(r.Root, "/", rel)
		id, err := r.ID(want)
		if err != nil {
			t.Fatal(err)
		}
		path, name, ok := r.Resolve(id)
		if !ok || path != want || name != walker.Namer.Name(want) {
			t.Errorf("by handle: %d = %q %q %v, want %q", id, path, name, ok, want)
		}
		if r.handles != handlesWork || !r.walked.IsZero() {
			t.Fatalf("resolving %s walked the hierarchy (handles %d)", want, r.handles)
		}
		if path, _, ok := walker.Resolve(id); !ok || path != want {
			t.Errorf("by walking: %d = %q %v, want %q", id, path, ok, want)
		}
	}
	gone := dirs[len(dirs)-1]
	rel, _ := filepath.Rel(r.Mount, gone)
	id, err := r.ID(filepath.Join(r.Root, "/", rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	fresh := &Resolver{Mount: r.Mount, Root: r.Root, Namer: &Namer{}, rewalkAt: time.Second}
	fresh.Resolve(mustID(t, fresh, dirs[0])) // handles work here
	if path, _, ok := fresh.Resolve(id); ok || !fresh.walked.IsZero() {
		t.Errorf("a removed cgroup resolved to %q (walked: %v)", path, !fresh.walked.IsZero())
	}
	if _, noted := fresh.missing[id]; !noted {
		t.Error("a removed cgroup's id is not remembered as missing: each poll would look for it again")
	}
}

func mustID(t *testing.T, r *Resolver, dir string) uint64 {
	t.Helper()
	rel, _ := filepath.Rel(r.Mount, dir)
	id, err := r.ID(filepath.Join(r.Root, "/", rel))
	if err != nil {
		t.Fatal(err)
	}
	return id
}
