package tcpinfo

import (
	"cmp"
	"net/netip"

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
	// Port, when non-zero, counts in the tables only sockets with this
	// local or remote port.
	Port uint16
	// Addr, when valid, counts in the tables only sockets with this local
	// or remote address.
	Addr netip.Addr
	// Owners, when set, attributes sockets to processes.
	Owners *Owners
	// PID, when non-zero, counts in the tables only sockets of this
	// process (it needs Owners).
	PID int
}

// matches reports whether s counts in the tables under q. The state
// histogram, counters and expiry always count every socket.
func (q *Query) matches(s *Socket, owner int32) bool {
	if q.PID != 0 && (owner < 0 || !q.Owners.heldBy(s.Inode, owner, q.PID)) {
		return false
	}
	if q.Port != 0 && s.Local.Port() != q.Port && s.Remote.Port() != q.Port {
		return false
	}
	if q.Addr.IsValid() && s.Local.Addr() != q.Addr && s.Remote.Addr() != q.Addr {
		return false
	}
	return true
}

// keep reports whether a row with counts c stays under q.
func (q *Query) keep(c *StateCounts) bool { return q.State == 0 || c[q.State] > 0 }

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
