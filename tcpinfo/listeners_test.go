package tcpinfo

import (
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationListeners: a listener that never accepts fills its accept
// queue; its queue and backlog equal ss -ltnH's Recv-Q and Send-Q, and it
// reads as full.
func TestIntegrationListeners(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("ss"), "ss (iproute2) is not installed")
	at := netip.MustParseAddrPort("127.0.0.1:9000")
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ln)
	if err := unix.Bind(ln, &unix.SockaddrInet4{Port: 9000, Addr: at.Addr().As4()}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ln, 2); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		unix.Connect(fd, &unix.SockaddrInet4{Port: 9000, Addr: at.Addr().As4()})
	}
	time.Sleep(200 * time.Millisecond)

	out, err := exec.Command("ss", "-ltnH", "sport", "= :9000").Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	if len(f) < 4 {
		t.Fatalf("ss -ltnH: %q", out)
	}
	recvQ, _ := strconv.Atoi(f[1])
	sendQ, _ := strconv.Atoi(f[2])

	col, err := NewCollector(Options{Top: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	snap, err := col.Collect(Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Listeners) == 0 {
		t.Fatal("no listeners")
	}
	l := snap.Listeners[0] // the fullest first
	if l.Local != at || l.AcceptQueue != recvQ || l.Backlog != sendQ || !l.Full() {
		t.Errorf("listener %+v (full %v), ss says queue %d of %d", l, l.Full(), recvQ, sendQ)
	}
	if recvQ <= sendQ-1 {
		t.Errorf("the accept queue did not fill: %d of %d", recvQ, sendQ)
	}
}

// TestIntegrationSocketsDrillDown: the sockets behind a row are those ss
// lists for the same words.
func TestIntegrationSocketsDrillDown(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("ss"), "ss (iproute2) is not installed")
	pop, err := loadgen.Build(testSpec)
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	col, err := NewCollector(Options{Top: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	count := func(args ...string) int {
		out, err := exec.Command("ss", append([]string{"-tanH"}, args...)...).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(out), "\n")
	}
	for _, tc := range []struct {
		f  SocketFilter
		ss []string
	}{
		{SocketFilter{RemotePort: 20000}, []string{"dport", "= :20000"}},
		{SocketFilter{RemoteAddr: netip.MustParseAddr("127.0.0.2"), RemotePort: 20001}, []string{"dst", "127.0.0.2:20001"}},
		{SocketFilter{State: TimeWait, LocalAddr: netip.MustParseAddr("127.0.0.1")}, []string{"state", "time-wait", "src", "127.0.0.1"}},
		{SocketFilter{PeerPorts: true}, []string{"dport", ">= :32768", "and", "dport", "<= :60999"}},
	} {
		rows, n, err := col.Sockets(tc.f, nil, 5)
		if err != nil {
			t.Fatal(err)
		}
		want := count(tc.ss...)
		if n != want || len(rows) != min(5, want) || want == 0 {
			t.Errorf("%+v: %d sockets (%d rows), ss %v lists %d", tc.f, n, len(rows), tc.ss, want)
		}
	}
}

// TestIntegrationFilteredDumpKnowsServers: servers listening inside the
// ephemeral range are told from clients by their listeners, also when a
// filter leaves the listeners out of the dump (a state set without
// LISTEN; a program, run by the kernel). Counted as clients, each
// server socket was a destination group of its own.
func TestIntegrationFilteredDumpKnowsServers(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	const pairs = 60
	pop, err := loadgen.Build(loadgen.Spec{Established: pairs, Dests: 2, BasePort: 40000}) // inside 32768-60999
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	for _, source := range []Source{SourceNetlink, SourceProcfs} {
		col, err := NewCollector(Options{Source: source, Top: 1000})
		if err != nil {
			t.Fatal(err)
		}
		defer col.Close()
		for _, expr := range []string{"", "state established", "dport = :40100 or sport = :40100", "! dst 10.0.0.0/8"} {
			var q Query
			if expr != "" {
				if q.Filter, err = filter.Parse(expr); err != nil {
					t.Fatal(err)
				}
			}
			snap, err := col.Collect(q)
			if err != nil {
				t.Fatalf("%s %q: %v", source, expr, err)
			}
			// The clients' groups, one per destination address, each
			// to the server's port; no group toward a client's port.
			used := 0
			for _, g := range snap.PortPressure {
				if g.Remote.Port() != 40100 {
					t.Errorf("%s %q: a server's socket counted as a client: group %s → %s", source, expr, g.Local, g.Remote)
				}
				used += g.Used
			}
			if len(snap.PortPressure) != 2 || used != pairs {
				t.Errorf("%s %q: %d groups using %d ports, want 2 using %d", source, expr, len(snap.PortPressure), used, pairs)
			}
		}
	}
}
