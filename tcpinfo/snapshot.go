package tcpinfo

import (
	"net/netip"
	"slices"
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
	// Netns is the watched network namespace ("net:[4026532180]") and
	// Names what it is called (ip netns names, containers, "pid N (comm)"),
	// when the caller says so: the collector only holds a descriptor.
	Netns string
	Names []string
	// Filter is the filter expression the snapshot is over; empty: every
	// socket.
	Filter string
	// Interval is, in a stream of snapshots, the interval this one was
	// taken at: the one asked for, stretched while dumps are slow (see
	// Stretch). Zero for a single snapshot.
	Interval time.Duration

	Total    int
	States   StateCounts
	Families FamilyCounts

	TopLocalPorts      []PortCount
	TopRemotePorts     []PortCount
	TopRemoteEndpoints []EndpointCount
	// LocalPortsFolded and RemoteEndpointsFolded are the same tables with
	// client ports folded: the ephemeral ports no socket listens on as one
	// row, a peer's ephemeral ports as addr:* (see FoldedPort).
	LocalPortsFolded      []FoldedPort
	RemoteEndpointsFolded []FoldedEndpoint
	// Listeners are the listening sockets, fullest accept queue first.
	Listeners []Listener
	// Cgroups counts sockets by the cgroup that created them, from the
	// dump itself (no /proc walk); Path and Name are filled when the
	// collector has a CgroupResolver.
	Cgroups []CgroupCount
	// PortPressure lists destination groups by how full their share of the
	// ephemeral port range is, fullest first.
	PortPressure []PressureGroup
	// TimeWaitExpiry is cumulative: bucket i counts the TIME_WAIT sockets
	// that free their port within Within.
	TimeWaitExpiry []ExpiryBucket
	PortRange      PortRange
	// Processes holds sockets by owning process, when the query had Owners.
	Processes   []ProcessCount
	Attribution Attribution
	// Closes is what the kernel's destroy notifications said; zero when
	// the collector does not listen (Options.WatchCloses).
	Closes Closes
	// Health is how the connections to each destination fare, from
	// tcp_info (Options.Health): the most retransmitting first. HealthOn
	// says it was asked for.
	Health   []DestinationHealth
	HealthOn bool
	// HealthByCgroup is the same per service (the cgroup that created
	// the sockets), CgroupName filled with a CgroupResolver.
	HealthByCgroup []DestinationHealth
	// Conntrack is the namespace's connection-tracking table; nil when it
	// tracks nothing or it was not read.
	Conntrack *Conntrack
	// OrphanFinWait2 counts FIN_WAIT2 sockets no process holds any more:
	// the ones tcp_fin_timeout bounds.
	OrphanFinWait2 int
	// ListeningInRange lists ports listened on inside the ephemeral range,
	// which connect() could take while their server is down, and cannot
	// while it listens.
	ListeningInRange []uint16
	// ListenPorts lists every port listened on, sorted (live snapshots;
	// a recording keeps only its tables: see Listening).
	ListenPorts []uint16
	// Query is what the tables were built for.
	Query Query
	// MaxTimeWaitBuckets is net.ipv4.tcp_max_tw_buckets; 0 if unknown.
	MaxTimeWaitBuckets int
	// TimeWaitReuse is what decides whether connect() may take over
	// TIME_WAIT ports (PressureGroup.ReusableTimeWait).
	TimeWaitReuse TimeWaitReuse
	Counters      Counters
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

// A Listener is one listening socket and how its queues stand.
type Listener struct {
	Local netip.AddrPort
	// AcceptQueue is how many connections wait for accept(); Backlog is
	// the most it holds (the listen() backlog, capped by somaxconn).
	AcceptQueue, Backlog int
	// SynRecv counts the handshakes in progress on its port.
	SynRecv int
	// Owner is the process holding it, when processes are named.
	Owner Owner
}

// Full reports whether the accept queue is full: new connections are
// dropped (ListenOverflows) until the application accepts.
func (l Listener) Full() bool { return l.Backlog > 0 && l.AcceptQueue >= l.Backlog }

// A CgroupCount counts the sockets one cgroup created, by state.
type CgroupCount struct {
	// ID is the cgroup-v2 id: the inode of its directory.
	ID uint64
	// Path is the cgroup's path below the cgroup2 mount
	// (/system.slice/nginx.service); Name what people call it
	// (nginx.service, docker 0123456789ab web, pod default/api).
	Path, Name string
	States     StateCounts
}

// An EndpointCount counts the sockets to one remote address and port.
type EndpointCount struct {
	Endpoint netip.AddrPort
	States   StateCounts
	// Closes counts the connections to it that closed since the collector
	// began to listen (Snapshot.Closes), ClosesPerS their smoothed rate.
	Closes     uint64
	ClosesPerS float64
	// Events as on PressureGroup.
	Events *DestinationEvents
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
	// FreshTimeWait counts those younger than FreshWindow.
	FreshTimeWait int
	// TimeWaitLeft counts the TIME_WAIT sockets by the time left on their
	// timers: slot i frees its ports within (i, i+1] RecentWindows, so
	// the first is ExpiringTimeWait and the last RecentTimeWait (which a
	// recording made before the slots has alone). It says when the
	// group's ports come free, which a forecast needs.
	TimeWaitLeft [ExpirySlots]int
	// ReuseAfter is how old a TIME_WAIT socket must be for connect() to
	// take over its port for a new connection to the destination, when
	// the kernel surely does (TimeWaitReuse.Applies); 0 when its port is
	// held for the whole of TimeWaitLength. ReusableTimeWait counts the
	// sockets that old, at the least: their ports are as good as free.
	ReuseAfter       time.Duration
	ReusableTimeWait int
	// Capacity is the number of usable ephemeral ports.
	Capacity int
	Ratio    float64
	// Opener is the process holding most of the group's sockets (its
	// TIME_WAIT included, where owners are remembered), OpenerCgroup its
	// cgroup, and OpenerSockets how many: who is opening the connections.
	Opener           Owner
	OpenerCgroup     uint64
	OpenerCgroupName string
	OpenerSockets    int
	// Closes and ClosesPerS are the group's closed connections, from the
	// kernel's destroy notifications (see Snapshot.Closes): exact, those
	// born and gone between polls included.
	Closes     uint64
	ClosesPerS float64
	// Events is what an event source (Query.Openers) saw of connections
	// to the destination: failed connects and resets since it began.
	Events *DestinationEvents
}

// A ProcessCount counts a process's sockets by state.
type ProcessCount struct {
	Owner
	States StateCounts
	// CloseWaitTo is the remote endpoint the process holds most CLOSE_WAIT
	// sockets to, and CloseWaitToCount how many.
	CloseWaitTo      netip.AddrPort
	CloseWaitToCount int
	// CloseWaitOn is the local port with most of its CLOSE_WAIT sockets,
	// and CloseWaitOnCount how many: where a server's leak shows.
	CloseWaitOn      uint16
	CloseWaitOnCount int
	// Shared counts the process's sockets that other processes hold too.
	Shared int
	// Cgroup is the cgroup its sockets came from, CgroupName its name.
	Cgroup     uint64
	CgroupName string
	// CloseWaitPerS is how fast its CLOSE_WAIT count grows, measured from
	// /proc walk to /proc walk over the time between them and smoothed
	// (RateWindow): the one rate the findings and the panes show. RateKnown
	// says it was measured (a second walk saw the process).
	CloseWaitPerS float64
	RateKnown     bool
	// Files is its open files against its soft limit, as the walk read
	// them; FilesPerS how fast they grow (measured and smoothed as
	// CloseWaitPerS), and FilesLeft the time until socket() and accept()
	// fail with EMFILE at that growth: -1 when the limit is unknown or the
	// files do not grow now (no walk within RateWindow of the last saw
	// more than the walk before it).
	Files     FileCount
	FilesPerS float64
	FilesLeft time.Duration
}

// Attribution says how sockets were matched to processes, and why some
// were not.
type Attribution struct {
	Enabled bool
	// Time is when the /proc walk ran, Took how long it took.
	Time time.Time
	Took time.Duration
	// Hidden counts processes whose files could not be read: other users'
	// when not root, or processes outside this user namespace.
	Hidden int
	// ViaThreads counts processes read through a thread because their
	// main thread has exited; LeaderGone those that could not be read so.
	ViaThreads, LeaderGone int

	// Owned counts sockets matched to a process; Shared, those of them
	// that more than one process holds (listed under each, counted once).
	Owned, Shared int
	// Unowned counts sockets no process holds in the kernel: TIME_WAIT,
	// handshakes in progress, orphans closed by their application. Their
	// remote endpoint is the clue.
	Unowned                                          int
	UnownedTimeWait, UnownedHandshake, UnownedOrphan int
	// UnownedRemembered counts the TIME_WAIT sockets given the owner
	// their connection had when it was seen open (dashboard and --json
	// streams); the rest were never seen open.
	UnownedRemembered int
	// Remembered is how many sockets' owners the stream remembers.
	Remembered int
	// Unknown counts sockets with an owner tcpdash did not see, by the
	// likeliest reason: newer than the walk (an inode above all it saw);
	// a process whose files were unreadable; a process whose threads
	// could not be read after its main thread exited; or a process in
	// another PID namespace, which /proc does not list.
	Unknown                                                              int
	UnseenNewer, UnseenHidden, UnseenLeaderGone, UnseenOtherPIDNamespace int
	// Openers names the event source of openers (Query.Openers), if any,
	// and FromOpener counts the sockets it named: TIME_WAIT and others no
	// process holds, and sockets newer than the walk.
	Openers    OpenerSource
	FromOpener int
	// TimeWaitFromOpener counts, of the TIME_WAIT sockets, those named so.
	TimeWaitFromOpener int
}

// An ExpiryBucket counts TIME_WAIT sockets that expire within a time.
type ExpiryBucket struct {
	Within time.Duration
	Count  int
}

// GroupCapacity is how many ports each destination group can use: the
// ephemeral range less the reserved ports and the ports listened on in it.
func (s *Snapshot) GroupCapacity() int {
	return groupCapacity(s.PortRange, len(s.ListeningInRange))
}

// Exhausted reports whether connect() to the group fails now with
// EADDRNOTAVAIL: every port is in use, or all but a few. At the cap,
// TIME_WAITs expiring free a port or two between a load's connect()s, which
// it takes back at once; within half a percent of the capacity (at least
// one port) the group is out of ports, so the verdict does not flap.
func (g PressureGroup) Exhausted() bool {
	return g.Capacity > 0 && g.Held() >= g.Capacity-max(1, g.Capacity/200)
}

// FullestRatio is the largest share of its ports that a destination group
// of the snapshot uses (Ratio), 0 without groups. The groups are ranked by
// what they hold (HeldRatio), so the first need not be the fullest.
func (s *Snapshot) FullestRatio() float64 {
	r := 0.0
	for _, g := range s.PortPressure {
		r = max(r, g.Ratio)
	}
	return r
}

// HasReusableTimeWait reports whether a destination group of the snapshot
// has TIME_WAIT ports connect() takes over: where the pane and the report
// give them a column.
func (s *Snapshot) HasReusableTimeWait() bool {
	return slices.ContainsFunc(s.PortPressure, func(g PressureGroup) bool { return g.ReusableTimeWait > 0 })
}

// ExpiringTimeWait counts the TIME_WAIT sockets that free their port
// within RecentWindow: the group's outflow, as RecentTimeWait is its
// inflow.
func (g PressureGroup) ExpiringTimeWait() int { return g.TimeWaitLeft[0] }

// Held is how many of the group's ports connect() cannot take: those in
// use, less the TIME_WAIT ones it would take over.
func (g PressureGroup) Held() int { return g.Used - g.ReusableTimeWait }

// HeldRatio is Held's share of the capacity (Ratio is Used's).
func (g PressureGroup) HeldRatio() float64 {
	if g.Capacity <= 0 {
		return 0
	}
	return float64(g.Held()) / float64(g.Capacity)
}

// TimeWaitReuse is what lets connect() take over a TIME_WAIT port for a
// new connection to the same destination: tcp_tw_reuse 1 (everywhere) or
// 2 (over loopback, the default), with timestamps at both ends, once the
// TIME_WAIT socket is Delay old (tcp_tw_reuse_delay, 1 s by default).
type TimeWaitReuse struct {
	Reuse      int  // tcp_tw_reuse
	Timestamps bool // tcp_timestamps is not 0
	Delay      time.Duration
}

// Applies reports whether connect() from local to remote surely takes over
// TIME_WAIT ports older than Delay: over loopback, where both ends are
// this kernel, which uses timestamps. Elsewhere tcp_tw_reuse=1 needs the
// peer's timestamps too, which a snapshot cannot see.
func (r TimeWaitReuse) Applies(local, remote netip.Addr) bool {
	return r.Timestamps && (r.Reuse == 1 || r.Reuse == 2) && (local.Unmap().IsLoopback() || remote.Unmap().IsLoopback())
}

// Listening lists the ports listened on that the snapshot knows, sorted:
// all of them in a live snapshot; in a recorded one, those its tables and
// listeners name.
func (s *Snapshot) Listening() []uint16 {
	out := slices.Clone(s.ListenPorts)
	out = append(out, s.ListeningInRange...)
	for _, p := range s.TopLocalPorts {
		if p.States[Listen] > 0 {
			out = append(out, p.Port)
		}
	}
	for _, l := range s.Listeners {
		out = append(out, l.Local.Port())
	}
	slices.Sort(out)
	return slices.Compact(out)
}
