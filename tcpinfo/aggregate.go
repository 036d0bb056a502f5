package tcpinfo

import (
	"cmp"
	"net/netip"
	"time"
)

// expiryBuckets are the TIME_WAIT expiry histogram's upper bounds.
const (
	expiryStep    = 10 * time.Second
	expiryBuckets = 6 // 10 s … 60 s; TCP_TIMEWAIT_LEN is 60 s
)

// An Aggregator folds a stream of sockets into the counts of a Snapshot.
// It keeps no per-socket data: its tables are sized by distinct ports,
// endpoints and destination groups, and are reused across Resets, so
// adding a socket allocates nothing once the tables have grown.
type Aggregator struct {
	ports PortRange

	total    int
	states   StateCounts
	families FamilyCounts

	local, remote portTable

	endpointIndex map[netip.AddrPort]int
	endpoints     []EndpointCount

	groupIndex map[groupKey]int
	groups     []PressureGroup

	expiry [expiryBuckets]int
}

// portTable counts sockets by port without a map: index maps a port to
// its row in rows, 1-based so that zero means no row. The index is 256 KiB
// and the rows grow with distinct ports, which keeps the live heap, and
// with it the GC's heap goal, small.
type portTable struct {
	index *[1 << 16]uint32
	rows  []PortCount
}

func (t *portTable) add(port uint16, s State) {
	if t.index == nil {
		t.index = new([1 << 16]uint32)
	}
	i := t.index[port]
	if i == 0 {
		t.rows = append(t.rows, PortCount{Port: port})
		i = uint32(len(t.rows))
		t.index[port] = i
	}
	t.rows[i-1].States[s]++
}

func (t *portTable) reset() {
	for _, r := range t.rows {
		t.index[r.Port] = 0
	}
	t.rows = t.rows[:0]
}

type groupKey struct {
	local, remote netip.Addr
	port          uint16
}

// NewAggregator returns an aggregator that measures port pressure against
// ports, the ephemeral range in force.
func NewAggregator(ports PortRange) *Aggregator {
	return &Aggregator{
		ports:         ports,
		endpointIndex: make(map[netip.AddrPort]int),
		groupIndex:    make(map[groupKey]int),
	}
}

// Reset empties the counts for the next dump and sets the port range.
func (a *Aggregator) Reset(ports PortRange) {
	a.ports = ports
	a.total = 0
	a.states = StateCounts{}
	a.families = FamilyCounts{}
	a.local.reset()
	a.remote.reset()
	clear(a.endpointIndex)
	a.endpoints = a.endpoints[:0]
	clear(a.groupIndex)
	a.groups = a.groups[:0]
	a.expiry = [expiryBuckets]int{}
}

// Add counts one socket.
func (a *Aggregator) Add(s *Socket) {
	st := s.State
	if !st.Valid() {
		return
	}
	a.total++
	a.states[st]++
	if s.Family == IPv6 {
		a.families.IPv6++
	} else {
		a.families.IPv4++
	}
	lport := s.Local.Port()
	a.local.add(lport, st)

	if st == TimeWait {
		i := int((s.Expires + expiryStep - 1) / expiryStep)
		a.expiry[min(max(i, 1), expiryBuckets)-1]++
	}

	// A listener's peer is the wildcard: it is nobody's remote end.
	rport := s.Remote.Port()
	if st == Listen || rport == 0 {
		return
	}
	a.remote.add(rport, st)

	i, ok := a.endpointIndex[s.Remote]
	if !ok {
		i = len(a.endpoints)
		a.endpointIndex[s.Remote] = i
		a.endpoints = append(a.endpoints, EndpointCount{Endpoint: s.Remote})
	}
	a.endpoints[i].States[st]++

	if !a.ports.Ephemeral(lport) {
		return
	}
	key := groupKey{s.Local.Addr(), s.Remote.Addr(), rport}
	g, ok := a.groupIndex[key]
	if !ok {
		g = len(a.groups)
		a.groupIndex[key] = g
		a.groups = append(a.groups, PressureGroup{Local: key.local, Remote: netip.AddrPortFrom(key.remote, rport)})
	}
	a.groups[g].Used++
	if st == TimeWait {
		a.groups[g].TimeWait++
	}
}

// Fill writes the aggregate into snap, each table cut to its top n rows.
// It reuses snap's slices.
func (a *Aggregator) Fill(snap *Snapshot, n int) {
	snap.Total = a.total
	snap.States = a.states
	snap.Families = a.families
	snap.PortRange = a.ports

	snap.TopLocalPorts = a.local.top(snap.TopLocalPorts[:0], n)
	snap.TopRemotePorts = a.remote.top(snap.TopRemotePorts[:0], n)

	snap.TopRemoteEndpoints = topN(snap.TopRemoteEndpoints[:0], n, len(a.endpoints),
		func(i int) EndpointCount { return a.endpoints[i] }, compareEndpoints)

	capacity := a.ports.Capacity()
	snap.PortPressure = topN(snap.PortPressure[:0], n, len(a.groups), func(i int) PressureGroup {
		g := a.groups[i]
		g.Capacity = capacity
		if capacity > 0 {
			g.Ratio = float64(g.Used) / float64(capacity)
		}
		return g
	}, comparePressure)

	snap.TimeWaitExpiry = snap.TimeWaitExpiry[:0]
	sum := 0
	for i, c := range a.expiry {
		sum += c
		snap.TimeWaitExpiry = append(snap.TimeWaitExpiry, ExpiryBucket{Within: time.Duration(i+1) * expiryStep, Count: sum})
	}
}

func (t *portTable) top(dst []PortCount, n int) []PortCount {
	return topN(dst, n, len(t.rows), func(i int) PortCount { return t.rows[i] }, comparePorts)
}

func comparePorts(a, b PortCount) int {
	return cmp.Or(cmp.Compare(b.States.Total(), a.States.Total()), cmp.Compare(a.Port, b.Port))
}

func compareEndpoints(a, b EndpointCount) int {
	return cmp.Or(cmp.Compare(b.States.Total(), a.States.Total()),
		cmp.Compare(a.Endpoint.Port(), b.Endpoint.Port()),
		a.Endpoint.Addr().Compare(b.Endpoint.Addr()))
}

func comparePressure(a, b PressureGroup) int {
	return cmp.Or(cmp.Compare(b.Ratio, a.Ratio), cmp.Compare(b.Used, a.Used),
		cmp.Compare(a.Remote.Port(), b.Remote.Port()),
		a.Remote.Addr().Compare(b.Remote.Addr()), a.Local.Compare(b.Local))
}

// topN appends to dst the n smallest of count items under compare, in
// order, in O(count·log n) without sorting everything: the tables can hold
// tens of thousands of rows and only the top few are shown.
func topN[T any](dst []T, n, count int, at func(int) T, compare func(a, b T) int) []T {
	if n <= 0 {
		return dst
	}
	for i := range count {
		v := at(i)
		if len(dst) == n && compare(v, dst[n-1]) >= 0 {
			continue
		}
		// Binary search for the insertion point, then shift.
		lo, hi := 0, len(dst)
		for lo < hi {
			mid := (lo + hi) / 2
			if compare(v, dst[mid]) < 0 {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		if len(dst) < n {
			var zero T
			dst = append(dst, zero)
		}
		copy(dst[lo+1:], dst[lo:len(dst)-1])
		dst[lo] = v
	}
	return dst
}
