package tcpinfo

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// DestinationHealth is how the connections to one destination fare, from
// their tcp_info: what ss -ti shows per socket, summed per destination.
// Only a client's established sockets count (a local port in the
// ephemeral range that nothing listens on): the destination is theirs.
type DestinationHealth struct {
	Remote netip.AddrPort
	// Cgroup is the service the sockets came from, in a row of
	// Snapshot.HealthByCgroup (Remote is then zero); CgroupName its name.
	Cgroup     uint64
	CgroupName string
	Sockets    int
	// RTT quantiles over the sockets' smoothed RTTs, and the lowest RTT
	// any of them has seen.
	RTTP50, RTTP99, MinRTT time.Duration
	// RetransTotal sums the sockets' retransmitted segments over their
	// lives, SegsOut the segments they sent; Lost and Unacked are now.
	RetransTotal, SegsOut uint64
	Lost, Unacked         uint64
	// DeliveryRate sums the sockets' delivery rates, in bytes a second.
	DeliveryRate uint64
	// RetransPerS and BytesPerS are measured between two snapshots, over
	// the sockets open at both (the collector's, for streams).
	RetransPerS, BytesPerS float64
	RatesKnown             bool
	bytesAcked             uint64
}

// RetransPct is the share of its segments retransmitted, in percent.
func (h DestinationHealth) RetransPct() float64 {
	if h.SegsOut == 0 {
		return 0
	}
	return 100 * float64(h.RetransTotal) / float64(h.SegsOut)
}

// maxHealthDestinations bounds the destinations followed in one dump.
const maxHealthDestinations = 10000

// healthBook gathers tcp_info per destination (or per cgroup) during a
// dump.
type healthBook[K comparable] struct {
	index map[K]int
	rows  []healthRow
	// overflow counts sockets to destinations past the bound.
	overflow int
}

type healthRow struct {
	DestinationHealth
	rtts []uint32
	// cookies and their retrans and bytes at this dump, for the rates.
	sockets []sockSample
}

type sockSample struct {
	cookie     uint64
	retrans    uint32
	bytesAcked uint64
}

func (b *healthBook[K]) reset() {
	clear(b.index)
	for i := range b.rows {
		b.rows[i].rtts, b.rows[i].sockets = b.rows[i].rtts[:0], b.rows[i].sockets[:0]
	}
	b.rows, b.overflow = b.rows[:0], 0
}

// add counts an established client socket's tcp_info under key k; head
// is what its row is, when new.
func (b *healthBook[K]) add(k K, head DestinationHealth, s *Socket) {
	if b.index == nil {
		b.index = map[K]int{}
	}
	i, ok := b.index[k]
	if !ok {
		if len(b.rows) >= maxHealthDestinations {
			b.overflow++
			return
		}
		i = len(b.rows)
		b.index[k] = i
		if i < cap(b.rows) {
			b.rows = b.rows[:i+1]
			r := &b.rows[i]
			r.DestinationHealth, r.rtts, r.sockets = head, r.rtts[:0], r.sockets[:0]
		} else {
			b.rows = append(b.rows, healthRow{DestinationHealth: head})
		}
	}
	r := &b.rows[i]
	in := &s.Info
	r.Sockets++
	r.rtts = append(r.rtts, in.RTT)
	if m := time.Duration(in.MinRTT) * time.Microsecond; in.MinRTT > 0 && (r.MinRTT == 0 || m < r.MinRTT) {
		r.MinRTT = m
	}
	r.RetransTotal += uint64(in.TotalRetrans)
	r.SegsOut += uint64(in.SegsOut)
	r.Lost += uint64(in.Lost)
	r.Unacked += uint64(in.Unacked)
	r.DeliveryRate += in.DeliveryRate
	r.bytesAcked += in.BytesAcked
	r.sockets = append(r.sockets, sockSample{s.Cookie, in.TotalRetrans, in.BytesAcked})
}

// fill writes the top n destinations, most retransmitting first, with
// their rates measured against prev (the last snapshot's samples, by
// cookie) over dt.
func (b *healthBook[K]) fill(n int, prev map[uint64]sockSample, dt time.Duration) []DestinationHealth {
	out := make([]DestinationHealth, 0, min(n, len(b.rows)))
	for i := range b.rows {
		r := &b.rows[i]
		slices.Sort(r.rtts)
		q := func(p float64) time.Duration {
			return time.Duration(r.rtts[min(int(p*float64(len(r.rtts))), len(r.rtts)-1)]) * time.Microsecond
		}
		r.RTTP50, r.RTTP99 = q(0.5), q(0.99)
		var retrans, bytes uint64
		for _, s := range r.sockets {
			if s.cookie == 0 {
				continue
			}
			if p, ok := prev[s.cookie]; ok {
				retrans += uint64(s.retrans - min(s.retrans, p.retrans))
				bytes += s.bytesAcked - min(s.bytesAcked, p.bytesAcked)
			}
		}
		if prev != nil && dt > 0 {
			r.RetransPerS, r.BytesPerS, r.RatesKnown = float64(retrans)/dt.Seconds(), float64(bytes)/dt.Seconds(), true
		}
		out = append(out, r.DestinationHealth)
	}
	slices.SortFunc(out, func(a, b DestinationHealth) int {
		return cmp.Or(cmp.Compare(b.RetransPerS, a.RetransPerS), cmp.Compare(b.RetransPct(), a.RetransPct()),
			cmp.Compare(b.Sockets, a.Sockets), a.Remote.Addr().Compare(b.Remote.Addr()), cmp.Compare(a.Remote.Port(), b.Remote.Port()),
			cmp.Compare(a.Cgroup, b.Cgroup))
	})
	return out[:min(n, len(out))]
}

// samples puts this dump's samples, by cookie, for the next fill's rates,
// into into (the last dump's, read by now: a poll a second reuses its
// map rather than growing a new one) and returns it.
func (b *healthBook[K]) samples(into map[uint64]sockSample) map[uint64]sockSample {
	next := into
	if next == nil {
		next = make(map[uint64]sockSample)
	}
	clear(next)
	for i := range b.rows {
		for _, s := range b.rows[i].sockets {
			if s.cookie != 0 {
				next[s.cookie] = s
			}
		}
	}
	return next
}
