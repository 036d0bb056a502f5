package ui

import (
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/tcpdash/tcpdash/tcpinfo"
)

// baseTime is the time of the first fake snapshot; goldens depend on it.
var baseTime = time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)

// fakeCollector returns snapshots of a load test that gets worse at each
// poll: CLOSE_WAIT leaks, TIME_WAIT to one database piles up, and
// ListenOverflows rises. It records the queries it was given.
type fakeCollector struct {
	mu      sync.Mutex
	n       int
	queries []tcpinfo.Query
	fail    bool
	dump    time.Duration
	names   *sceneNames // nil: the short names of fakeNames
}

// sceneNames are the addresses and processes of the fake scene. The
// short ones keep most tests readable; realNames are as long as a real
// host's, where an 80-column screen has to fit them.
type sceneNames struct {
	client, db, cache, peer string // addresses
	cmd, cmdline            string
	cgroup                  string
}

var (
	fakeNames = sceneNames{client: "10.0.0.9", db: "10.0.0.5", cache: "10.0.0.6", peer: "10.0.1.7",
		cmd: "java", cmdline: "java", cgroup: "orders.service"}
	realNames = sceneNames{client: "172.31.204.117", db: "172.31.198.240", cache: "172.31.198.241", peer: "172.31.77.19",
		cmd: "python3", cmdline: "python3 /srv/orders/worker.py --pool=db-primary --retries 5",
		cgroup: "kubepods-burstable-pod7c1e.slice"}
)

var errFake = errors.New("netlink: connection refused (fake)")

func (f *fakeCollector) Collect(q tcpinfo.Query) (*tcpinfo.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if f.fail {
		return nil, errFake
	}
	names := fakeNames
	if f.names != nil {
		names = *f.names
	}
	s := fakeSnapshotOf(f.n, q, names)
	if f.dump > 0 {
		s.Dump = f.dump
	}
	f.n++
	return s, nil
}

func (f *fakeCollector) lastQuery() tcpinfo.Query {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queries[len(f.queries)-1]
}

func (f *fakeCollector) countQueries(match func(tcpinfo.Query) bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, q := range f.queries {
		if match(q) {
			n++
		}
	}
	return n
}

func (f *fakeCollector) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queries)
}

// fakeSnapshot builds poll i through the real aggregator.
func fakeSnapshot(i int, q tcpinfo.Query) *tcpinfo.Snapshot { return fakeSnapshotOf(i, q, fakeNames) }

func fakeSnapshotOf(i int, q tcpinfo.Query, n sceneNames) *tcpinfo.Snapshot {
	ports, err := tcpinfo.ParsePortRange([]byte("32768 60999"), nil)
	if err != nil {
		panic(err)
	}
	a := tcpinfo.NewAggregator(ports)
	a.Reset(ports, q)
	add := func(n int, st tcpinfo.State, local, remote string, expires time.Duration) {
		l, r := netip.MustParseAddrPort(local), netip.MustParseAddrPort(remote)
		for j := range n {
			s := tcpinfo.Socket{Family: tcpinfo.IPv4, State: st, Expires: expires,
				Local: netip.AddrPortFrom(l.Addr(), l.Port()+uint16(j)), Remote: r}
			if st == tcpinfo.Listen {
				s.Local = l
				if l.Port() == 8080 { // the server's accept queue is full
					s.RecvQ, s.SendQ = 128, 128
				}
			}
			if l.Port() == 8080 { // accepted sockets share the server port
				s.Local = l
				s.Remote = netip.AddrPortFrom(r.Addr(), r.Port()+uint16(j))
			}
			a.Add(&s)
		}
	}
	add(1, tcpinfo.Listen, "0.0.0.0:8080", "0.0.0.0:0", 0)
	add(1, tcpinfo.Listen, "0.0.0.0:22", "0.0.0.0:0", 0)
	add(40, tcpinfo.Established, n.client+":8080", n.peer+":40000", 0)
	add(10+5*i, tcpinfo.CloseWait, n.client+":52000", n.db+":3306", 0) // the leak
	add(2000+900*i, tcpinfo.TimeWait, n.client+":33000", n.db+":3306", 55*time.Second)
	add(300, tcpinfo.TimeWait, n.client+":45000", n.cache+":6379", 20*time.Second)
	add(25, tcpinfo.Established, n.client+":50000", n.db+":3306", 0)
	s := &tcpinfo.Snapshot{
		Time: baseTime.Add(time.Duration(i) * time.Second), Source: tcpinfo.SourceNetlink,
		Dump: 1500 * time.Microsecond, MaxTimeWaitBuckets: 6000,
	}
	a.Fill(s, 100)
	// Attribution as a /proc walk would give it; the java process leaks.
	leak := 10 + 5*i
	s.Processes = []tcpinfo.ProcessCount{
		{Owner: tcpinfo.Owner{PID: 4242, Command: n.cmd, Cmdline: n.cmdline}, States: tcpinfo.StateCounts{tcpinfo.Established: 25, tcpinfo.CloseWait: leak},
			CloseWaitTo: netip.MustParseAddrPort(n.db + ":3306"), CloseWaitToCount: leak,
			CloseWaitPerS: 5, RateKnown: i > 0, // as the collector measures it from walk to walk
			Files: tcpinfo.FileCount{Open: 60 + leak, Limit: 1024}, FilesPerS: 5, FilesLeft: -1},
		{Owner: tcpinfo.Owner{PID: 812, Command: "nginx"}, States: tcpinfo.StateCounts{tcpinfo.Established: 40, tcpinfo.Listen: 1}, RateKnown: i > 0},
		{Owner: tcpinfo.Owner{PID: 1, Command: "sshd"}, States: tcpinfo.StateCounts{tcpinfo.Listen: 1}, RateKnown: i > 0},
	}
	// --health: the database's connections retransmit, the cache's do not.
	s.HealthOn = true
	s.Health = []tcpinfo.DestinationHealth{
		{Remote: netip.MustParseAddrPort(n.db + ":3306"), Sockets: 25, RTTP50: 2 * time.Millisecond, RTTP99: 4 * time.Millisecond,
			MinRTT: 300 * time.Microsecond, RetransTotal: 41, SegsOut: 10000, Lost: 3, RetransPerS: 1.5, RatesKnown: i > 0},
		{Remote: netip.MustParseAddrPort(n.peer + ":40000"), Sockets: 40, RTTP50: 400 * time.Microsecond, RTTP99: 900 * time.Microsecond,
			MinRTT: 200 * time.Microsecond, SegsOut: 20000, RatesKnown: i > 0},
	}
	// The destroy notifications: 900 connections a second to the
	// database close, 5 to the cache.
	s.Closes = tcpinfo.Closes{Watching: true, Since: baseTime, Total: uint64(905 * i), PerS: 905}
	for j := range s.PortPressure {
		g := &s.PortPressure[j]
		g.ClosesPerS = map[uint16]float64{3306: 900, 6379: 5}[g.Remote.Port()]
		g.Closes = uint64(g.ClosesPerS) * uint64(i)
		if g.Remote.Port() == 3306 { // java opens them, named by eBPF
			g.Opener, g.OpenerCgroup, g.OpenerCgroupName, g.OpenerSockets = tcpinfo.Owner{PID: 4242, Command: n.cmd, Cmdline: n.cmdline}, 7, n.cgroup, g.Used
		}
	}
	for j := range s.RemoteEndpointsFolded {
		e := &s.RemoteEndpointsFolded[j]
		if e.Ports == 0 {
			e.ClosesPerS = map[uint16]float64{3306: 900, 6379: 5}[e.Endpoint.Port()]
		}
	}
	s.Attribution = tcpinfo.Attribution{Enabled: true, Time: s.Time, Took: 12 * time.Millisecond,
		Unowned: s.States[tcpinfo.TimeWait], UnownedTimeWait: s.States[tcpinfo.TimeWait]}
	s.Counters = tcpinfo.Counters{
		InUse: 80, Orphan: 1, TWSockets: uint64(s.States[tcpinfo.TimeWait]), Alloc: 90,
		ActiveOpens: uint64(10000 + 900*i), PassiveOpens: uint64(500 + 5*i),
		TW: uint64(7000 + 850*i), ListenOverflows: uint64(3 * i), ListenDrops: uint64(3 * i),
	}
	return s
}

// fakeOwners stands in for the /proc walk.
func fakeOwners() (*tcpinfo.Owners, error) {
	return &tcpinfo.Owners{Time: baseTime, Took: 12 * time.Millisecond}, nil
}

func fakeInfo() HostInfo {
	return HostInfo{Host: "db-client-1", Kernel: "6.18.0", Netns: "net:[4026531840]"}
}

// Sockets lists the fake sockets behind a row: a few of each kind.
func (f *fakeCollector) Sockets(flt tcpinfo.SocketFilter, _ *tcpinfo.Owners, limit int) ([]tcpinfo.SocketRow, int, error) {
	all := []tcpinfo.SocketRow{
		{Socket: tcpinfo.Socket{State: tcpinfo.TimeWait, Local: netip.MustParseAddrPort("10.0.0.9:33000"),
			Remote: netip.MustParseAddrPort("10.0.0.5:3306"), Expires: 55 * time.Second}},
		{Socket: tcpinfo.Socket{State: tcpinfo.Established, Local: netip.MustParseAddrPort("10.0.0.9:50000"),
			Remote: netip.MustParseAddrPort("10.0.0.5:3306"), Inode: 77}, Owner: tcpinfo.Owner{PID: 4242, Command: "java"}},
		{Socket: tcpinfo.Socket{State: tcpinfo.TimeWait, Local: netip.MustParseAddrPort("10.0.0.9:45000"),
			Remote: netip.MustParseAddrPort("10.0.0.6:6379"), Expires: 20 * time.Second}},
	}
	var out []tcpinfo.SocketRow
	for _, r := range all {
		if (flt.RemotePort == 0 || r.Remote.Port() == flt.RemotePort) && (!flt.RemoteAddr.IsValid() || r.Remote.Addr() == flt.RemoteAddr) {
			out = append(out, r)
		}
	}
	return out[:min(len(out), limit)], len(out), nil
}
