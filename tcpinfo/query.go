package tcpinfo

import (
	"cmp"

	"github.com/tcpdash/tcpdash/internal/filter"
)

// A Query picks and orders the rows of a snapshot's tables. The zero
// Query keeps every row and orders by total. Because it is applied while
// aggregating, the top rows it yields are exact, however many rows there
// are.
type Query struct {
	// Filter, when set, selects the sockets the snapshot is about: every
	// count in it, the state histogram included, is over the sockets it
	// matches. On netlink the kernel runs it, as a program.
	Filter *filter.Filter
	// State keeps only rows with sockets in this state; 0 keeps all.
	State State
	// Rank orders rows by their count in this state; 0 orders by the
	// State filter's count if there is one, else by total.
	Rank State
	// Narrow, when set, counts in the tables (local ports, remote
	// endpoints, cgroups) only the sockets it matches, evaluated here over
	// the whole dump: the state histogram, counters, listeners, processes
	// and port pressure still count every socket, so no finding drawn
	// from them is silenced. This is the dashboard's filter; Filter is
	// --once's, which narrows everything and is cheaper (the kernel runs
	// it).
	Narrow *filter.Filter
	// Owners, when set, attributes sockets to processes.
	Owners *Owners
	// Openers, when set, names the process that opened a connection no
	// process holds any more (its TIME_WAIT) or that the walk did not see,
	// by its addresses: an event source's record of every connect().
	Openers OpenerIndex
	// PID, when non-zero, counts in the tables only sockets of this
	// process (it needs Owners).
	PID int
}

// matches reports whether s counts in the tables under q. The state
// histogram, counters, expiry, processes and port pressure always count
// every socket.
// e is the caller's, reused for every socket.
func (q *Query) matches(s *Socket, owner int32, ports PortRange, e *filter.Entry) bool {
	if q.PID != 0 && (owner < 0 || !q.Owners.heldBy(s.Inode, owner, q.PID)) {
		return false
	}
	if q.Narrow != nil {
		*e = entryOf(s)
		e.Autobound = ports.Autobound(s.Local.Port())
		return q.Narrow.Matches(e)
	}
	return true
}

// keep reports whether a row with counts c stays under q.
func (q *Query) keep(c *StateCounts) bool {
	if q.State != 0 {
		return c[q.State] > 0
	}
	return c.Total() > 0 // a destination row kept for pressure, every socket narrowed out
}

// rankOf is the count a row is ordered by.
func (q *Query) rankOf(c *StateCounts) int {
	switch {
	case q.Rank != 0:
		return c[q.Rank]
	case q.State != 0:
		return c[q.State]
	}
	return c.Total()
}

func (q *Query) compareEndpoints(a, b EndpointCount) int {
	return cmp.Or(cmp.Compare(q.rankOf(&b.States), q.rankOf(&a.States)),
		cmp.Compare(b.States.Total(), a.States.Total()),
		cmp.Compare(a.Endpoint.Port(), b.Endpoint.Port()),
		a.Endpoint.Addr().Compare(b.Endpoint.Addr()))
}

func (q *Query) compareCgroups(a, b CgroupCount) int {
	return cmp.Or(cmp.Compare(q.rankOf(&b.States), q.rankOf(&a.States)),
		cmp.Compare(b.States.Total(), a.States.Total()), cmp.Compare(a.ID, b.ID))
}
