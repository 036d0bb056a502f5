package diagnose

import (
	"fmt"
	"time"

	"github.com/tcpdash/tcpdash/tcpinfo"
)

// GroupRates is the one model of how a destination group moves: the
// finding's forecast, the pressure pane's NEW/S and the exporter's
// exhaustion series all read it, so the screen never shows two rates for
// one thing.
type GroupRates struct {
	// Growth is the net change of its used ports, per second.
	Growth float64
	// Opens is its new connections per second: the growth plus the ports
	// its expiring TIME_WAIT sockets free meanwhile.
	Opens float64
	// Left is the time until it runs out of ports if connections keep
	// coming at the rate they do (see timeLeft): 0 once it is out of
	// ports, -1 if it never runs out at that rate.
	Left time.Duration
	// How says where the rates come from.
	How string
}

// RatesOf is g's rates, from an earlier sighting dt seconds before (nil if
// none) or else the kernel's TIME_WAIT timers: sockets younger than ten
// seconds came in, those expiring within ten seconds go out. The timers'
// inflow is the lesser of the last ten and the last two seconds' rate, so
// that a burst which has ended does not read as a rate that goes on.
func RatesOf(g tcpinfo.PressureGroup, earlier *tcpinfo.PressureGroup, dt float64) GroupRates {
	var r GroupRates
	w := tcpinfo.RecentWindow.Seconds()
	out := float64(g.ExpiringTimeWait()) / w // ports their timers free a second
	var in float64                           // ports taken a second: the growth and what is freed
	if earlier != nil && earlier.Capacity > 0 && dt > 0 {
		r.Growth = float64(g.Used-earlier.Used) / dt
		in = max(0, r.Growth+out)
		r.Opens = in
		if g.ReuseAfter > 0 {
			// A connection that takes over a TIME_WAIT port neither grows
			// the group nor waits for an expiry: its close, a TIME_WAIT
			// the timers see, says it was opened. The youngest are the
			// fewest taken over since.
			r.Opens = max(r.Opens, float64(g.RecentTimeWait)/w, float64(g.FreshTimeWait)/tcpinfo.FreshWindow.Seconds())
		}
		r.How = fmt.Sprintf("measured over %.0fs", dt)
	} else {
		in = min(float64(g.RecentTimeWait)/w, float64(g.FreshTimeWait)/tcpinfo.FreshWindow.Seconds())
		r.Growth = in - out
		r.Opens = float64(g.RecentTimeWait) / w
		r.How = "from TIME_WAIT timers: the recent rate of closes, assumed to go on"
	}
	r.Left = timeLeft(g, r.Growth, in)
	return r
}

// timeLeft is when g runs out of ports if in ports a second keep being
// taken: 0 if it is out already, -1 if it never is at that rate.
//
// A port taken now is held for at least TimeWaitLength when this host
// closes first, so within it only the TIME_WAIT sockets there are now free
// ports, as their timers say (g.TimeWaitLeft; evenly within a slot). A
// load test's first minute grows at its whole rate, yet levels off at
// rate × 60 s: below the capacity, that is no exhaustion, which a line
// through the growth forecast. After TimeWaitLength, what came in as
// TIME_WAIT (RecentTimeWait's rate) frees as fast as it comes; only the
// rest of the inflow, connections held open, keeps taking ports. Where
// connect() takes over TIME_WAIT ports (g.ReuseAfter), a close holds its
// port that long instead. Without the timers (a recording made before
// them), the line through growth.
func timeLeft(g tcpinfo.PressureGroup, growth, in float64) time.Duration {
	if g.Exhausted() {
		return 0
	}
	if in <= 0 {
		return -1
	}
	seconds := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	step := tcpinfo.RecentWindow.Seconds()
	twIn := min(in, float64(g.RecentTimeWait)/step) // closes into TIME_WAIT
	heldOpen := in - twIn
	if g.ReuseAfter > 0 {
		free := float64(g.Capacity-g.Held()) - twIn*g.ReuseAfter.Seconds()
		if heldOpen <= 0 {
			return -1
		}
		return seconds(max(0, free) / heldOpen)
	}
	free := float64(g.Capacity - g.Used)
	known := 0
	for _, n := range g.TimeWaitLeft {
		known += n
	}
	if known != g.TimeWait {
		if growth <= 0 {
			return -1
		}
		return seconds(free / growth)
	}
	taken := 0.0 // ports taken since now, net of those freed
	for i, n := range g.TimeWaitLeft {
		slope := in - float64(n)/step
		if slope > 0 && taken+slope*step >= free {
			return seconds(float64(i)*step + (free-taken)/slope)
		}
		taken += slope * step
	}
	if heldOpen <= 0 {
		return -1
	}
	return seconds(tcpinfo.TimeWaitLength.Seconds() + (free-taken)/heldOpen)
}
