package openers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/namespaces"
	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// churnEnv makes the test binary a churner in a namespace of its own: it
// opens and closes connections at the rate it names, says how many, and
// holds the namespace (and its TIME_WAIT) until its stdin closes.
const churnEnv = "TCPDASH_OPENERS_CHURN"

var (
	churnTo   = netip.MustParseAddrPort("127.0.0.9:3306")
	refusedTo = netip.MustParseAddrPort("127.0.0.9:3307") // nothing listens
)

func TestMain(m *testing.M) {
	if rate, err := strconv.Atoi(os.Getenv(churnEnv)); err == nil {
		os.Exit(churn(rate))
	}
	os.Exit(m.Run())
}

func churn(rate int) int {
	fail := func(err error) int { fmt.Println("error:", err); return 1 }
	if err := netns.LoopbackUp(); err != nil {
		return fail(err)
	}
	stop, err := loadgen.Serve(churnTo, func(fd int) {
		go func() { // the client closes first: its side is left in TIME_WAIT
			var b [1]byte
			unix.Read(fd, b[:])
			unix.Close(fd)
		}()
	})
	if err != nil {
		return fail(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, n, err := loadgen.Churn(ctx, churnTo, rate)
	if err != nil {
		return fail(err)
	}
	if c, err := net.Dial("tcp", refusedTo.String()); err == nil {
		c.Close()
		return fail(fmt.Errorf("a connect to %v succeeded", refusedTo))
	}
	fmt.Printf("churned %d\n", n)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// loadSource loads the source, or skips where the kernel or privileges
// cannot (and fails with TCPDASH_REQUIRE_NETNS, as CI sets it).
func loadSource(t *testing.T) *Source {
	t.Helper()
	netns.Require(t, os.Geteuid() == 0, "eBPF needs root")
	s, err := Load()
	if err != nil {
		netns.Require(t, false, "eBPF (BTF, raw tracepoints, ring buffers): "+err.Error())
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestIntegrationOpenersUnderChurn churns connections that live well
// under a millisecond in a private namespace: every TIME_WAIT they leave
// is named by its opener and its cgroup, although no /proc walk could see
// them open. A refused connect is counted on its destination. The source
// is loaded here, outside the namespace's user namespace, where eBPF may
// be loaded; the namespace is read from outside, as tcpdash --netns does.
func TestIntegrationOpenersUnderChurn(t *testing.T) {
	src := loadSource(t)
	cmd := netns.Command(os.Args[0])
	cmd.Env = append(cmd.Env, churnEnv+"=300")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		netns.Require(t, false, "network namespaces: "+err.Error())
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	var n int
	if _, err := fmt.Sscanf(line, "churned %d", &n); err != nil || n < 300 {
		t.Fatalf("the churner said %q", strings.TrimSpace(line))
	}
	time.Sleep(100 * time.Millisecond) // the last events reach the reader

	ns, err := namespaces.NewFinder().FromPID(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	h, err := namespaces.Enter(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cookie, err := namespaces.Cookie(h.Do)
	if err != nil {
		t.Skip(err) // a kernel before 5.14
	}
	col, err := tcpinfo.NewCollector(tcpinfo.Options{Namespace: h})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	owners, err := tcpinfo.ReadOwnersIn("/proc", ns.ID())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := col.Collect(tcpinfo.Query{Owners: owners, Openers: src.In(cookie)})
	if err != nil {
		t.Fatal(err)
	}
	tw := snap.States[tcpinfo.TimeWait]
	var named int
	for _, p := range snap.Processes {
		if p.PID == cmd.Process.Pid {
			named = p.States[tcpinfo.TimeWait]
		}
	}
	if tw < n*9/10 || float64(named) < 0.9*float64(tw) {
		t.Errorf("%d connections: TIME_WAIT %d, named as the churner's %d; want at least 90%%", n, tw, named)
	}
	var g *tcpinfo.PressureGroup
	for i := range snap.PortPressure {
		if snap.PortPressure[i].Remote == churnTo {
			g = &snap.PortPressure[i]
		}
	}
	if g == nil || g.Opener.PID != cmd.Process.Pid || g.OpenerCgroup == 0 || g.OpenerSockets < named {
		t.Errorf("the destination's opener: %+v; want pid %d with its cgroup", g, cmd.Process.Pid)
	}
	if a := snap.Attribution; a.Openers.Name != "ebpf" || a.FromOpener < named || a.Openers.Lost != 0 {
		t.Errorf("attribution %+v", a)
	}
	d, ok := src.In(cookie).Destination(refusedTo)
	if !ok || d.Failed != 1 {
		t.Errorf("the refused destination: %+v, %v; want one failed connect", d, ok)
	}
	// Another namespace's view finds none of it.
	if _, ok := src.In(cookie+1).Opener(netip.AddrPort{}, churnTo); ok {
		t.Error("an opener found through another namespace's cookie")
	}
	t.Logf("%d connections: TIME_WAIT %d, %d named as pid %d (%s); source %+v", n, tw, named, g.Opener.PID, g.Opener.Command, snap.Attribution.Openers)
}

// TestIntegrationLoadRefusedSaysWhy: root in a user namespace (a rootless
// container, tcpload --netns) may not load eBPF; the reason names the
// capabilities, not cilium/ebpf's hint about RLIMIT_MEMLOCK, which Load
// raises itself.
func TestIntegrationLoadRefusedSaysWhy(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	if _, err := kernelOffsets(); err != nil {
		netns.Require(t, false, "kernel BTF: "+err.Error())
	}
	s, err := Load()
	if err == nil {
		s.Close()
		t.Fatal("eBPF loaded inside a user namespace")
	}
	if !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "CAP_BPF") || strings.Contains(err.Error(), "MEMLOCK") {
		t.Errorf("Load in a user namespace: %v; want EPERM naming CAP_BPF, and no word of MEMLOCK", err)
	}
}
