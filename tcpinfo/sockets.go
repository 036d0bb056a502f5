package tcpinfo

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/tcpdash/tcpdash/internal/filter"
)

// A SocketFilter picks the sockets behind one row of a table, for a
// drill-down: every field that is set must match.
type SocketFilter struct {
	State                 State
	LocalPort, RemotePort uint16
	LocalAddr, RemoteAddr netip.Addr
	// ClientPorts matches the folded local row: local ports in the
	// ephemeral range that no socket listens on. PeerPorts matches a
	// folded endpoint: remote ports in the ephemeral range.
	ClientPorts, PeerPorts bool
	PID                    int    // needs Owners
	Cgroup                 uint64 // full sockets only: TIME_WAIT has none
	// View is the filter the dashboard's tables are under: the row's
	// sockets are those it selects too.
	View *filter.Filter
}

// program is the part of f the kernel can check, with the view's filter:
// the drill-down is compiled by the same compiler as --filter, and the
// rest of f is checked here.
func (f *SocketFilter) program() *filter.Filter {
	var words []string
	if f.State != 0 {
		words = append(words, "state "+f.State.String())
	}
	if f.LocalPort != 0 {
		words = append(words, fmt.Sprintf("sport = :%d", f.LocalPort))
	}
	if f.RemotePort != 0 {
		words = append(words, fmt.Sprintf("dport = :%d", f.RemotePort))
	}
	host := func(kw string, a netip.Addr) {
		switch {
		case !a.IsValid() || a.Zone() != "":
		case a.Is4():
			words = append(words, kw+" "+a.String())
		default:
			words = append(words, kw+" ["+a.String()+"]")
		}
	}
	host("src", f.LocalAddr)
	host("dst", f.RemoteAddr)
	if len(words) == 0 {
		return f.View
	}
	row, err := filter.Parse(strings.Join(words, " "))
	if err != nil {
		return f.View // cannot happen: the words are made here; the Go match still holds
	}
	return filter.And(f.View, row)
}

// A SocketRow is one socket of a drill-down and its owner, if known.
type SocketRow struct {
	Socket
	Owner Owner
	// Opened says Owner is the process that opened the connection (an
	// event source's), not one holding the socket now.
	Opened bool
}

// Sockets lists up to limit sockets that f picks, as ss -tano lists
// them, and how many match in all. The dump is filtered here, as it reads:
// nothing per socket is kept but the rows returned.
func (c *Collector) Sockets(f SocketFilter, owners *Owners, limit int) ([]SocketRow, int, error) {
	var ports PortRange
	err := c.inNamespace(func() (err error) {
		ports, err = ReadPortRange(c.opts.SysctlRoot)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	// Which local ports have a listener: a client port is one without.
	listening := map[uint16]bool{}
	if f.ClientPorts {
		if err := c.eachListener(func(p uint16) { listening[p] = true }); err != nil {
			return nil, 0, err
		}
	}
	var rows []SocketRow
	n := 0
	err = c.dump(f.program(), ports, func(s *Socket) {
		if !f.matches(s, ports, listening, owners) {
			return
		}
		n++
		if len(rows) < limit {
			r := SocketRow{Socket: *s}
			var ok bool
			if r.Owner, ok = owners.Lookup(s.Inode); !ok && c.opts.Openers != nil {
				// No process holds it (TIME_WAIT), or the walk is older: its
				// opener, if the event source saw the connect().
				if op, found := c.opts.Openers.Opener(s.Local, s.Remote); found {
					r.Owner, r.Opened = Owner{PID: op.PID, Command: op.Command}, true
				}
			}
			rows = append(rows, r)
		}
	}, nil)
	return rows, n, err
}

func (f *SocketFilter) matches(s *Socket, ports PortRange, listening map[uint16]bool, owners *Owners) bool {
	switch {
	case f.State != 0 && s.State != f.State,
		f.LocalPort != 0 && s.Local.Port() != f.LocalPort,
		f.RemotePort != 0 && s.Remote.Port() != f.RemotePort,
		f.LocalAddr.IsValid() && s.Local.Addr() != f.LocalAddr,
		f.RemoteAddr.IsValid() && s.Remote.Addr() != f.RemoteAddr,
		f.ClientPorts && (s.State == Listen || !ports.Ephemeral(s.Local.Port()) || listening[s.Local.Port()]),
		f.PeerPorts && (s.State == Listen || !ports.Ephemeral(s.Remote.Port())),
		f.Cgroup != 0 && s.Cgroup != f.Cgroup:
		return false
	case f.PID != 0:
		i, ok := owners.byInodeOK(s.Inode)
		return ok && owners.heldBy(s.Inode, i, f.PID)
	}
	return true
}

// byInodeOK is the first holder's index of a socket, if any.
func (o *Owners) byInodeOK(inode uint32) (int32, bool) {
	if o == nil || inode == 0 {
		return 0, false
	}
	i, ok := o.byInode[inode]
	return i, ok
}
