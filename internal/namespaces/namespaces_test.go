package namespaces

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcpdash/tcpdash/internal/cgroups"
)

// fakeProc lays out processes with cgroup paths; their ns/net links point
// at this test's own namespace file, so they resolve.
func fakeProc(t *testing.T, procs map[string]string) *Finder {
	t.Helper()
	root := t.TempDir()
	docker := t.TempDir()
	for pid, cg := range procs {
		dir := filepath.Join(root, pid)
		must(t, os.MkdirAll(filepath.Join(dir, "ns"), 0o755))
		link, err := os.Readlink("/proc/self/ns/net")
		must(t, err)
		// "PATH|net:[N]" puts the process in another namespace.
		if c, l, ok := strings.Cut(cg, "|"); ok {
			cg, link = c, l
		}
		must(t, os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::"+cg+"\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "comm"), []byte("app"+pid+"\n"), 0o644))
		must(t, os.Symlink(link, filepath.Join(dir, "ns", "net")))
	}
	web := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	must(t, os.MkdirAll(filepath.Join(docker, web), 0o755))
	must(t, os.WriteFile(filepath.Join(docker, web, "config.v2.json"), []byte(`{"Name":"/web"}`), 0o644))
	return &Finder{ProcRoot: root, Namer: &cgroups.Namer{DockerDir: docker}}
}

func TestResolveContainer(t *testing.T) {
	f := fakeProc(t, map[string]string{
		"100": "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
		"101": "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
		"200": "/system.slice/docker-0123ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.scope",
		"300": "/system.slice/nginx.service",
	})
	for _, tc := range []struct{ what, pid, err string }{
		{"container:web", "100", ""},
		{"container:0123456789ab", "100", ""},
		{"container:0123", "", "matches 2 containers (0123456789ab, 0123ffffffff)"},
		{"container:dead", "", "no running container"},
		{"container:", "", "needs a container id prefix or name"},
		{"pid:x", "", "pid:N takes a process id"},
		{"", "", "needs a value"},
	} {
		ns, err := f.Resolve(tc.what)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: %v, want one line with %q", tc.what, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.what, err)
		case ns.PID == 0 || !strings.HasSuffix(ns.Path, "/"+tc.pid+"/ns/net"):
			t.Errorf("%s: %+v, want pid %s", tc.what, ns, tc.pid)
		case !strings.Contains(strings.Join(ns.Names, ","), "docker 0123456789ab"):
			t.Errorf("%s: names %q lack the container", tc.what, ns.Names)
		}
	}
}

// TestClaimedContainer: a user with a delegated cgroup subtree names a
// cgroup after a real container and puts a process of its own namespace
// there. Outside the runtime's parents it does not count; inside them, a
// container whose processes are in two namespaces is refused, naming both.
func TestClaimedContainer(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	f := fakeProc(t, map[string]string{
		"100": "/system.slice/docker-" + id + ".scope",
		"50":  "/user.slice/user-1000.slice/adv-user.slice/docker-" + id + ".scope|net:[4026599999]",
	})
	ns, err := f.Resolve("container:web")
	if err != nil || ns.PID != 100 {
		t.Errorf("a claim under a user's slice: %+v, %v; want the real container, pid 100", ns, err)
	}
	f = fakeProc(t, map[string]string{
		"100": "/system.slice/docker-" + id + ".scope",
		"50":  "/docker/" + id + "|net:[4026599999]",
	})
	_, err = f.Resolve("container:web")
	if err == nil || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), "pid 50 in net:[4026599999]") ||
		!strings.Contains(err.Error(), "pid 100") || strings.Contains(err.Error(), "\n") {
		t.Errorf("%v, want one line refusing the container as ambiguous, naming both", err)
	}
}

func TestRuntimeParent(t *testing.T) {
	for _, tc := range []struct {
		runtime, path string
		want          bool
	}{
		{"docker", "/system.slice/docker-abc.scope", true},
		{"docker", "/docker/abc", true},
		{"docker", "/user.slice/user-1000.slice/x/docker-abc.scope", false},
		{"containerd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podx.slice/cri-containerd-abc.scope", true},
		{"containerd", "/user.slice/cri-containerd-abc.scope", false},
		{"podman", "/machine.slice/libpod-abc.scope", true},
	} {
		if got := RuntimeParent(tc.runtime, tc.path); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.runtime, tc.path, got, tc.want)
		}
	}
}

func FuzzParseNetns(f *testing.F) {
	for _, s := range []string{"net:[4026531840]", "net:[]", "mnt:[1]", "net:[0]", "net:[18446744073709551616]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, ok := parseNetns(s); ok && (n == 0 || !strings.HasPrefix(s, "net:[")) {
			t.Fatalf("%q parsed as %d", s, n)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
