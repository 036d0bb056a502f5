package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const leakEnv = "TCPDASH_LEAK_TO"

// MaybeLeak turns the process into a leaker when StartLeaker started it:
// it connects to the address N times, says so, and holds the sockets,
// never closing them, until its stdin closes. Call it first in TestMain.
func MaybeLeak() {
	to := os.Getenv(leakEnv)
	if to == "" {
		return
	}
	ap, err := netip.ParseAddrPort(to)
	n, err2 := strconv.Atoi(os.Getenv(leakEnv + "_N"))
	if err != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "leaker: bad environment")
		os.Exit(2)
	}
	if every, err := time.ParseDuration(os.Getenv(leakEnv + "_EVERY")); err == nil {
		size, _ := strconv.Atoi(os.Getenv(leakEnv + "_POOL"))
		drip(ap, n, every, size)
	}
	var fds []int
	for i := range n {
		fd, err := unix.Socket(family(ap), unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Connect(fd, sockaddr(ap))
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "leaker: connection %d: %v\n", i, err)
			os.Exit(1)
		}
		fds = append(fds, fd)
	}
	fmt.Println("ready")
	// "close" closes the connections and goes on living (a client that
	// closes first); end of input ends the process.
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "close" {
			for _, fd := range fds {
				unix.Close(fd)
			}
			fds = nil
		}
	}
	os.Exit(0)
}

// drip lowers the soft RLIMIT_NOFILE to nofile, says "ready", then leaks
// a connection every `every` until socket() fails with EMFILE, says when
// ("emfile UNIXNANO"), and holds what it has until its stdin closes. With
// a pool size, it stops at that many connections instead, as a pool that
// has filled up, and says when ("full UNIXNANO").
func drip(ap netip.AddrPort, nofile int, every time.Duration, pool int) {
	lim := unix.Rlimit{Cur: uint64(nofile), Max: uint64(nofile)}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "leaker:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	for held := 0; ; held++ {
		if pool > 0 && held == pool {
			fmt.Printf("full %d\n", time.Now().UnixNano())
			break
		}
		fd, err := unix.Socket(family(ap), unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == unix.EMFILE {
			fmt.Printf("emfile %d\n", time.Now().UnixNano())
			break
		}
		if err == nil {
			err = unix.Connect(fd, sockaddr(ap))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "leaker:", err)
			os.Exit(1)
		}
		time.Sleep(every)
	}
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// StartDripper runs the test binary, under the command name name, as a
// process whose soft RLIMIT_NOFILE is nofile and that leaks a connection
// to to every `every` until EMFILE; the channel gets the time it did.
func StartDripper(t *testing.T, name string, to netip.AddrPort, every time.Duration, nofile int) (pid int, emfile <-chan time.Time) {
	t.Helper()
	return startDrip(t, name, to, every, nofile, 0, "emfile")
}

// StartPool runs the test binary, under the command name name, as a
// process whose soft RLIMIT_NOFILE is nofile and that opens a connection
// to to every `every` until it holds size of them, and then holds them:
// a connection pool filling up. The channel gets the time it was full.
func StartPool(t *testing.T, name string, to netip.AddrPort, every time.Duration, nofile, size int) (pid int, full <-chan time.Time) {
	t.Helper()
	return startDrip(t, name, to, every, nofile, size, "full")
}

func startDrip(t *testing.T, name string, to netip.AddrPort, every time.Duration, nofile, pool int, event string) (int, <-chan time.Time) {
	t.Helper()
	pid, _, r := startLeaker(t, name, "", leakEnv+"="+to.String(), leakEnv+"_N="+strconv.Itoa(nofile),
		leakEnv+"_EVERY="+every.String(), leakEnv+"_POOL="+strconv.Itoa(pool))
	ch := make(chan time.Time, 1)
	go func() {
		var ns int64
		if line, err := r.ReadString('\n'); err == nil {
			if _, err := fmt.Sscanf(line, event+" %d", &ns); err == nil {
				ch <- time.Unix(0, ns)
			}
		}
		close(ch)
	}()
	return pid, ch
}

// startLeaker runs the test binary under the command name name, in the
// cgroup directory cgroup when not empty, with env, and waits for its
// "ready": what every leaker shares. It returns its stdin (closing it ends
// the process) and the rest of its output.
func startLeaker(t *testing.T, name, cgroup string, env ...string) (pid int, stdin io.WriteCloser, out *bufio.Reader) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link)
	if cgroup != "" {
		cmd = exec.Command("sh", "-c", `echo $$ > "$1/cgroup.procs" && exec "$2"`, "sh", cgroup, link)
	}
	cmd.Env = append(os.Environ(), env...)
	in, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	r := bufio.NewReader(stdout)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("leaker: %q, %v", line, err)
	}
	return cmd.Process.Pid, in, r
}

// StartLeaker runs the test binary, under the command name name, as a
// process that opens n connections to to and never closes them. When the
// peer closes its side they sit in CLOSE_WAIT: a leak, as from an
// application that forgets to close connections.
func StartLeaker(t *testing.T, name string, to netip.AddrPort, n int) (pid int) {
	t.Helper()
	pid, _ = StartLeakerIn(t, name, to, n, "")
	return pid
}

// StartLeakerIn is StartLeaker with the process moved into the cgroup
// directory cgroup (when not empty) before it opens any socket: a socket
// is tagged with its creator's cgroup at creation. Writing "close\n" to
// the returned stdin closes its connections (first, on its side) while it
// lives on; closing stdin ends it.
func StartLeakerIn(t *testing.T, name string, to netip.AddrPort, n int, cgroup string) (pid int, stdin io.WriteCloser) {
	t.Helper()
	pid, stdin, _ = startLeaker(t, name, cgroup, leakEnv+"="+to.String(), leakEnv+"_N="+strconv.Itoa(n))
	return pid, stdin
}

// Server listens on at and closes every connection it accepts at once,
// so that peers that never close theirs sit in CLOSE_WAIT. It runs until
// the test ends.
func Server(t *testing.T, at netip.AddrPort) {
	t.Helper()
	serve(t, at, func(fd int) { unix.Close(fd) })
}
