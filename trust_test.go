package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationTuneFiles tries tcpdash tune the way a bad day and an
// attacker would, inside a private network and mount namespace: a full
// disk, a read-only mount, files and symlinks planted by nobody (65534) in
// a sticky world-writable directory. Every refusal is one line, exit 1,
// with no sysctl changed and nothing of a refused file printed.
func TestIntegrationTuneFiles(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.MapsOthers(), "planting another user's files needs root (a full id map)")
	base := t.TempDir()
	secret := filepath.Join(base, "secret")
	must(t, os.WriteFile(secret, []byte("TOPSECRET=1\n"), 0o600))
	before := sysctls(t)

	// A tmpfs filled to the last byte.
	full := filepath.Join(base, "full")
	must(t, os.Mkdir(full, 0o700))
	must(t, unix.Mount("tmpfs", full, "tmpfs", 0, "size=64k,mode=0700"))
	t.Cleanup(func() { unix.Unmount(full, unix.MNT_DETACH) })
	fill, _ := os.Create(filepath.Join(full, "fill"))
	for {
		if _, err := fill.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	fill.Close()
	// A read-only mount.
	ro := filepath.Join(base, "ro")
	must(t, os.Mkdir(ro, 0o700))
	must(t, unix.Mount("tmpfs", ro, "tmpfs", unix.MS_RDONLY, "mode=0700"))
	t.Cleanup(func() { unix.Unmount(ro, unix.MNT_DETACH) })
	// A sticky, world-writable directory where nobody planted links.
	sticky := filepath.Join(base, "sticky")
	must(t, os.Mkdir(sticky, 0o700))
	must(t, os.Chmod(sticky, 0o1777))
	plant := func(name string, fn func(string) error) {
		p := filepath.Join(sticky, name)
		must(t, fn(p))
		must(t, os.Lchown(p, 65534, 65534))
	}
	plant("audit.log", func(p string) error { return os.Symlink(secret, p) })
	// Our own directory, with files nobody owns or could write.
	ours := filepath.Join(base, "ours")
	must(t, os.Mkdir(ours, 0o755))
	writeAs := func(name, content string, mode os.FileMode, uid int) string {
		p := filepath.Join(ours, name)
		must(t, os.WriteFile(p, []byte(content), mode))
		must(t, os.Chmod(p, mode))
		must(t, os.Chown(p, uid, uid))
		return p
	}
	goodState := filepath.Join(ours, "state.json")
	goodAudit := filepath.Join(ours, "audit.log")
	theirsState := writeAs("theirs.json", `{"netns":"x","changes":[]}`, 0o600, 65534)
	openState := writeAs("open.json", `{"netns":"x","changes":[]}`, 0o666, 0)
	theirsConf := writeAs("theirs.conf", "kernel.core_pattern=|/tmp/x\n", 0o644, 65534)
	must(t, os.Symlink(secret, filepath.Join(ours, "link.conf")))

	set := []string{"tune", "set", "net.ipv4.tcp_fin_timeout=30", "--yes"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"full disk: state file", append(set, "--state-file", filepath.Join(full, "s.json"), "--audit-log", goodAudit), "no space left"},
		{"full disk: audit log", append(set, "--state-file", goodState, "--audit-log", filepath.Join(full, "a.log")), "no space left"},
		{"read-only: state file", append(set, "--state-file", filepath.Join(ro, "s.json"), "--audit-log", goodAudit), "read-only file system"},
		{"read-only: audit log", append(set, "--state-file", goodState, "--audit-log", filepath.Join(ro, "a.log")), "read-only file system"},
		{"sticky dir: symlinked audit log", append(set, "--state-file", goodState, "--audit-log", filepath.Join(sticky, "audit.log")), "writable by others"},
		{"sticky dir: state file", append(set, "--state-file", filepath.Join(sticky, "s.json"), "--audit-log", goodAudit), "writable by others"},
		{"state file owned by nobody", append(set, "--state-file", theirsState, "--audit-log", goodAudit), "owned by uid 65534"},
		{"state file others may write", append(set, "--state-file", openState, "--audit-log", goodAudit), "writable by others"},
		{"undo from nobody's state file", []string{"tune", "undo", "--yes", "--state-file", theirsState, "--audit-log", goodAudit}, "owned by uid 65534"},
		{"empty state file", append(set, "--state-file", "", "--audit-log", goodAudit), "--no-undo"},
		{"empty audit log", append(set, "--state-file", goodState, "--audit-log", ""), "--no-undo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runCLI(t, tc.args...)
			if code := exitCode(err, io.Discard); code != 1 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("exit %d, error %v; want 1 and %q", code, err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(out+err.Error(), "TOPSECRET") {
				t.Fatalf("the refusal spans lines or shows a refused file:\n%s\n%v", out, err)
			}
			if d := diffMaps(before, sysctls(t)); len(d) > 0 {
				t.Fatalf("sysctls changed: %v", d)
			}
			if b, err := os.ReadFile(goodState); err == nil {
				t.Fatalf("a refused batch left a record:\n%s", b)
			}
		})
	}

	// Persist: a symlink, and a file another user made, are refused
	// without showing or copying them.
	state := []string{"--state-file", goodState, "--audit-log", goodAudit}
	if _, _, err := runCLI(t, append(set, state...)...); err != nil {
		t.Fatal(err)
	}
	for _, conf := range []string{filepath.Join(ours, "link.conf"), theirsConf} {
		out, _, err := runCLI(t, append([]string{"tune", "persist", "--yes", "--file", conf}, state...)...)
		if code := exitCode(err, io.Discard); code != 1 || strings.Contains(out+err.Error(), "TOPSECRET") ||
			strings.Contains(out, "core_pattern") {
			t.Errorf("persist to %s: exit %d, %v\n%s", conf, code, err, out)
		}
	}
	if entries, _ := os.ReadDir(ours); len(entries) != 7 { // the files above, state.json, audit.log and the lock
		t.Errorf("persist left files behind: %v", entries)
	}
	// Persist keeps an existing file's mode.
	own := filepath.Join(ours, "own.conf")
	must(t, os.WriteFile(own, []byte("# mine\n"), 0o600))
	if _, _, err := runCLI(t, append([]string{"tune", "persist", "--yes", "--file", own}, state...)...); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(own); st.Mode().Perm() != 0o600 {
		t.Errorf("persist changed the file's mode to %v", st.Mode())
	}
	if b, _ := os.ReadFile(secret); string(b) != "TOPSECRET=1\n" {
		t.Errorf("the secret changed: %q", b)
	}
	if _, _, err := runCLI(t, append([]string{"tune", "undo", "--yes"}, state...)...); err != nil {
		t.Fatal(err)
	}
	if d := diffMaps(before, sysctls(t)); len(d) > 0 {
		t.Fatalf("after undo: %v", d)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
