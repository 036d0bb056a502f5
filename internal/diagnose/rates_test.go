package diagnose

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// TestRatesOf: the one model of a group's rates, measured or from the
// timers, with its forecast: out of ports is 0 left, not growing is -1.
func TestRatesOf(t *testing.T) {
	then := group(18000, 17900, 4000, 0)
	r := RatesOf(group(20000, 19900, 4000, 500), &then, 5)
	if r.Growth != 400 || r.Opens != 450 || r.Left != time.Duration(float64(28232-20000)/400*float64(time.Second)) {
		t.Errorf("measured: %+v, want growth 400/s, opens 450/s, %s left", r, time.Duration(float64(28232-20000)/400*float64(time.Second)))
	}
	r = RatesOf(group(20000, 19900, 4000, 1000), nil, 0)
	if r.Growth != 400-100 || r.Opens != 400 {
		t.Errorf("from timers: %+v, want growth 300/s and opens 400/s", r)
	}
	if r := RatesOf(group(28232, 28000, 0, 0), nil, 0); r.Left != 0 {
		t.Errorf("out of ports: %v left, want 0", r.Left)
	}
	if r := RatesOf(group(1000, 900, 0, 0), nil, 0); r.Left != -1 {
		t.Errorf("not growing: %v left, want -1", r.Left)
	}
}

// TestTimeLeftFromTheTimers: with the TIME_WAIT sockets' time left, a
// ramp that levels off under the capacity is no exhaustion, one that
// does not is forecast where it crosses it, and connections held open
// keep taking ports after the first minute.
func TestTimeLeftFromTheTimers(t *testing.T) {
	// 30 s of a load test closing 200 connections a second: 2,000 in each
	// of the last three slots of time left, none expiring yet.
	slots := [tcpinfo.ExpirySlots]int{0, 0, 0, 2000, 2000, 2000}
	ramp := func(used int) tcpinfo.PressureGroup {
		g := group(used, 6000, 2000, 0)
		g.TimeWaitLeft = slots
		return g
	}
	seconds := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	for _, tc := range []struct {
		name       string
		used, then int // ports used now, and dt seconds before
		dt         float64
		want       time.Duration
	}{
		// 200/s levels off at 12,000 of 28,232; a line through the growth
		// said 111 s.
		{"levels off", 6000, 5000, 5, -1},
		// Measured growing 600/s: 18,000 taken in 30 s, then 400/s net as
		// the first 2,000 expire, 22,000 by 40 s; the last 232 ports free
		// take 0.58 s.
		{"crosses", 6000, 5000, 5.0 / 3, seconds(40.58)},
		// 250/s, of which TIME_WAIT comes in at 200/s: 50/s are held
		// open. 7,500 taken by 30 s, 9,000 by 60 s, then 50/s for the
		// 9,232 left of 28,232 - 10,000.
		{"held open", 10000, 9000, 4, seconds(60 + 9232.0/50)},
	} {
		earlier := ramp(tc.then)
		got := RatesOf(ramp(tc.used), &earlier, tc.dt).Left
		if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("%s: %v left, want %v", tc.name, got, tc.want)
		}
	}
	// Out of ports is out, whatever the timers say.
	if r := RatesOf(ramp(28232), nil, 0); r.Left != 0 {
		t.Errorf("out of ports: %v left, want 0", r.Left)
	}
}

// TestOpenerRateIsTheModels: the finding names the opener's rate as the
// one model gives it, the number the pressure pane's NEW/S shows, not a
// second estimate from the timers alone.
func TestOpenerRateIsTheModels(t *testing.T) {
	now, then := base(5*time.Second), base(0)
	g := group(20000, 19900, 4000, 500)
	g.Opener, g.OpenerSockets = tcpinfo.Owner{PID: 4242, Command: "java"}, 20000
	now.PortPressure, then.PortPressure = []tcpinfo.PressureGroup{g}, []tcpinfo.PressureGroup{group(18000, 17900, 4000, 0)}
	f := Diagnose(now, then, nil)
	want := fmt.Sprintf("opens %s connections/s", fmtRate(RatesOf(g, &then.PortPressure[0], 5).Opens))
	if len(f) == 0 || !strings.Contains(strings.Join(f[0].Evidence, " "), want) {
		t.Errorf("want the evidence to say %q:\n%v", want, f)
	}
}

// TestTimeLeftWithReuse: where connect() takes over TIME_WAIT ports after
// a second, closes into TIME_WAIT hold a port a second; only what is held
// open runs a group out, and no advice sets tcp_tw_reuse=1 for it.
func TestTimeLeftWithReuse(t *testing.T) {
	g := group(1400, 1400, 1000, 0) // 100 closes a second into TIME_WAIT
	g.Local, g.Remote, g.Capacity = netip.MustParseAddr("127.0.0.1"), netip.MustParseAddrPort("127.0.0.5:3306"), 1500
	g.TimeWaitLeft = [tcpinfo.ExpirySlots]int{0, 0, 0, 0, 400, 1000}
	g.ReuseAfter, g.ReusableTimeWait = time.Second, 1200
	if g.Exhausted() {
		t.Errorf("%d of %d used, %d reusable: out of ports", g.Used, g.Capacity, g.ReusableTimeWait)
	}
	if r := RatesOf(g, nil, 0); r.Left != -1 {
		t.Errorf("closes alone: %v left, want -1 (never)", r.Left)
	}
	// 20 more a second held open: the 1,300 ports left less the 100 the
	// closes hold take 60 s.
	then := g
	then.Used -= 240
	then.TimeWait -= 200
	if r := RatesOf(g, &then, 2); r.Left != time.Minute {
		t.Errorf("20/s held open: %v left, want 1m0s", r.Left)
	}
	// Closes into TIME_WAIT at 100/s whose ports connect() takes over
	// leave the group's count still: they are opened all the same.
	then = g
	if r := RatesOf(g, &then, 2); r.Growth != 0 || r.Opens != 100 || r.Left != -1 {
		t.Errorf("reused at 100/s: growth %v, opens %v, %v left; want 0, 100, never", r.Growth, r.Opens, r.Left)
	}
	for _, r := range ForPressure("why", g, []tuning.Setting{{Tunable: tuning.Tunable{Key: "net.ipv4.tcp_tw_reuse"}, Value: "2", Exists: true}}, nil) {
		if r.Key == "net.ipv4.tcp_tw_reuse" {
			t.Errorf("advised tcp_tw_reuse=%s for a group that reuses its TIME_WAIT", r.Value)
		}
	}
}

// TestHeldNotUsed: a finding about a group with reusable TIME_WAIT gives
// the share it holds as held, not under the pane's "used" (USE%), which
// counts those ports.
func TestHeldNotUsed(t *testing.T) {
	g := group(1480, 1480, 100, 0)
	g.Local, g.Remote, g.Capacity, g.Ratio = netip.MustParseAddr("127.0.0.1"), netip.MustParseAddrPort("127.0.0.5:3306"), 1500, 1480.0/1500
	g.ReuseAfter, g.ReusableTimeWait = time.Second, 400
	now := &tcpinfo.Snapshot{PortPressure: []tcpinfo.PressureGroup{g}}
	f := find(Diagnose(now, nil, nil), "127.0.0.5:3306")
	if f == nil || !strings.Contains(f.Title, "holds 72% of its 1,500 ports") || strings.Contains(f.Title, "uses") {
		t.Errorf("finding %+v; want 'holds 72%% of its 1,500 ports'", f)
	}
	// The advice says it the same way, wherever it gives the share.
	settings := settingsOf(map[string]string{"net.ipv4.ip_local_port_range": "64000 65499", "net.ipv4.tcp_tw_reuse": "2"})
	recs := Recommend(now, nil, settings, nil)
	if len(recs) == 0 {
		t.Fatal("no advice for a group holding 72%")
	}
	said := 0 // advice that gives the share: at least one must, or this checks nothing
	for _, r := range recs {
		if strings.Contains(r.Reason, "72%") {
			said++
		}
		if strings.Contains(r.Reason, "uses 72%") || strings.Contains(r.Reason, "72%") && !strings.Contains(r.Reason, "holds 72% of its 1,500 ports") {
			t.Errorf("advice %s: %q; want the held share called held", r.Key, r.Reason)
		}
	}
	if said == 0 {
		t.Errorf("no advice gives the group's share: %+v", recs)
	}
}
