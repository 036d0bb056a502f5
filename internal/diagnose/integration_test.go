package diagnose

import (
	"context"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// setSysctls changes this namespace's sysctls as tcpdash would: checked,
// written and read back.
func setSysctls(t *testing.T, kvs ...string) {
	t.Helper()
	var as []tuning.Assignment
	for _, kv := range kvs {
		a, err := tuning.ParseAssignment(kv)
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	sys := tuning.New(tuning.Options{NoUndo: true})
	plan, err := sys.Plan(as)
	if err == nil {
		err = sys.Apply(plan)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func collect(t *testing.T, col *tcpinfo.Collector) *tcpinfo.Snapshot {
	t.Helper()
	owners, err := tcpinfo.ReadOwners("/proc")
	if err != nil {
		t.Fatal(err)
	}
	s, err := col.Collect(tcpinfo.Query{Owners: owners})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIntegrationFindings runs a leaking process and real connect()
// pressure in a private namespace. Ports per group: 1,500; rate: 100/s;
// connect() should fail after about 15 s.
func TestIntegrationFindings(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	col, err := tcpinfo.NewCollector(tcpinfo.Options{Top: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()

	// Quiet first: an ordinary population has nothing to say.
	pop, err := loadgen.Build(loadgen.Spec{Established: 20, TimeWait: 50, Listeners: 2, Dests: 2, Ports: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	quiet1 := collect(t, col)
	time.Sleep(time.Second)
	if f := Diagnose(collect(t, col), quiet1, nil); len(f) != 0 {
		t.Fatalf("a quiet namespace has findings:\n%s", titles(f))
	}

	// Loopback reuses TIME_WAIT ports by default (tcp_tw_reuse=2); turn
	// that off, and narrow the range, so that ports run out.
	setSysctls(t, "net.ipv4.tcp_tw_reuse=0", "net.ipv4.ip_local_port_range=40000 41499")

	leakTo := netip.MustParseAddrPort("127.0.0.7:5432")
	loadgen.Server(t, leakTo)
	pid := loadgen.StartLeaker(t, "leaky-app", leakTo, 40)

	db := netip.MustParseAddrPort("127.0.0.5:3306")
	loadgen.ClosingServer(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	start := time.Now()
	failed := make(chan time.Time, 1)
	go func() {
		at, _, err := loadgen.Churn(ctx, db, 100)
		if err != nil {
			t.Errorf("churn: %v", err)
		}
		failed <- at
	}()

	// Forecast from two polls two seconds apart, as the dashboard does,
	// and from the timers alone once they cover ten seconds, as --once does.
	time.Sleep(6 * time.Second)
	earlier := collect(t, col)
	time.Sleep(2 * time.Second)
	measuredAt := time.Now()
	measured := Diagnose(collect(t, col), earlier, nil)
	time.Sleep(time.Until(start.Add(11 * time.Second)))
	timersAt := time.Now()
	fromTimers := Diagnose(collect(t, col), nil, nil)

	failedAt := <-failed
	if failedAt.IsZero() {
		t.Fatal("connect() never failed with EADDRNOTAVAIL")
	}
	t.Logf("connect() failed %.1fs after the start", failedAt.Sub(start).Seconds())

	for _, c := range []struct {
		name     string
		findings []Finding
		at       time.Time
	}{{"measured", measured, measuredAt}, {"timers", fromTimers, timersAt}} {
		f := find(c.findings, "will start failing with EADDRNOTAVAIL")
		if f == nil || !strings.Contains(f.Title, "to 127.0.0.5:3306 from 127.0.0.1") {
			t.Errorf("%s: no exhaustion finding for 127.0.0.5:3306:\n%s", c.name, titles(c.findings))
			continue
		}
		predicted := forecastOf(t, f.Title)
		actual := failedAt.Sub(c.at)
		t.Logf("%s: forecast %s, actual %.1fs (%s)", c.name, predicted, actual.Seconds(), strings.Join(f.Evidence, "; "))
		if math.Abs(predicted.Seconds()-actual.Seconds()) > 0.25*actual.Seconds() {
			t.Errorf("%s forecast %s is not within 25%% of the actual %.1fs", c.name, predicted, actual.Seconds())
		}
	}

	leak := find(fromTimers, "CLOSE_WAIT")
	if leak == nil || !strings.Contains(leak.Title, "pid "+strconv.Itoa(pid)+" (leaky-app) holds 40 CLOSE_WAIT sockets to 127.0.0.7:5432") {
		t.Errorf("the leaker is not named:\n%s", titles(fromTimers))
	}
}

func find(f []Finding, substr string) *Finding {
	for i := range f {
		if strings.Contains(f[i].Title, substr) {
			return &f[i]
		}
	}
	return nil
}

// forecastOf reads "in about 12 s" back out of a title.
func forecastOf(t *testing.T, title string) time.Duration {
	t.Helper()
	i := strings.Index(title, "in about ")
	f := strings.Fields(title[i+len("in about "):])
	d, err := time.ParseDuration(f[0] + map[string]string{"s": "s", "min": "m", "h": "h"}[f[1]])
	if err != nil {
		t.Fatalf("forecast in %q: %v", title, err)
	}
	return d
}

// churnPolls churns rate connections a second from this private
// namespace into 127.0.0.5:3306, whose server waits for the client's FIN
// (so the client is left in TIME_WAIT), under sysctls; polls at after and
// 2 s later; and returns the two snapshots, the destination's group in the
// second (nil if none), and whether connect() failed with EADDRNOTAVAIL.
func churnPolls(t *testing.T, rate int, after time.Duration, sysctls ...string) (earlier, now *tcpinfo.Snapshot, g *tcpinfo.PressureGroup, failed bool) {
	t.Helper()
	col, err := tcpinfo.NewCollector(tcpinfo.Options{Top: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	setSysctls(t, sysctls...)
	db := netip.MustParseAddrPort("127.0.0.5:3306")
	loadgen.ClosingServer(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan time.Time, 1)
	go func() {
		failedAt, _, err := loadgen.Churn(ctx, db, rate)
		if err != nil {
			t.Errorf("churn: %v", err)
		}
		done <- failedAt
	}()
	time.Sleep(after)
	earlier = collect(t, col)
	time.Sleep(2 * time.Second)
	now = collect(t, col)
	cancel()
	failed = !(<-done).IsZero()
	for i := range now.PortPressure {
		if now.PortPressure[i].Remote == db {
			g = &now.PortPressure[i]
		}
	}
	return earlier, now, g, failed
}

// TestIntegrationRampThatLevelsOff: the first seconds of a load test
// closing 20 connections a second, against 1,500 ports. Its ports grow
// at 20/s, yet each comes free 60 s after its close: the group levels off
// at 1,200, and connect() never fails. Neither forecast, from two polls
// or from the timers alone, may say it will (a line through the growth
// said so, "in about 1 min", for the whole first minute).
func TestIntegrationRampThatLevelsOff(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	earlier, now, g, failed := churnPolls(t, 20, 8*time.Second, "net.ipv4.tcp_tw_reuse=0", "net.ipv4.ip_local_port_range=40000 41499")
	if failed {
		t.Fatal("connect() failed with EADDRNOTAVAIL")
	}
	if g == nil || g.Used < 150 || g.TimeWait < 150 {
		t.Fatalf("after 10 s at 20/s: %+v; want about 200 ports used, in TIME_WAIT", g)
	}
	// What the old line said: the growth alone runs out within the
	// findings' horizon.
	if r := RatesOf(*g, nil, 0); r.Growth < 10 || float64(g.Capacity-g.Used)/r.Growth > forecastHorizon.Seconds() {
		t.Fatalf("growth %.1f/s: the ramp does not make the case", r.Growth)
	}
	for name, f := range map[string][]Finding{"measured": Diagnose(now, earlier, nil), "timers": Diagnose(now, nil, nil)} {
		if x := find(f, "127.0.0.5:3306"); x != nil {
			t.Errorf("%s: a ramp that levels off at 80%% has a finding: %s (%s)", name, x.Title, strings.Join(x.Evidence, "; "))
		}
	}
	t.Logf("%d of %d ports used, %d in TIME_WAIT by time left %v: no forecast", g.Used, g.Capacity, g.TimeWait, g.TimeWaitLeft)
}

// TestIntegrationLoopbackReusesTimeWait: over loopback, tcp_tw_reuse=2
// (the default) lets connect() take over a TIME_WAIT port older than a
// second. 100 connections a second into 1,500 ports for 19 s would need
// 1,900, yet connect() never fails (the kernel takes over about half the
// TIME_WAIT ports it meets, and TIME_WAIT settles near 700): no finding may
// say it does, or will, and none may advise tcp_tw_reuse=1.
func TestIntegrationLoopbackReusesTimeWait(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	earlier, now, g, failed := churnPolls(t, 100, 17*time.Second,
		"net.ipv4.tcp_tw_reuse=2", "net.ipv4.tcp_timestamps=1", "net.ipv4.ip_local_port_range=40000 41499")
	if failed {
		t.Fatal("connect() failed with EADDRNOTAVAIL: the kernel did not reuse TIME_WAIT ports")
	}
	if g == nil || g.TimeWait < 300 {
		t.Fatalf("after 19 s at 100/s: %+v; want hundreds of ports in TIME_WAIT", g)
	}
	settings, err := tuning.New(tuning.Options{NoUndo: true}).Settings()
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string][]Finding{"measured": Diagnose(now, earlier, settings), "timers": Diagnose(now, nil, settings)} {
		if x := find(f, "127.0.0.5:3306"); x != nil {
			t.Errorf("%s: a group whose TIME_WAIT connect() reuses has a finding: %s (%s)", name, x.Title, strings.Join(x.Evidence, "; "))
		}
	}
	for _, r := range Recommend(now, earlier, settings, now.Listening()) {
		if r.Key == "net.ipv4.tcp_tw_reuse" {
			t.Errorf("advised tcp_tw_reuse=%s: %s", r.Value, r.Reason)
		}
	}
	t.Logf("%d of %d ports used, %d in TIME_WAIT, %d of them reusable", g.Used, g.Capacity, g.TimeWait, g.ReusableTimeWait)
}
