package tcpinfo

import (
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationHealthUnderLoss drops 1 packet in 20 on the way to one
// destination with nftables in a private namespace, and sends data to it
// and to a clean one: the lossy destination's row shows retransmits, the
// clean one's at most a quarter of its share, and each total is the sum of
// ss -tni over its sockets.
func TestIntegrationHealthUnderLoss(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("nft"), "nft (nftables) makes the loss")
	lossy, clean := netip.MustParseAddrPort("127.0.0.9:3306"), netip.MustParseAddrPort("127.0.0.10:3306")
	for _, at := range []netip.AddrPort{lossy, clean} {
		stop, err := loadgen.Serve(at, func(fd int) { go drain(fd) })
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
	}
	netns.Nft(t,
		"add table inet loss",
		"add chain inet loss in { type filter hook input priority 0 ; }",
		"add rule inet loss in ip daddr 127.0.0.9 tcp dport 3306 numgen random mod 20 0 drop",
	)
	var conns []net.Conn
	for _, to := range []netip.AddrPort{lossy, clean} {
		for range 4 {
			c, err := net.Dial("tcp", to.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns = append(conns, c)
		}
	}
	// A steady 4 KB every 5 ms a connection: loss, not a full queue,
	// is what retransmits.
	chunk := make([]byte, 4<<10)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		for _, c := range conns {
			c.Write(chunk)
		}
	}
	// Everything sent is delivered before the counts are compared: then
	// no retransmit happens between tcpdash's read and ss's.
	col, err := NewCollector(Options{Health: true})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	var snap *Snapshot
	for range 100 {
		time.Sleep(100 * time.Millisecond)
		if snap, err = col.Collect(Query{}); err != nil {
			t.Fatal(err)
		}
		settled := true
		for _, h := range snap.Health {
			settled = settled && h.Unacked == 0
		}
		if settled && len(snap.Health) == 2 {
			break
		}
	}
	rows := map[netip.AddrPort]DestinationHealth{}
	for _, h := range snap.Health {
		rows[h.Remote] = h
	}
	l, c := rows[lossy], rows[clean]
	// The clean path loses nothing, but its count is not always 0: on a
	// starved machine (CI runs packages side by side) an ACK late by more
	// than the tail-loss-probe timeout (a few ms on loopback) or the RTO
	// sends a segment again, and the kernel counts it as a retransmit
	// (seen once in CI: 3 of 2179 segments, the lossy path 113 of 2112).
	// So the clean row must stay far below the lossy one, not at zero.
	if l.Sockets != 4 || c.Sockets != 4 || l.RetransPct() < 1 || c.RetransPct() > l.RetransPct()/4 {
		t.Fatalf("lossy %+v\nclean %+v", l, c)
	}
	for _, row := range []DestinationHealth{l, c} {
		if want := ssRetrans(t, row.Remote); row.RetransTotal != want {
			t.Errorf("%v: %d retransmits, ss -tni sums %d", row.Remote, row.RetransTotal, want)
		}
	}
	// Per service: this test's cgroup holds all eight.
	if len(snap.HealthByCgroup) != 1 || snap.HealthByCgroup[0].Sockets != 8 ||
		snap.HealthByCgroup[0].RetransTotal != l.RetransTotal+c.RetransTotal {
		t.Errorf("per cgroup %+v", snap.HealthByCgroup)
	}
	if l.MinRTT <= 0 || l.RTTP99 < l.RTTP50 {
		t.Errorf("RTTs %+v", l)
	}
	t.Logf("lossy: %d sockets, %d of %d segments retransmitted (%.1f%%), RTT p50 %v p99 %v min %v; clean: %d retransmits",
		l.Sockets, l.RetransTotal, l.SegsOut, l.RetransPct(), l.RTTP50, l.RTTP99, l.MinRTT, c.RetransTotal)
}

// ssRetrans sums the lifetime retransmits ss -tni shows for the client
// sockets to dst (retrans:CUR/TOTAL; absent when none).
func ssRetrans(t *testing.T, dst netip.AddrPort) uint64 {
	t.Helper()
	out, err := exec.Command("ss", "-tniH", "state", "established", "dst", dst.String()).Output()
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, m := range regexp.MustCompile(`retrans:\d+/(\d+)`).FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		sum += n
	}
	return sum
}

// drain reads fd until the peer closes it, then closes it.
func drain(fd int) {
	defer unix.Close(fd)
	buf := make([]byte, 64<<10)
	for {
		if n, err := unix.Read(fd, buf); n <= 0 || err != nil {
			return
		}
	}
}

// TestHealthRatesPerServiceFromTheSameSamples: the destinations' samples
// of one dump are the next dump's baseline for the services' rates too:
// two destinations of one service retransmit 30 and 10 segments in two
// seconds, and the service's rate is their sum.
func TestHealthRatesPerServiceFromTheSameSamples(t *testing.T) {
	a, b := netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:80")
	var dest healthBook[netip.AddrPort]
	var svc healthBook[uint64]
	dump := func(retransA, retransB uint32) {
		dest.reset()
		svc.reset()
		for i, s := range []struct {
			to      netip.AddrPort
			retrans uint32
		}{{a, retransA}, {b, retransB}} {
			sock := &Socket{Cookie: uint64(i + 1), HasInfo: true, Info: TCPInfo{TotalRetrans: s.retrans, RTT: 1000}}
			dest.add(s.to, DestinationHealth{Remote: s.to}, sock)
			svc.add(7, DestinationHealth{Cgroup: 7}, sock)
		}
	}
	dump(100, 50)
	prev := dest.samples(nil)
	dump(130, 60)
	byDest := map[netip.AddrPort]float64{}
	for _, h := range dest.fill(10, prev, 2*time.Second) {
		byDest[h.Remote] = h.RetransPerS
	}
	bySvc := svc.fill(10, prev, 2*time.Second)
	if byDest[a] != 15 || byDest[b] != 5 || len(bySvc) != 1 || bySvc[0].RetransPerS != 20 || !bySvc[0].RatesKnown {
		t.Errorf("per destination %v, per service %+v: want 15 and 5, and 20 for the service", byDest, bySvc)
	}
	// The next poll's samples reuse the map, with nothing of the last.
	dest.reset()
	dest.add(a, DestinationHealth{Remote: a}, &Socket{Cookie: 3, HasInfo: true, Info: TCPInfo{TotalRetrans: 1, RTT: 1000}})
	if next := dest.samples(prev); len(next) != 1 || next[3].retrans != 1 {
		t.Errorf("samples of a dump of one socket, in the last one's map: %v", next)
	}
}
