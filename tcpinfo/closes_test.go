package tcpinfo

import (
	"context"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestRateSmoothing: a steady rate reads as itself from the first seconds
// on (the start is corrected for), and a stop decays rather than drops.
func TestRateSmoothing(t *testing.T) {
	var r Rate
	for i := range 300 { // 100/s for 3 s
		r.add(time.Duration(i)*10*time.Millisecond, 1)
	}
	at := 3 * time.Second
	if got := r.PerS(at, at); math.Abs(got-100) > 5 {
		t.Errorf("100/s for 3 s reads %.1f/s", got)
	}
	// Listening began 10 s before the load: the start correction no longer
	// applies, and the estimate converges as the window fills.
	if got := r.PerS(at, 13*time.Second); got < 40 || got > 50 {
		t.Errorf("3 s of 100/s after 10 s of quiet reads %.1f/s, want about 45 (1-e^-0.6)", got)
	}
	if got := r.PerS(at+RateWindow, at+RateWindow); got < 20 || got > 40 {
		t.Errorf("one window after the load stopped: %.1f/s, want about a third", got)
	}
}

// TestCloseBookClassifies: a client's close counts on its destination
// group; a server's side, a listening port in the range and a
// destination past the bound count only in the total.
func TestCloseBookClassifies(t *testing.T) {
	ports, _ := ParsePortRange([]byte("32768 60999"), nil)
	start := time.Now()
	b := newCloseBook(start)
	ev := func(local, remote string) closeEvent {
		return closeEvent{netip.MustParseAddrPort(local), netip.MustParseAddrPort(remote), time.Second}
	}
	b.fold([]closeEvent{
		ev("10.0.0.1:40000", "10.0.0.5:3306"),
		ev("10.0.0.1:40001", "10.0.0.5:3306"),
		ev("10.0.0.2:40001", "10.0.0.5:3306"), // another local address: another group
		ev("10.0.0.5:3306", "10.0.0.1:40002"), // the server's side
		ev("10.0.0.1:45000", "10.0.0.9:80"),   // 45000 is listened on
	}, ports, func(p uint16) bool { return p == 45000 })
	snap := &Snapshot{
		PortPressure: []PressureGroup{
			{Local: netip.MustParseAddr("10.0.0.1"), Remote: netip.MustParseAddrPort("10.0.0.5:3306")},
			{Local: netip.MustParseAddr("10.0.0.2"), Remote: netip.MustParseAddrPort("10.0.0.5:3306")},
		},
		TopRemoteEndpoints: []EndpointCount{{Endpoint: netip.MustParseAddrPort("10.0.0.5:3306")}},
	}
	now := start.Add(time.Second)
	b.annotate(snap, now)
	if g := snap.PortPressure; g[0].Closes != 2 || g[1].Closes != 1 || snap.TopRemoteEndpoints[0].Closes != 3 {
		t.Errorf("closes: groups %d, %d, endpoint %d; want 2, 1, 3", g[0].Closes, g[1].Closes, snap.TopRemoteEndpoints[0].Closes)
	}
	if st := b.stats(now); st.Total != 5 || st.Overflow != 0 {
		t.Errorf("stats %+v, want 5 in all", st)
	}
	// Past the bound, a new destination counts in Overflow.
	for i := range MaxCloseDestinations {
		b.groups[groupKey{local: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), port: 1}] = &closeRow{}
	}
	b.fold([]closeEvent{ev("10.0.0.3:40000", "10.0.0.5:3306")}, ports, func(uint16) bool { return false })
	if st := b.stats(now); st.Overflow != 1 || st.Total != 6 {
		t.Errorf("past the bound: %+v", st)
	}
	// Idle destinations are forgotten.
	b.forget(CloseIdle + 2*time.Second)
	if len(b.groups) != 0 {
		t.Errorf("%d destinations kept after %v idle", len(b.groups), CloseIdle)
	}
}

// TestIntegrationClosesPerDestination churns connections that live well
// under a millisecond to one destination in a private namespace: the
// destroy notifications count every one of them on the destination's
// group, and their rate is the load's.
func TestIntegrationClosesPerDestination(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	to := netip.MustParseAddrPort("127.0.0.9:3306")
	loadgen.ClosingServer(t, to)
	c, err := NewCollector(Options{WatchCloses: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Collect(Query{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	began := time.Now()
	_, n, err := loadgen.Churn(ctx, to, 300)
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the last server sides close
	snap, err := c.Collect(Query{})
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Closes.Watching || snap.Closes.Err != "" || snap.Closes.Lost != 0 {
		t.Fatalf("closes: %+v", snap.Closes)
	}
	var g *PressureGroup
	for i := range snap.PortPressure {
		if snap.PortPressure[i].Remote == to {
			g = &snap.PortPressure[i]
		}
	}
	if g == nil {
		t.Fatalf("no pressure row for %v: %+v", to, snap.PortPressure)
	}
	// Each connection closes twice: the client's side, on its
	// destination, and the server's, in the total only.
	if g.Closes != uint64(n) || snap.Closes.Total != uint64(2*n) {
		t.Errorf("%d connections: the destination counts %d closes, the total %d (want %d, %d)", n, g.Closes, snap.Closes.Total, n, 2*n)
	}
	load := float64(n) / took.Seconds()
	if math.Abs(g.ClosesPerS-load) > 0.1*load {
		t.Errorf("closes/s %.1f, the load made %.1f/s", g.ClosesPerS, load)
	}
	var ep *EndpointCount
	for i := range snap.TopRemoteEndpoints {
		if snap.TopRemoteEndpoints[i].Endpoint == to {
			ep = &snap.TopRemoteEndpoints[i]
		}
	}
	if ep == nil || ep.Closes != g.Closes {
		t.Errorf("endpoint row %+v, want the group's %d closes", ep, g.Closes)
	}
	t.Logf("%d connections in %v (%.0f/s): %d closes on the destination at %.1f/s", n, took.Round(time.Millisecond), load, g.Closes, g.ClosesPerS)
}

// TestFilesForecastNeedsGrowth: a connection pool that opens 50 sockets a
// second for 6 s and then holds them is forecast to run out of files
// while it grows, and no longer once a walk RateWindow after its last
// growth sees none, though its smoothed rate stays above zero for tens of
// seconds; a leak walked every 10 s, as on a large host, is forecast at
// every walk that sees it grow.
func TestFilesForecastNeedsGrowth(t *testing.T) {
	start := time.Now()
	pool := func(sec int) int { return 100 + 50*min(sec, 6) }
	var r procRates
	for sec := range 21 {
		walk := start.Add(time.Duration(sec) * time.Second)
		procs := []ProcessCount{{Owner: Owner{PID: 7, Command: "pool"}, Files: FileCount{Open: pool(sec), Limit: 512}}}
		r.update(procs, walk)
		p := procs[0]
		switch {
		case sec >= 1 && sec <= 6 && (p.FilesLeft < 0 || p.FilesLeft > 10*time.Second):
			t.Errorf("second %d, growing to %d of 512 at 50/s: %v left, want a forecast", sec, pool(sec), p.FilesLeft)
		case sec > 6+int(RateWindow/time.Second) && p.FilesLeft >= 0:
			t.Errorf("second %d, held at %d since second 6: %v left (%.1f/s smoothed), want none", sec, pool(sec), p.FilesLeft, p.FilesPerS)
		case sec == 20 && p.FilesPerS <= 0:
			t.Errorf("second %d: smoothed rate %.2f/s: the test no longer tells growth from its memory", sec, p.FilesPerS)
		}
	}
	var slow procRates
	for i := range 6 {
		walk := start.Add(time.Duration(10*i) * time.Second)
		procs := []ProcessCount{{Owner: Owner{PID: 8, Command: "leaky"}, Files: FileCount{Open: 100 + 20*i, Limit: 1024}}}
		slow.update(procs, walk)
		if p := procs[0]; i > 0 && (p.FilesLeft < 0 || math.Abs(p.FilesLeft.Seconds()-float64(1024-p.Files.Open)/2) > 1) {
			t.Errorf("walk %d, %d files growing 2/s: %v left, want %.0fs", i, p.Files.Open, p.FilesLeft, float64(1024-p.Files.Open)/2)
		}
	}
}

// TestProcessRateDoesNotFlap: a process leaking CLOSE_WAIT at 3/s, walked
// every 5 s and polled every second, reads about 3/s at every poll once
// two walks have seen it, where a rate between polls read 0 for four polls
// and 15/s on the fifth.
func TestProcessRateDoesNotFlap(t *testing.T) {
	var r procRates
	start := time.Now()
	var walk time.Time
	for sec := range 31 {
		now := start.Add(time.Duration(sec) * time.Second)
		if sec%5 == 0 {
			walk = now
		}
		n := 100 + 3*int(walk.Sub(start).Seconds()) // what the last walk saw
		procs := []ProcessCount{{Owner: Owner{PID: 7, Command: "leaky"}}}
		procs[0].States[CloseWait] = n
		r.update(procs, walk)
		p := procs[0]
		switch {
		case sec < 5 && p.RateKnown:
			t.Fatalf("poll %d: a rate known from one walk", sec)
		case sec >= 5 && (!p.RateKnown || math.Abs(p.CloseWaitPerS-3) > 0.01):
			t.Fatalf("poll %d: %.2f/s (known %v), want 3", sec, p.CloseWaitPerS, p.RateKnown)
		}
	}
	// A process no longer listed is forgotten at the next walk.
	r.update(nil, walk.Add(5*time.Second))
	if len(r.byPID) != 0 {
		t.Errorf("%d processes remembered", len(r.byPID))
	}
}

// BenchmarkProcRatesPoll: one poll's rates for 300 processes, each poll
// from a fresh walk (the dashboard's every second on a busy host).
func BenchmarkProcRatesPoll(b *testing.B) {
	procs := make([]ProcessCount, 300)
	for i := range procs {
		procs[i] = ProcessCount{Owner: Owner{PID: 1000 + i}, Files: FileCount{Open: 100, Limit: 1024}}
	}
	var r procRates
	walk := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		walk = walk.Add(time.Second)
		r.update(procs, walk)
	}
}
