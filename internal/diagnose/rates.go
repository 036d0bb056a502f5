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
	// Left is the time until it runs out of ports at Growth: 0 once it is
	// out of ports, -1 while it does not grow.
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
	if earlier != nil && earlier.Capacity > 0 && dt > 0 {
		r.Growth = float64(g.Used-earlier.Used) / dt
		r.Opens = max(0, r.Growth+float64(g.ExpiringTimeWait)/w)
		r.How = fmt.Sprintf("measured over %.0fs", dt)
	} else {
		in := min(float64(g.RecentTimeWait)/w, float64(g.FreshTimeWait)/tcpinfo.FreshWindow.Seconds())
		r.Growth = in - float64(g.ExpiringTimeWait)/w
		r.Opens = float64(g.RecentTimeWait) / w
		r.How = "from TIME_WAIT timers: the recent rate of closes, assumed to go on"
	}
	switch {
	case g.Exhausted():
		r.Left = 0
	case r.Growth > 0:
		r.Left = time.Duration(float64(g.Capacity-g.Used) / r.Growth * float64(time.Second))
	default:
		r.Left = -1
	}
	return r
}
