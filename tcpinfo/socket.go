package tcpinfo

import (
	"net/netip"
	"strconv"
	"time"
)

// A Family is an address family of a dump.
type Family uint8

// Address families, with the kernel's values.
const (
	// BothFamilies (AF_UNSPEC) dumps IPv4 and IPv6 in one walk of the
	// kernel's socket tables. A dump by family walks every socket of both
	// and skips the other family's, so two dumps walk them twice.
	BothFamilies Family = 0
	IPv4         Family = 2  // AF_INET
	IPv6         Family = 10 // AF_INET6
)

func (f Family) String() string {
	switch f {
	case BothFamilies:
		return "ipv4 and ipv6"
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// A Socket is one TCP socket as the kernel reports it.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are unmapped to IPv4, so a
// dual-stack listener's IPv4 clients look like the IPv4 clients they are.
// Family still says which table the socket came from.
type Socket struct {
	Family Family
	State  State
	Local  netip.AddrPort
	Remote netip.AddrPort
	// Interface is the bound interface index, 0 when unbound.
	Interface uint32
	// Timer is the pending timer: 0 none, 1 retransmit, 2 keepalive,
	// 3 TIME_WAIT, 4 zero-window probe.
	Timer uint8
	// Retransmits counts unrecovered retransmits (or probes).
	Retransmits uint8
	// Expires is the time left on Timer; for TIME_WAIT, when the port frees.
	Expires time.Duration
	// RecvQ and SendQ are queue lengths in bytes; for LISTEN, the accept
	// queue length and its limit (the listen backlog).
	RecvQ, SendQ uint32
	UID          uint32
	// Inode is 0 for sockets no process owns (TIME_WAIT, SYN_RECV requests).
	Inode uint32
	// Cookie identifies the socket for its lifetime; 0 from /proc. A
	// TIME_WAIT socket keeps the cookie of the connection it came from.
	Cookie uint64
	// Cgroup is the cgroup-v2 id of the task that created the socket (an
	// accepted socket gets its listener's); 0 for TIME_WAIT and request
	// sockets, and from /proc.
	Cgroup uint64
	// Info is the socket's tcp_info, when the dump asked for it and the
	// kernel has one (not for TIME_WAIT and request sockets).
	Info    TCPInfo
	HasInfo bool
}
