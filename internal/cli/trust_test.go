package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/internal/termsafe"
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
			if code := ExitCode(err, io.Discard); code != 1 || !strings.Contains(err.Error(), tc.want) {
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
		if code := ExitCode(err, io.Discard); code != 1 || strings.Contains(out+err.Error(), "TOPSECRET") ||
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

// hostileName is what a process may call itself (15 bytes at most): a
// terminal title change, a screen clear and a forged line.
const hostileName = "\x1b]2;PWN\a\x1b[2J\nX"

// TestIntegrationHostileProcessName: a leaking process named with escape
// codes and a newline cannot touch the terminal, in --once text or in the
// dashboard under tmux; JSON keeps its exact name.
func TestIntegrationHostileProcessName(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	leakTo := netip.MustParseAddrPort("127.0.0.7:5432")
	loadgen.Server(t, leakTo)
	pid := loadgen.StartLeaker(t, hostileName, leakTo, 15)
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(b) != hostileName+"\n" {
		t.Fatalf("the leaker is called %q", b)
	}
	escaped := termsafe.String(hostileName)
	netns.WaitFor(t, "the leak to settle in CLOSE_WAIT", func() bool {
		cw, _ := exec.Command("ss", "-tanH", "state", "close-wait").Output()
		return strings.Count(string(cw), "\n") == 15
	})

	out, _, err := runCLI(t, "--once")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(out, "\n") {
		if !termsafe.Printable(line) {
			t.Errorf("--once line %d holds a control byte: %q", i+1, line)
		}
	}
	if !strings.Contains(out, fmt.Sprintf("pid %d (%s) holds 15 CLOSE_WAIT", pid, escaped)) {
		t.Errorf("--once does not name the leaker escaped as %s:\n%s", escaped, out)
	}
	js, _, err := runCLI(t, "--once", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := json.Marshal(hostileName); !strings.Contains(js, `"command":`+string(want)) {
		t.Errorf("--json lacks the exact name %s", want)
	}

	netns.Require(t, netns.HaveTool("tmux"), "tmux is not installed")
	bin := buildBinary(t)
	s := newTmux(t)
	defer s.run("kill-server")
	state := t.TempDir()
	if out, err := s.run("new-session", "-d", "-s", "e2e", "-x", "120", "-y", "40", bin,
		"--state-file", filepath.Join(state, "b.json"), "--audit-log", filepath.Join(state, "a.log")); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	title := func() string {
		out, _ := s.run("display-message", "-p", "-t", "e2e", "#{pane_title}")
		return strings.TrimSpace(out)
	}
	s.run("send-keys", "-t", "e2e", "6")
	screen := s.waitScreen("the escaped name in the processes pane", "6 Processes", regexp.QuoteMeta(`\x1b]2;PWN\x07`))
	s.run("send-keys", "-t", "e2e", "7")
	screen += s.waitScreen("the escaped name in the findings", "7 Findings", regexp.QuoteMeta(fmt.Sprintf(`pid %d (\x1b]2;PWN`, pid)))
	if strings.Contains(title(), "PWN") {
		t.Errorf("the process name retitled the terminal: %q", title())
	}
	// Each pane's frame closes, and no line starts with the forged text.
	if strings.Contains(screen, "\nX)") || strings.Count(screen, "╰") != 2 {
		t.Errorf("the frame is broken by the name:\n%s", screen)
	}
	s.run("send-keys", "-t", "e2e", "q")
}

// TestIntegrationHostileInterfaceName: an interface named with escape codes
// (anyone with CAP_NET_ADMIN in a namespace may name one) reaches the
// output only inside link-local addresses' zones; --once, --once --json to
// a file and a recording replayed print it escaped, and the JSON still
// parses back to an address.
func TestIntegrationHostileInterfaceName(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("ip"), "ip (iproute2) is not installed")
	const ifname = "\x1b]2;PWN\a"
	for _, cmd := range [][]string{
		{"link", "add", "name", ifname, "type", "veth", "peer", "name", "hostilepeer"},
		{"link", "set", ifname, "up"}, {"link", "set", "hostilepeer", "up"},
		{"-6", "addr", "add", "fe80::1/64", "dev", ifname, "nodad"},
	} {
		if out, err := exec.Command("ip", cmd...).CombinedOutput(); err != nil {
			t.Fatalf("ip %q: %v: %s", cmd, err, out)
		}
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody answers fe80::2: the connections stay in SYN_SENT, a
	// destination group of their own.
	for range 3 {
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		sa := &unix.SockaddrInet6{Port: 8080, ZoneId: uint32(ifi.Index), Addr: netip.MustParseAddr("fe80::2").As16()}
		if err := unix.Connect(fd, sa); err != unix.EINPROGRESS {
			t.Fatalf("connect: %v", err)
		}
	}
	printable := func(what, out string) {
		t.Helper()
		for i, line := range strings.Split(out, "\n") {
			if !termsafe.Printable(line) {
				t.Errorf("%s line %d holds a control byte: %q", what, i+1, line)
			}
		}
	}
	out, _, err := runCLI(t, "--once", "--top", "50")
	if err != nil {
		t.Fatal(err)
	}
	printable("--once", out)
	if !strings.Contains(out, `fe80::2%\x1b\x5d2;PWN\x07`) {
		t.Errorf("--once does not show the peer with its zone escaped:\n%s", out)
	}
	js, _, err := runCLI(t, "--once", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Endpoints []struct{ Addr string } `json:"top_remote_endpoints"`
	}
	if err := json.Unmarshal([]byte(js), &snap); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range snap.Endpoints {
		a, err := netip.ParseAddr(e.Addr)
		if err != nil {
			t.Errorf("--json endpoint %q does not parse: %v", e.Addr, err)
		}
		if a.WithZone("") == netip.MustParseAddr("fe80::2") {
			found = true
			printable("--json zone", a.Zone())
		}
	}
	if !found {
		t.Errorf("--json has no fe80::2 endpoint: %s", js)
	}

	// A recording whose zone is raw text, as a hostile file would hold it.
	dir := t.TempDir()
	rec := filepath.Join(dir, "hostile.json")
	raw := strings.Replace(strings.TrimSpace(js), `fe80::2%\\x1b\\x5d2;PWN\\x07`, `fe80::2%\u001b]2;PWN\u0007\u202e`, -1)
	if raw == strings.TrimSpace(js) {
		t.Fatalf("the JSON does not hold the escaped zone: %s", js)
	}
	if err := os.WriteFile(rec, []byte(raw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"replay", rec, "--once"}, {"replay", rec, "--summary"}} {
		out, stderr, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("%q: %v: %s", args, err, stderr)
		}
		printable(strings.Join(args[2:], " "), out)
	}
}
