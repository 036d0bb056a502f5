package tcpinfo

import (
	"cmp"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/tcpdash/tcpdash/internal/humanize"
)

// The folded tables put servers first. A host under a load test holds
// thousands of client sockets, each on its own ephemeral port: listed one
// by one they push the server ports, and the servers' peers, off the
// table.

// A FoldedPort is a row of the folded local ports: one port, or, when
// Ports > 0, every ephemeral port that no socket listens on (client
// sockets) as one row.
type FoldedPort struct {
	Port   uint16
	Ports  int
	States StateCounts
}

// A FoldedEndpoint is a row of the folded remote endpoints: one endpoint,
// or, when Ports > 0, a peer's ephemeral ports as one row (addr:*).
type FoldedEndpoint struct {
	Endpoint netip.AddrPort // port 0 when folded
	Ports    int
	States   StateCounts
	// Closes and ClosesPerS as on EndpointCount; unfolded rows only.
	Closes     uint64
	ClosesPerS float64
}

// A portFold folds the local ports as they are counted: client ports in
// the ephemeral range (no socket listens on them) become one row.
type portFold struct {
	rows      []FoldedPort
	eph       FoldedPort
	ephStates [NumStates]uint32 // summed as they are: the client ports are most rows
}

func (f *portFold) add(ephemeral PortRange, r *portRow) {
	if ephemeral.Ephemeral(r.port) && r.states[Listen] == 0 {
		f.eph.Ports++
		for s, n := range r.states {
			f.ephStates[s] += n
		}
		return
	}
	c := r.count()
	f.rows = append(f.rows, FoldedPort{Port: c.Port, States: c.States})
}

// top appends the n folded rows q ranks first.
func (f *portFold) top(dst []FoldedPort, n int, q *Query) []FoldedPort {
	rows := f.rows
	if f.eph.Ports > 0 {
		for s, n := range f.ephStates {
			f.eph.States[s] = int(n)
		}
		rows = append(rows, f.eph)
	}
	return topN(dst, n, len(rows), func(i int) (FoldedPort, bool) { return rows[i], q.keep(&rows[i].States) },
		func(x, y FoldedPort) int {
			return cmp.Or(cmp.Compare(q.rankOf(&y.States), q.rankOf(&x.States)), cmp.Compare(y.States.Total(), x.States.Total()),
				cmp.Compare(x.Ports, y.Ports), cmp.Compare(x.Port, y.Port))
		})
}

// foldRemote folds the remote endpoints table: a peer's ports in the
// ephemeral range (its clients' ports, connecting to our servers) become
// one row per address. The noted peers come sorted by address, so an
// address's ports are folded as they go by; only an address that also
// has a row needs looking up.
func (a *Aggregator) foldRemote(dst []FoldedEndpoint, n int, q *Query) []FoldedEndpoint {
	top := best[FoldedEndpoint]{rows: dst, n: n, compare: q.compareFolded}
	offer := func(f *FoldedEndpoint) {
		if q.keep(&f.States) {
			top.offer(*f)
		}
	}
	byAddr := map[netip.Addr]int{}
	rows := make([]FoldedEndpoint, 0, 16)
	for i := range a.endpoints {
		e := a.endpoints[i].count()
		if !a.ports.Ephemeral(e.Endpoint.Port()) {
			offer(&FoldedEndpoint{Endpoint: e.Endpoint, States: e.States})
			continue
		}
		i, ok := byAddr[e.Endpoint.Addr()]
		if !ok {
			i = len(rows)
			byAddr[e.Endpoint.Addr()] = i
			rows = append(rows, FoldedEndpoint{Endpoint: netip.AddrPortFrom(e.Endpoint.Addr(), 0)})
		}
		rows[i].Ports++
		rows[i].States.add(&e.States)
	}
	var cur FoldedEndpoint
	var at peerKey // cur's address; port 1 while cur holds one
	done := func() {
		if at.port == 0 {
			return
		}
		if i, ok := byAddr[cur.Endpoint.Addr()]; ok {
			rows[i].Ports += cur.Ports
			rows[i].States.add(&cur.States)
		} else {
			offer(&cur)
		}
		at.port = 0
	}
	a.peers.each(func(k peerKey, c *StateCounts) {
		if !a.ports.Ephemeral(k.port) {
			offer(&FoldedEndpoint{Endpoint: k.endpoint(), States: *c})
			return
		}
		if at.port != 0 && (k.hi != at.hi || k.lo != at.lo) {
			done()
		}
		if at.port == 0 {
			at = peerKey{k.hi, k.lo, 1}
			cur = FoldedEndpoint{Endpoint: netip.AddrPortFrom(k.endpoint().Addr(), 0)}
		}
		cur.Ports++
		cur.States.add(c)
	})
	done()
	for i := range rows {
		offer(&rows[i])
	}
	return top.rows
}

func (q *Query) compareFolded(x, y FoldedEndpoint) int {
	return cmp.Or(cmp.Compare(q.rankOf(&y.States), q.rankOf(&x.States)), cmp.Compare(y.States.Total(), x.States.Total()),
		cmp.Compare(x.Endpoint.Port(), y.Endpoint.Port()), x.Endpoint.Addr().Compare(y.Endpoint.Addr()))
}

// add adds o's counts to c.
func (c *StateCounts) add(o *StateCounts) {
	for i := range c {
		c[i] += o[i]
	}
}

// Label names the row: "8080", or "ephemeral 32768-60999 · 4210 ports"
// (without the range when ephemeral is the zero PortRange).
func (r FoldedPort) Label(ephemeral PortRange) string {
	switch {
	case r.Ports == 0:
		return strconv.Itoa(int(r.Port))
	case ephemeral == (PortRange{}):
		return fmt.Sprintf("ephemeral · %s ports", humanize.Int(r.Ports))
	}
	return fmt.Sprintf("ephemeral %s · %s ports", ephemeral, humanize.Int(r.Ports))
}

// String names the row: "10.0.0.5:3306", or "10.0.1.7:*".
func (r FoldedEndpoint) String() string {
	if r.Ports == 0 {
		return r.Endpoint.String()
	}
	host := r.Endpoint.Addr().String()
	if r.Endpoint.Addr().Is6() {
		host = "[" + host + "]"
	}
	return host + ":*"
}
