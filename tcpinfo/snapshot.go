package tcpinfo

import (
	"net/netip"
	"time"
)

// A Source says where a snapshot's sockets came from.
type Source string

// Sources of socket data.
const (
	SourceNetlink Source = "netlink"
	SourceProcfs  Source = "procfs"
)

// A Snapshot is one poll of the kernel's TCP sockets, aggregated.
type Snapshot struct {
	Time   time.Time
	Source Source
	// SourceNote says why the procfs fallback is in use; empty for netlink.
	SourceNote string
	// Dump is how long reading and aggregating the sockets took.
	Dump time.Duration

	Total    int
	States   StateCounts
	Families FamilyCounts

	TopLocalPorts      []PortCount
	TopRemotePorts     []PortCount
	TopRemoteEndpoints []EndpointCount
	// PortPressure lists destination groups by how full their share of the
	// ephemeral port range is, fullest first.
	PortPressure []PressureGroup
	// TimeWaitExpiry is cumulative: bucket i counts the TIME_WAIT sockets
	// that free their port within Within.
	TimeWaitExpiry []ExpiryBucket
	PortRange      PortRange
	// Query is what the tables were built for.
	Query Query
	// MaxTimeWaitBuckets is net.ipv4.tcp_max_tw_buckets; 0 if unknown.
	MaxTimeWaitBuckets int
	Counters           Counters
}

// FamilyCounts counts sockets per address family of their table.
type FamilyCounts struct {
	IPv4 int `json:"ipv4"`
	IPv6 int `json:"ipv6"`
}

// A PortCount counts the sockets on one port, by state.
type PortCount struct {
	Port   uint16
	States StateCounts
}

// An EndpointCount counts the sockets to one remote address and port.
type EndpointCount struct {
	Endpoint netip.AddrPort
	States   StateCounts
}

// A PressureGroup is the set of sockets that compete for ephemeral ports
// in connect(): one local address, one remote address and port. Each
// group has the whole range to itself.
type PressureGroup struct {
	Local  netip.Addr
	Remote netip.AddrPort
	// Used counts sockets whose local port is ephemeral, TIME_WAIT included.
	Used     int
	TimeWait int
	// RecentTimeWait counts TIME_WAIT sockets younger than RecentWindow:
	// connections this host closed lately, so RecentTimeWait/RecentWindow
	// is the group's recent close rate, read from one snapshot.
	RecentTimeWait int
	// Capacity is the number of usable ephemeral ports.
	Capacity int
	Ratio    float64
}

// An ExpiryBucket counts TIME_WAIT sockets that expire within a time.
type ExpiryBucket struct {
	Within time.Duration
	Count  int
}
