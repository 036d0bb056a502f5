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
// matches: over random paths of runtime words, ids and near misses, a
// path without them matches no pattern.
func TestParseContainerSkipsOnlyWhatCannotMatch(t *testing.T) {
	words := []string{"docker", "dock", "cri-containerd", "containe", "crio", "cri", "libpod", "lib", "pod", "po",
		"kubepods", "burstable", "system.slice", "user.slice", ".scope", "-", "_", "/", ".slice",
		"0123456789ab", strings.Repeat("f", 64), "3f1c2d4e-5a6b-7c8d-9e0f-a1b2c3d4e5f6", "3f1c2d4e_5a6b_7c8d_9e0f_a1b2c3d4e5f6"}
	rng := rand.New(rand.NewPCG(1, 2))
	re := patterns()
	skipped := 0
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			b.WriteString(words[rng.IntN(len(words))])
		}
		p := b.String()
		if !mayName(p) {
			skipped++
			if re.scope.MatchString(p) || re.plain.MatchString(p) || re.pod.MatchString(p) {
				t.Fatalf("%q matches a pattern but is skipped", p)
			}
			if _, ok := ParseContainer(p); ok {
				t.Fatalf("%q: a container", p)
			}
		}
	}
	if skipped < 1000 {
		t.Fatalf("only %d paths without the words: the test tries too few", skipped)
	}
}
