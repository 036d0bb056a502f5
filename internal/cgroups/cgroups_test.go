package cgroups

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseContainer(t *testing.T) {
	id := "3f1c2a4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"
	pod := "7c0e2a1b-1111-2222-3333-444455556666"
	for path, want := range map[string]string{
		"/system.slice/docker-" + id + ".scope":  "docker 3f1c2a4b5d6e",
		"/docker/" + id:                          "docker 3f1c2a4b5d6e",
		"/machine.slice/libpod-" + id + ".scope": "podman 3f1c2a4b5d6e",
		"/system.slice/crio-" + id + ".scope":    "crio 3f1c2a4b5d6e",
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(pod, "-", "_") + ".slice/cri-containerd-" + id + ".scope": "containerd 3f1c2a4b5d6e (pod " + pod + ")",
		"/kubepods/burstable/pod" + pod + "/" + id: "cri 3f1c2a4b5d6e (pod " + pod + ")",
		"/kubepods/burstable/pod" + pod:            "pod " + pod,
		"/system.slice/nginx.service":              "",
		"/":                                        "",
	} {
		c, ok := ParseContainer(path)
		if got := map[bool]string{true: c.String(), false: ""}[ok]; got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	logs := t.TempDir()
	pod := "7c0e2a1b-1111-2222-3333-444455556666"
	if err := os.Mkdir(filepath.Join(logs, "default_api-7d9f_"+pod), 0o755); err != nil {
		t.Fatal(err)
	}
	n := &Namer{PodLogDir: logs}
	for path, want := range map[string]string{
		"/system.slice/nginx.service": "nginx.service",
		"/":                           "/",
		"/kubepods/burstable/pod" + pod + "/3f1c2a4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8": "pod default/api-7d9f cri 3f1c2a4b5d6e",
	} {
		if got := n.Name(path); got != want {
			t.Errorf("Name(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestFindMount(t *testing.T) {
	mi := filepath.Join(t.TempDir(), "mountinfo")
	os.WriteFile(mi, []byte("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n41 31 0:38 /sub /sys/fs/cgroup/uni\\040fied rw,relatime - cgroup2 cgroup2 rw\n"), 0o644)
	mount, root, err := FindMount(mi)
	if err != nil || mount != "/sys/fs/cgroup/uni fied" || root != "/sub" {
		t.Errorf("FindMount: %q %q %v", mount, root, err)
	}
	os.WriteFile(mi, []byte("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"), 0o644)
	if _, _, err := FindMount(mi); err == nil {
		t.Error("no cgroup2 mount must be an error")
	}
}

func FuzzParseContainer(f *testing.F) {
	for _, s := range []string{"/system.slice/docker-0123456789abcdef.scope", "/kubepods/podx/abc", "/", "docker-.scope"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if c, ok := ParseContainer(path); ok {
			if c.ID == "" && c.PodUID == "" {
				t.Fatalf("%q: ok with nothing found", path)
			}
			_ = c.String() + c.Short()
		}
	})
}

func FuzzFindMount(f *testing.F) {
	f.Add("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n")
	f.Add("x - cgroup2\n")
	f.Add("1 2 3 4 5 - cgroup2 a b\n")
	f.Fuzz(func(t *testing.T, content string) {
		mi := filepath.Join(t.TempDir(), "mountinfo")
		if err := os.WriteFile(mi, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if mount, _, err := FindMount(mi); err == nil && mount == "" && !strings.Contains(content, " - cgroup2") {
			t.Fatalf("a mount from nothing: %q", content)
		}
	})
}

// TestParseContainerSkipsOnlyWhatCannotMatch: the words ParseContainer
// looks for before compiling its patterns are in every path a pattern
// matches. Real runtimes' paths, each also cut, with a character dropped
// or changed, give what the patterns alone give.
func TestParseContainerSkipsOnlyWhatCannotMatch(t *testing.T) {
	id := strings.Repeat("3f1c2a4b", 8)
	uid := "7c0e2a1b-1111-2222-3333-444455556666"
	paths := []string{
		"/system.slice/docker-" + id + ".scope", "/docker/" + id, "/machine.slice/libpod-" + id + ".scope",
		"/libpod/" + id, "/system.slice/crio-" + id + ".scope", "/crio/" + id,
		"/system.slice/cri-containerd-" + id + ".scope", "/cri-containerd/" + id,
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/cri-containerd-" + id + ".scope",
		"/kubepods/burstable/pod" + uid + "/" + id, "/kubepods/besteffort/pod" + uid,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	matched := 0
	for range 20000 {
		p := []byte(paths[rng.IntN(len(paths))])
		switch rng.IntN(4) {
		case 0: // as it is
		case 1: // a character dropped
			i := rng.IntN(len(p))
			p = append(p[:i:i], p[i+1:]...)
		case 2: // a character changed
			p[rng.IntN(len(p))] = "-_/.apdoc0"[rng.IntN(10)]
		case 3: // cut
			p = p[rng.IntN(len(p)):]
		}
		got, gotOK := ParseContainer(string(p))
		want, wantOK := matchContainer(string(p))
		if got != want || gotOK != wantOK {
			t.Fatalf("%q: %+v %v, the patterns alone %+v %v", p, got, gotOK, want, wantOK)
		}
		if wantOK {
			matched++
		}
	}
	if matched < 5000 {
		t.Fatalf("only %d paths named a container: the test tries too few", matched)
	}
}
