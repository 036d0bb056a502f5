package diagnose

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

var t0 = time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)

func base(at time.Duration) *tcpinfo.Snapshot {
	s := &tcpinfo.Snapshot{Time: t0.Add(at), MaxTimeWaitBuckets: 100000}
	s.PortRange, _ = tcpinfo.ParsePortRange([]byte("32768 60999"), nil)
	s.Attribution.Enabled = true
	return s
}

// group is a destination group whose recent closes came at a steady rate.
func group(used, tw, recent, expiring int) tcpinfo.PressureGroup {
	return tcpinfo.PressureGroup{Local: netip.MustParseAddr("10.0.0.9"), Remote: netip.MustParseAddrPort("10.0.0.5:3306"),
		Used: used, TimeWait: tw, RecentTimeWait: recent, FreshTimeWait: recent / 5,
		TimeWaitLeft: [tcpinfo.ExpirySlots]int{expiring}, Capacity: 28232, Ratio: float64(used) / 28232}
}

func titles(f []Finding) string {
	var s []string
	for _, x := range f {
		s = append(s, x.Severity.String()+": "+x.Title)
	}
	return strings.Join(s, "\n")
}

func TestQuiet(t *testing.T) {
	s := base(time.Second)
	s.States[tcpinfo.Established] = 40
	s.States[tcpinfo.CloseWait] = 3
	s.States[tcpinfo.TimeWait] = 200
	s.PortPressure = []tcpinfo.PressureGroup{group(200, 200, 20, 20)}
	s.Processes = []tcpinfo.ProcessCount{{Owner: tcpinfo.Owner{PID: 7, Command: "nginx"}}}
	if f := Diagnose(s, base(0), nil); len(f) != 0 {
		t.Errorf("a quiet host has findings:\n%s", titles(f))
	}
}

func TestCloseWaitLeak(t *testing.T) {
	// The rate is the collector's, measured from walk to walk.
	proc := func(n int, perS float64) tcpinfo.ProcessCount {
		p := tcpinfo.ProcessCount{Owner: tcpinfo.Owner{PID: 4242, Command: "java"},
			CloseWaitTo: netip.MustParseAddrPort("10.0.0.5:3306"), CloseWaitToCount: n - 4, CloseWaitOn: 52000, CloseWaitOnCount: 1,
			CloseWaitPerS: perS, RateKnown: true}
		p.States[tcpinfo.CloseWait] = n
		return p
	}
	now, then := base(2*time.Second), base(0)
	now.Processes, then.Processes = []tcpinfo.ProcessCount{proc(1204, 12)}, []tcpinfo.ProcessCount{proc(1180, 12)}
	f := Diagnose(now, then, nil)
	want := "pid 4242 (java) holds 1,204 CLOSE_WAIT sockets, 1,200 to 10.0.0.5:3306 — the application is not closing connections the peer has closed"
	if len(f) != 1 || f[0].Title != want || f[0].Severity != Critical || !strings.Contains(f[0].Evidence[0], "growing 12/s") {
		t.Fatalf("findings:\n%s\n%+v", titles(f), f)
	}
	if !strings.Contains(f[0].Detail, "No sysctl fixes this") {
		t.Errorf("detail %q", f[0].Detail)
	}
	// Shrinking CLOSE_WAIT is being cleaned up: no finding.
	later := base(4 * time.Second)
	later.Processes = []tcpinfo.ProcessCount{proc(1100, -50)}
	if f := Diagnose(later, now, nil); len(f) != 0 {
		t.Errorf("shrinking CLOSE_WAIT reported:\n%s", titles(f))
	}
}

// TestCloseWaitServerLeak: a server that leaks accepted connections is
// named by its port, its peers being many.
func TestCloseWaitServerLeak(t *testing.T) {
	p := tcpinfo.ProcessCount{Owner: tcpinfo.Owner{PID: 77, Command: "api"},
		CloseWaitTo: netip.MustParseAddrPort("10.0.0.8:50123"), CloseWaitToCount: 1, CloseWaitOn: 8080, CloseWaitOnCount: 40}
	p.States[tcpinfo.CloseWait] = 40
	now := base(time.Second)
	now.Processes = []tcpinfo.ProcessCount{p}
	f := Diagnose(now, nil, nil)
	if len(f) != 1 || !strings.Contains(f[0].Title, "pid 77 (api) holds 40 CLOSE_WAIT sockets on port 8080 —") ||
		!strings.Contains(f[0].Evidence[0], "40 of them on local port 8080, from many peers") {
		t.Fatalf("findings:\n%s\n%v", titles(f), f)
	}
	// 700 leaked, 400 of them on one port: the title says 400, not 700.
	p.States[tcpinfo.CloseWait], p.CloseWaitOn, p.CloseWaitOnCount = 700, 20001, 400
	now.Processes = []tcpinfo.ProcessCount{p}
	if f := Diagnose(now, nil, nil); len(f) != 1 || !strings.Contains(f[0].Title, "holds 700 CLOSE_WAIT sockets, 400 on port 20001 —") {
		t.Fatalf("findings:\n%s", titles(f))
	}
}

func TestExhaustionForecast(t *testing.T) {
	settings := []tuning.Setting{}
	for _, tu := range tuning.Known() {
		v := map[string]string{"net.ipv4.tcp_tw_reuse": "0", "net.ipv4.ip_local_port_range": "32768 60999", "net.ipv4.tcp_timestamps": "1"}[tu.Key]
		settings = append(settings, tuning.Setting{Tunable: tu, Value: v, Exists: v != ""})
	}
	// 400 new connections a second to one destination, measured.
	now, then := base(5*time.Second), base(0)
	now.PortPressure = []tcpinfo.PressureGroup{group(20000, 19900, 4000, 0)}
	then.PortPressure = []tcpinfo.PressureGroup{group(18000, 17900, 4000, 0)}
	f := Diagnose(now, then, settings)
	want := "connect() to 10.0.0.5:3306 from 10.0.0.9 will start failing with EADDRNOTAVAIL in about 20 s"
	if len(f) == 0 || f[0].Title != want || f[0].Severity != Critical {
		t.Fatalf("findings:\n%s", titles(f))
	}
	for _, must := range []string{"net.ipv4.tcp_tw_reuse=1", "pooling", "IP_BIND_ADDRESS_NO_PORT"} {
		if !strings.Contains(f[0].Detail, must) {
			t.Errorf("detail lacks %q: %s", must, f[0].Detail)
		}
	}
	// From the timers alone: 4,000 born in the last 10 s, none leaving.
	f = Diagnose(now, nil, settings)
	if len(f) == 0 || !strings.Contains(f[0].Title, "in about 20 s") || !strings.Contains(strings.Join(f[0].Evidence, " "), "from TIME_WAIT timers: the recent rate of closes, assumed to go on") {
		t.Fatalf("timer forecast:\n%s\n%v", titles(f), f)
	}
	// A burst that ended three seconds ago: young sockets, none fresh.
	burst := group(15000, 14900, 4000, 0)
	burst.FreshTimeWait = 0
	now.PortPressure = []tcpinfo.PressureGroup{burst}
	if f := Diagnose(now, nil, settings); len(f) != 0 {
		t.Errorf("a finished burst below 70%% is forecast:\n%s", titles(f))
	}
	// Steady state: as many leave as arrive, and the group is not full.
	now.PortPressure = []tcpinfo.PressureGroup{group(15000, 14900, 2500, 2500)}
	if f := Diagnose(now, nil, settings); len(f) != 0 {
		t.Errorf("steady churn below capacity reported:\n%s", titles(f))
	}
	for _, x := range Diagnose(base(0), nil, settings) {
		if strings.Contains(x.Detail, "tcp_tw_recycle") {
			t.Errorf("recommends tcp_tw_recycle: %s", x.Detail)
		}
	}
}

func TestCounterFindings(t *testing.T) {
	now, then := base(2*time.Second), base(0)
	now.Counters.TCPTimeWaitOverflow, then.Counters.TCPTimeWaitOverflow = 50, 10
	now.Counters.ListenOverflows, then.Counters.ListenOverflows = 8, 2
	now.States[tcpinfo.SynRecv], then.States[tcpinfo.SynRecv] = 300, 100
	now.OrphanFinWait2, then.OrphanFinWait2 = 500, 400
	now.ListeningInRange = []uint16{40000}
	got := titles(Diagnose(now, then, nil))
	for _, want := range []string{
		"critical: the TIME_WAIT table is full: 40 closes skipped TIME_WAIT (20/s)",
		"critical: listen queues are overflowing: 6 connections dropped (3.0/s)",
		"warning: 300 half-open connections (SYN_RECV) are piling up",
		"warning: 500 orphaned FIN_WAIT2 sockets are building up",
		"warning: port 40000 is listened on inside the ephemeral range 32768-60999",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(got, "critical") {
		t.Errorf("critical findings come first:\n%s", got)
	}
}

func TestAbout(t *testing.T) {
	for d, want := range map[time.Duration]string{
		200 * time.Millisecond: "1 s", 7010 * time.Millisecond: "7 s", 7600 * time.Millisecond: "8 s",
		42 * time.Second: "40 s", 3 * time.Minute: "3 min", 90 * time.Minute: "1.5 h",
	} {
		if got := about(d); got != want {
			t.Errorf("about(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestExhaustionNamesOpener: the process and cgroup that open a group's
// connections lead the evidence.
func TestExhaustionNamesOpener(t *testing.T) {
	g := group(20000, 19900, 2980, 0)
	g.Opener, g.OpenerCgroupName, g.OpenerSockets = tcpinfo.Owner{PID: 4242, Command: "java"}, "payments.service", 19950
	now := base(time.Second)
	now.PortPressure = []tcpinfo.PressureGroup{g}
	f := Diagnose(now, nil, nil)
	want := "java (pid 4242, payments.service) opens 298 connections/s to 10.0.0.5:3306 and closes them first"
	if len(f) == 0 || f[0].Evidence[0] != want {
		t.Fatalf("evidence %q, want %q first", f[0].Evidence, want)
	}
	// Known by its cgroup only (a TIME_WAIT whose process was never seen).
	g.Opener = tcpinfo.Owner{}
	now.PortPressure = []tcpinfo.PressureGroup{g}
	if f := Diagnose(now, nil, nil); f[0].Evidence[0] != "payments.service opens 298 connections/s to 10.0.0.5:3306 and closes them first" {
		t.Errorf("evidence %q", f[0].Evidence)
	}
	// Nobody holds most of the group: nobody is named.
	g.OpenerSockets = 100
	now.PortPressure = []tcpinfo.PressureGroup{g}
	if f := Diagnose(now, nil, nil); strings.Contains(f[0].Evidence[0], "opens") {
		t.Errorf("evidence %q names a minor holder", f[0].Evidence)
	}
}

// TestListenOverflowNamesListener: the overflow finding names the full
// queue's port and process.
func TestListenOverflowNamesListener(t *testing.T) {
	now, then := base(2*time.Second), base(0)
	then.Counters.ListenOverflows, now.Counters.ListenOverflows = 100, 476
	now.Listeners = []tcpinfo.Listener{
		{Local: netip.MustParseAddrPort("0.0.0.0:9000"), AcceptQueue: 1, Backlog: 1, Owner: tcpinfo.Owner{PID: 311, Command: "nginx"}},
		{Local: netip.MustParseAddrPort("0.0.0.0:22"), AcceptQueue: 0, Backlog: 128},
	}
	f := Diagnose(now, then, nil)
	want := "port 9000 (pid 311 nginx): accept queue full, 1 of 1; 188 connections dropped/s"
	if len(f) == 0 || f[0].Title != want {
		t.Fatalf("findings:\n%s\nwant %q", titles(f), want)
	}
}

// TestForecastCarriesItsFix: a destination below the advice's 70% that
// will run out within the horizon gets a finding whose sysctl fixes the
// tuning advice then shows, citing the finding.
func TestForecastCarriesItsFix(t *testing.T) {
	settings := []tuning.Setting{}
	for _, tu := range tuning.Known() {
		v := map[string]string{"net.ipv4.tcp_tw_reuse": "0", "net.ipv4.ip_local_port_range": "32768 60999", "net.ipv4.tcp_timestamps": "1"}[tu.Key]
		settings = append(settings, tuning.Setting{Tunable: tu, Value: v, Exists: v != ""})
	}
	now, then := base(5*time.Second), base(0)
	now.PortPressure = []tcpinfo.PressureGroup{group(8000, 7900, 4000, 0)} // 28%, +1000/s
	then.PortPressure = []tcpinfo.PressureGroup{group(3000, 2900, 4000, 0)}
	f := Diagnose(now, then, settings)
	if len(f) == 0 || len(f[0].Sysctls) == 0 || f[0].Sysctls[0].Key != "net.ipv4.tcp_tw_reuse" {
		t.Fatalf("findings %s with sysctls %+v", titles(f), f)
	}
	if recs := Recommend(now, then, settings, nil); len(recs) != 0 {
		t.Fatalf("the general advice fires below 70%%: %+v", recs)
	}
	advice := Advice(nil, f)
	if len(advice) == 0 || !strings.Contains(advice[0].Reason, `for the finding "connect() to 10.0.0.5:3306`) {
		t.Errorf("advice %+v does not cite the finding", advice)
	}
}

// TestExhaustedSaysFailingNow: at the cap the finding says connect() fails
// now, on every poll: growing into it, stopped at it, or a port or two
// below it while TIME_WAITs expire and the load takes them back.
func TestExhaustedSaysFailingNow(t *testing.T) {
	want := "connect() to 10.0.0.5:3306 from 10.0.0.9 is failing now with EADDRNOTAVAIL"
	for _, tc := range []struct {
		name      string
		now, then int
	}{{"growing into the cap", 28232, 27000}, {"at the cap", 28232, 28232}, {"two ports free", 28230, 28232}, {"first poll", 28232, -1}} {
		now, then := base(time.Second), base(0)
		now.PortPressure = []tcpinfo.PressureGroup{group(tc.now, tc.now-100, 4000, 4000)}
		if tc.then >= 0 {
			then.PortPressure = []tcpinfo.PressureGroup{group(tc.then, tc.then-100, 4000, 4000)}
		} else {
			then = nil
		}
		f := Diagnose(now, then, nil)
		if len(f) == 0 || !strings.HasPrefix(f[0].Title, want) || f[0].Severity != Critical || !strings.Contains(f[0].Short, "failing now") {
			t.Errorf("%s: findings:\n%s", tc.name, titles(f))
		}
	}
	// Well below the cap it is a forecast or a share, never "failing".
	now := base(time.Second)
	now.PortPressure = []tcpinfo.PressureGroup{group(27000, 26900, 2500, 2500)}
	for _, f := range Diagnose(now, nil, nil) {
		if strings.Contains(f.Title, "failing now") {
			t.Errorf("96%% used says %q", f.Title)
		}
	}
}

// TestCauses: the counters that name a cause each give their finding, and
// a quiet interval none.
func TestCauses(t *testing.T) {
	then, now := base(0), base(time.Second)
	if f := causes(now, then, 1, nil); len(f) != 0 {
		t.Fatalf("quiet counters: %s", titles(f))
	}
	now.Listeners = []tcpinfo.Listener{{Local: netip.MustParseAddrPort("0.0.0.0:8080"), Backlog: 128, SynRecv: 128}}
	c := &now.Counters
	c.TCPReqQFullDrop, c.SyncookiesSent = 5, 40
	c.OutSegs, c.RetransSegs = 1000, 50
	c.TCPSynRetrans = 3
	c.TCPMemoryPressures = 1
	c.PruneCalled = 2
	now.Counters.Orphan = 900
	settings := []tuning.Setting{{Tunable: tuning.Tunable{Key: "net.ipv4.tcp_max_orphans"}, Value: "1000", Exists: true}}
	kinds := map[string]string{}
	for _, x := range causes(now, then, 1, settings) {
		kinds[x.Kind] = x.Title
	}
	for kind, want := range map[string]string{
		"syn_drops":          "port 8080: SYN queue full: 5 connection attempts dropped",
		"syn_cookies":        "port 8080: SYN queue full, 40 cookies/s",
		"retransmits":        "5.0% of TCP segments are retransmitted (50/s)",
		"syn_retransmits":    "SYNs are being retransmitted, 3.0/s",
		"memory_pressure":    "TCP is under memory pressure",
		"receive_drops":      "receive queues are overflowing",
		"orphans_near_limit": "90% of tcp_max_orphans",
	} {
		if !strings.Contains(kinds[kind], want) {
			t.Errorf("%s: %q, want %q", kind, kinds[kind], want)
		}
	}
}

// TestHealthFinding: a destination retransmitting 4.1% of its segments
// is named with its RTTs; a clean one is not.
func TestHealthFinding(t *testing.T) {
	now := base(time.Second)
	now.Health = []tcpinfo.DestinationHealth{
		{Remote: netip.MustParseAddrPort("10.77.0.2:3306"), Sockets: 8, RetransTotal: 41, SegsOut: 1000, RetransPerS: 12, RatesKnown: true,
			RTTP50: 20 * time.Millisecond, RTTP99: 180 * time.Millisecond, MinRTT: 300 * time.Microsecond},
		{Remote: netip.MustParseAddrPort("10.77.0.3:3306"), Sockets: 8, SegsOut: 1000, RatesKnown: true,
			RTTP50: 400 * time.Microsecond, RTTP99: 900 * time.Microsecond, MinRTT: 300 * time.Microsecond},
	}
	f := health(now)
	want := "10.77.0.2:3306: 4.1% of segments retransmitted, RTT p99 180ms (min 300µs)"
	if len(f) != 1 || f[0].Title != want || f[0].Kind != "destination_health" {
		t.Fatalf("findings:\n%s\nwant one: %s", titles(f), want)
	}
}

// TestConntrackFinding: the drop rate is the collector's, the one the
// header shows; a table past 90% warns before it drops.
func TestConntrackFinding(t *testing.T) {
	now := base(time.Second)
	now.Conntrack = &tcpinfo.Conntrack{Count: 64, Max: 64, Drop: 26, DropPerS: 13, RatesKnown: true}
	if f := conntrackFull(now); len(f) != 1 || f[0].Kind != "conntrack_full" || !strings.Contains(f[0].Title, "13 new connections dropped/s") {
		t.Errorf("dropping: %s", titles(f))
	}
	now.Conntrack = &tcpinfo.Conntrack{Count: 95, Max: 100}
	if f := conntrackFull(now); len(f) != 1 || f[0].Kind != "conntrack_near_full" {
		t.Errorf("95%%: %s", titles(f))
	}
}
