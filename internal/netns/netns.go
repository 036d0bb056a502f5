// Package netns runs code inside a private user and network namespace, so
// tests and benchmarks can build socket populations and change sysctls
// without touching the host. It needs no root: an unprivileged user
// namespace owns the network namespace.
package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// envKey marks a process that was started inside its own namespace; its
// value names what to run there.
const envKey = "TCPDASH_NETNS"

// Inside reports whether this process was started by Command or Run in a
// private namespace.
func Inside() bool { return os.Getenv(envKey) != "" }

// Command returns cmd set up to start in a new user, network and mount
// namespace, mapped to root inside so that it may change the namespace's
// sysctls and mount file systems of its own (a full tmpfs, a read-only
// bind) that no one outside sees.
func Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), envKey+"=command")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// The namespace and its sockets go away with the process that
		// made them, however it ends.
		Pdeathsig:   syscall.SIGKILL,
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
		UidMappings: idMap(os.Getuid()),
		GidMappings: idMap(os.Getgid()),
	}
	return cmd
}

// idMap maps the caller to root inside. Real root maps the first 65,536
// ids one to one as well, so tests can plant files owned by another user
// (nobody, 65534); anyone else maps only themselves.
func idMap(id int) []syscall.SysProcIDMap {
	if os.Geteuid() == 0 && id == 0 {
		return []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	}
	return []syscall.SysProcIDMap{{ContainerID: 0, HostID: id, Size: 1}}
}

// MapsOthers reports whether this namespace has users besides root, so a
// test can plant files owned by nobody (65534).
func MapsOthers() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) >= 3 && f[2] != "1"
}

// Require fails the test when TCPDASH_REQUIRE_NETNS is set, and skips it
// otherwise: for what a test needs from the machine (root, a tool). A
// skip is said on the terminal too: go test hides a passing package's
// output, and "ok" must not pass for a test of the real thing that never
// ran.
func Require(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("TCPDASH_REQUIRE_NETNS") != "" {
		t.Fatalf("%s (TCPDASH_REQUIRE_NETNS is set)", what)
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		fmt.Fprintf(tty, "tcpdash: skipped %s: %s (TCPDASH_REQUIRE_NETNS=1 makes it fail)\n", t.Name(), what)
		tty.Close()
	}
	t.Skip(what)
}

// Run makes the calling test run inside a private namespace. In the parent
// it re-executes the test binary for just this test in a new namespace,
// reports the child's result as its own, and returns false: the caller
// returns. In the child it brings up loopback and returns true: the caller
// goes on with the test body. It must be called from a top-level test.
func Run(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envKey) == t.Name() {
		if err := LoopbackUp(); err != nil {
			t.Fatalf("bring up loopback in namespace: %v", err)
		}
		return true
	}
	if Inside() {
		t.Fatalf("netns.Run(%s) inside the namespace of another test", t.Name())
	}
	args := []string{"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.v", "-test.count=1"}
	cmd := Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envKey+"="+t.Name())
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		// CI sets TCPDASH_REQUIRE_NETNS so that a machine without user
		// namespaces fails loudly instead of skipping every kernel test.
		if os.Getenv("TCPDASH_REQUIRE_NETNS") != "" {
			t.Fatalf("network namespaces unavailable (TCPDASH_REQUIRE_NETNS is set): %v", err)
		}
		t.Skipf("network namespaces unavailable here: %v", err)
	}
	text := string(out)
	switch {
	case strings.Contains(text, "--- PASS: "+t.Name()) && err == nil:
		if testing.Verbose() {
			t.Logf("in namespace:\n%s", indent(text))
		}
	case strings.Contains(text, "--- SKIP: "+t.Name()) && err == nil:
		t.Skipf("skipped in namespace:\n%s", indent(text))
	default:
		t.Fatalf("in namespace (%v):\n%s", err, indent(text))
	}
	return false
}

func indent(s string) string { return "\t" + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n\t") }

// LoopbackUp brings up lo, which a new network namespace starts with down.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// Nft runs each nft command inside the namespace (tables, chains, rules
// made of words), failing the test with nft's own message.
func Nft(t testing.TB, cmds ...string) {
	t.Helper()
	for _, cmd := range cmds {
		if out, err := exec.Command("nft", strings.Fields(cmd)...).CombinedOutput(); err != nil {
			t.Fatalf("nft %s: %v: %s", cmd, err, out)
		}
	}
}

// HaveTool says whether a program the tests compare with (ss, nstat,
// tmux, prometheus) is on PATH; with Require, a test that needs it fails
// in CI and skips elsewhere.
func HaveTool(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// WaitFor polls cond until it holds, failing t after 10 seconds.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
