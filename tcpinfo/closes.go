package tcpinfo

import (
	"math"
	"net/netip"
	"time"
)

// Closes says what the kernel's destroy notifications told of the closes
// in the watched namespace since the collector began to listen: every
// connection that ended, including those born and gone between polls.
type Closes struct {
	// Watching says the notifications are being read; false with Err
	// says why not.
	Watching bool
	Err      string
	// Since is when listening began; Total counts the closes since, and
	// PerS is their rate, smoothed over about RateWindow.
	Since time.Time
	Total uint64
	PerS  float64
	// Lost counts the times the kernel dropped notifications because
	// tcpdash's socket buffer was full (ENOBUFS): each is at least one
	// close not counted, so the counts are then lower bounds.
	Lost uint64
	// Overflow counts closes to destinations past the bound on how many
	// are followed (MaxCloseDestinations): in Total, in no row.
	Overflow uint64
}

// RateWindow is the time constant of the smoothed rates: a step in the
// rate shows at 63% after it, 95% after three.
const RateWindow = 5 * time.Second

// MaxCloseDestinations bounds the destinations whose closes are followed.
// A destination idle for CloseIdle is forgotten, making room.
const (
	MaxCloseDestinations = 16384
	CloseIdle            = 5 * time.Minute
)

// A Rate is an event rate, exponentially smoothed: each event adds
// 1/RateWindow, and the sum decays by e^(-Δt/RateWindow). It is one
// number a row, however many events, and does not flap from one poll to
// the next as a count over a fixed window does when events arrive in
// bursts.
type Rate struct {
	v  float64
	at time.Duration // since the book's start
}

func (r *Rate) decay(t time.Duration) {
	if t > r.at {
		r.v *= math.Exp(-float64(t-r.at) / float64(RateWindow))
		r.at = t
	}
}

// add counts n events at t.
func (r *Rate) add(t time.Duration, n float64) {
	r.decay(t)
	r.v += n / RateWindow.Seconds()
}

// PerS is the rate at t, of a book that began listening `listened` ago:
// while listened is short next to RateWindow, the sum is scaled up by
// what the decay has not yet had time to cover.
func (r Rate) PerS(t, listened time.Duration) float64 {
	r.decay(t)
	if listened <= 0 {
		return 0
	}
	return r.v / (1 - math.Exp(-float64(listened)/float64(RateWindow)))
}

// A closeEvent is one destroyed socket, as the notification gave it.
type closeEvent struct {
	local, remote netip.AddrPort
	at            time.Duration // since the watch began
}

// closeRow is one destination's closes.
type closeRow struct {
	n    uint64
	rate Rate
}

// closeBook folds close events into counts per destination group (local
// address, remote address and port: a PressureGroup), the client side's
// closes. A server's side (its local port is listened on, or outside the
// ephemeral range) counts only in the total.
type closeBook struct {
	start    time.Time
	total    closeRow
	groups   map[groupKey]*closeRow
	overflow uint64
}

func newCloseBook(start time.Time) *closeBook {
	return &closeBook{start: start, groups: map[groupKey]*closeRow{}}
}

// fold counts events; ports and listening classify each as a client's
// close or not.
func (b *closeBook) fold(events []closeEvent, ports PortRange, listening func(uint16) bool) {
	for _, e := range events {
		b.total.n++
		b.total.rate.add(e.at, 1)
		lp := e.local.Port()
		if e.remote.Port() == 0 || !ports.Ephemeral(lp) || listening(lp) {
			continue
		}
		k := groupKey{local: e.local.Addr(), remote: e.remote.Addr(), port: e.remote.Port()}
		r := b.groups[k]
		if r == nil {
			if len(b.groups) >= MaxCloseDestinations {
				b.overflow++
				continue
			}
			r = &closeRow{}
			b.groups[k] = r
		}
		r.n++
		r.rate.add(e.at, 1)
	}
}

// forget drops the destinations idle for CloseIdle at now.
func (b *closeBook) forget(now time.Duration) {
	for k, r := range b.groups {
		if now-r.rate.at > CloseIdle {
			delete(b.groups, k)
		}
	}
}

// annotate puts the closes on snap's pressure rows and remote endpoints.
func (b *closeBook) annotate(snap *Snapshot, now time.Time) {
	t := now.Sub(b.start)
	for i := range snap.PortPressure {
		g := &snap.PortPressure[i]
		if r := b.groups[groupKey{local: g.Local, remote: g.Remote.Addr(), port: g.Remote.Port()}]; r != nil {
			g.Closes, g.ClosesPerS = r.n, r.rate.PerS(t, t)
		}
	}
	if len(snap.TopRemoteEndpoints) == 0 && len(snap.RemoteEndpointsFolded) == 0 {
		return
	}
	// An endpoint's closes are its groups', from every local address.
	type sum struct {
		n uint64
		r float64
	}
	byRemote := make(map[netip.AddrPort]sum, len(snap.TopRemoteEndpoints))
	for k, r := range b.groups {
		ep := netip.AddrPortFrom(k.remote, k.port)
		s := byRemote[ep]
		s.n += r.n
		s.r += r.rate.PerS(t, t)
		byRemote[ep] = s
	}
	for i := range snap.TopRemoteEndpoints {
		e := &snap.TopRemoteEndpoints[i]
		s := byRemote[e.Endpoint]
		e.Closes, e.ClosesPerS = s.n, s.r
	}
	for i := range snap.RemoteEndpointsFolded {
		e := &snap.RemoteEndpointsFolded[i]
		if e.Ports == 0 {
			s := byRemote[e.Endpoint]
			e.Closes, e.ClosesPerS = s.n, s.r
		}
	}
}

// stats is the book's whole, at now.
func (b *closeBook) stats(now time.Time) Closes {
	t := now.Sub(b.start)
	return Closes{Watching: true, Since: b.start, Total: b.total.n, PerS: b.total.rate.PerS(t, t), Overflow: b.overflow}
}
