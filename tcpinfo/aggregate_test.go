package tcpinfo

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"

	"github.com/tcpdash/tcpdash/internal/filter"
)

func sock(st State, local, remote string, expires time.Duration) *Socket {
	return &Socket{Family: IPv4, State: st, Local: netip.MustParseAddrPort(local),
		Remote: netip.MustParseAddrPort(remote), Expires: expires}
}

func TestAggregatorTables(t *testing.T) {
	ports, err := ParsePortRange([]byte("40000 40009"), []byte("40009"))
	if err != nil {
		t.Fatal(err)
	}
	a := NewAggregator(ports)
	socks := []*Socket{
		sock(Listen, "0.0.0.0:80", "0.0.0.0:0", 0),
		sock(Established, "10.0.0.1:80", "10.0.0.9:50000", 0),
		sock(TimeWait, "10.0.0.1:40000", "10.0.0.5:3306", 5*time.Second),
		sock(TimeWait, "10.0.0.1:40001", "10.0.0.5:3306", 15*time.Second),
		sock(Established, "10.0.0.1:40002", "10.0.0.5:3306", 0),
		sock(TimeWait, "10.0.0.1:40003", "10.0.0.6:3306", 60*time.Second),
		sock(CloseWait, "10.0.0.2:40004", "10.0.0.5:3306", 0),
		sock(Established, "10.0.0.1:40009", "10.0.0.5:3306", 0), // reserved: not ephemeral
		sock(Established, "10.0.0.1:39999", "10.0.0.5:3306", 0), // below the range
	}
	// Aggregate twice, with a Reset between, to prove Reset forgets.
	for range 2 {
		a.Reset(ports, Query{})
		for _, s := range socks {
			a.Add(s)
		}
	}
	var snap Snapshot
	a.Fill(&snap, 2)

	if snap.Total != len(socks) || snap.States[TimeWait] != 3 || snap.States[Established] != 4 {
		t.Errorf("total %d states %v", snap.Total, snap.States)
	}
	if got := snap.TopLocalPorts; len(got) != 2 || got[0].Port != 80 || got[0].States.Total() != 2 || got[1].Port != 39999 {
		t.Errorf("top local ports %+v: want port 80 (2), then the lowest of the ties, 39999", got)
	}
	if got := snap.TopRemotePorts; len(got) != 2 || got[0].Port != 3306 || got[0].States.Total() != 7 || got[1].Port != 50000 {
		t.Errorf("top remote ports %+v: want 3306 (7), 50000 (1); no LISTEN wildcard", got)
	}
	if got := snap.TopRemoteEndpoints; len(got) != 2 || got[0].Endpoint.String() != "10.0.0.5:3306" || got[0].States.Total() != 6 {
		t.Errorf("top remote endpoints %+v", got)
	}
	wantGroups := []PressureGroup{
		{Local: netip.MustParseAddr("10.0.0.1"), Remote: netip.MustParseAddrPort("10.0.0.5:3306"), Used: 3, TimeWait: 2,
			TimeWaitLeft: [ExpirySlots]int{1, 1}, Capacity: 9, Ratio: 3.0 / 9}, // 5 s and 15 s left
		// Ties go to the lower remote address: 10.0.0.5 before 10.0.0.6.
		{Local: netip.MustParseAddr("10.0.0.2"), Remote: netip.MustParseAddrPort("10.0.0.5:3306"), Used: 1, TimeWait: 0, Capacity: 9, Ratio: 1.0 / 9},
	}
	if diff := gocmp.Diff(wantGroups, snap.PortPressure, gocmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		gocmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("port pressure (-want +got):\n%s", diff)
	}
	var expiry []int
	for _, e := range snap.TimeWaitExpiry {
		expiry = append(expiry, e.Count)
	}
	if want := []int{1, 2, 2, 2, 2, 3}; !slices.Equal(expiry, want) {
		t.Errorf("cumulative TIME_WAIT expiry %v, want %v", expiry, want)
	}
}

// TestAggregatorAgainstCounting checks the port and endpoint tables
// against counting each socket in a map. Local ports are counted three
// ways (TIME_WAIT and ESTABLISHED in place, other states noted and
// sorted), servers' peers late and clients' destinations at once: peers
// seen twice, peers that are also destinations, IPv6 and mapped peers,
// listeners inside the ephemeral range.
func TestAggregatorAgainstCounting(t *testing.T) {
	ports, _ := ParsePortRange([]byte("32768 60999"), nil)
	r := rand.New(rand.NewPCG(3, 4))
	peers := []string{"10.0.0.9", "10.0.0.10", "192.168.1.1", "::1", "::ffff:10.0.0.9", "255.255.255.255"}
	pick := func() netip.AddrPort {
		addr := netip.MustParseAddr(peers[r.IntN(len(peers))])
		return netip.AddrPortFrom(addr, uint16(32768+r.IntN(40))) // few ports: runs of repeats
	}
	states := []State{Established, Established, TimeWait, TimeWait, TimeWait, CloseWait, SynRecv, FinWait1, FinWait2, LastAck, SynSent}
	var socks, listeners []Socket
	for _, port := range []uint16{80, 81, 33000, 40000} { // two listeners in the ephemeral range
		listeners = append(listeners, Socket{Family: IPv4, State: Listen, Local: netip.AddrPortFrom(netip.IPv4Unspecified(), port),
			Remote: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)})
	}
	for range 20_000 {
		st := states[r.IntN(len(states))]
		if r.IntN(3) == 0 { // a client, connecting to ten of the peers' endpoints
			local := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + r.IntN(2))}), uint16(32768+r.IntN(8000)))
			remote := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), uint16(32768+r.IntN(10)))
			if r.IntN(2) == 0 { // or to one of 1,000 servers: more than the cache of destinations holds
				remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 2, byte(r.IntN(250))}), uint16(8000+r.IntN(4)))
			}
			// Opened by one of three services, or by one named nowhere;
			// a group's opener is the service with most of its sockets.
			socks = append(socks, Socket{Family: IPv4, State: st, Local: local, Remote: remote, Inode: uint32(1 + len(socks)),
				Cgroup: []uint64{0, 5, 6, 7, 7}[r.IntN(5)]})
			continue
		}
		server := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), []uint16{80, 81, 33000, 40000, 1}[r.IntN(5)])
		socks = append(socks, Socket{Family: IPv4, State: st, Local: server, Remote: pick()})
	}
	// Noted states above every port counted in place, and below.
	for _, port := range []uint16{1023, 65000, 65001} {
		socks = append(socks, Socket{Family: IPv4, State: FinWait1, Local: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port),
			Remote: netip.MustParseAddrPort("10.0.0.10:443")})
	}
	r.Shuffle(len(socks), func(i, j int) { socks[i], socks[j] = socks[j], socks[i] })
	socks = append(listeners, socks...) // the kernel dumps listeners first
	listened := func(port uint16) bool { return port == 33000 || port == 40000 }

	type groupCount struct {
		used, timeWait, openerSockets int
		openerCgroup                  uint64
	}
	wantGroups := map[groupKey]groupCount{} // each local address's sockets to each server
	byCgroup := map[groupKey]map[uint64]int{}
	wantEndpoints := map[netip.AddrPort]StateCounts{}
	wantRemote := map[uint16]StateCounts{}
	wantLocal := map[uint16]StateCounts{}
	count := func(m map[uint16]StateCounts, port uint16, st State) {
		c := m[port]
		c[st]++
		m[port] = c
	}
	for _, s := range socks {
		count(wantLocal, s.Local.Port(), s.State)
		if s.State == Listen {
			continue
		}
		e := wantEndpoints[s.Remote]
		e[s.State]++
		wantEndpoints[s.Remote] = e
		count(wantRemote, s.Remote.Port(), s.State)
		if ports.Ephemeral(s.Local.Port()) && !listened(s.Local.Port()) { // a server in the range is no client
			k := groupKey{s.Local.Addr(), s.Remote.Addr(), s.Remote.Port()}
			g := wantGroups[k]
			g.used++
			if s.State == TimeWait {
				g.timeWait++
			}
			wantGroups[k] = g
			if s.Cgroup != 0 {
				if byCgroup[k] == nil {
					byCgroup[k] = map[uint64]int{}
				}
				byCgroup[k][s.Cgroup]++
			}
		}
	}
	for k, counts := range byCgroup { // most sockets; on a tie, the lower cgroup
		g := wantGroups[k]
		for c, n := range counts {
			if n > g.openerSockets || n == g.openerSockets && c < g.openerCgroup {
				g.openerSockets, g.openerCgroup = n, c
			}
		}
		wantGroups[k] = g
	}
	// The local ports ranked as the table ranks them, and folded.
	var wantTop []PortCount
	var eph FoldedPort
	wantFolded := map[uint16]StateCounts{}
	for port, c := range wantLocal {
		wantTop = append(wantTop, PortCount{Port: port, States: c})
		if ports.Ephemeral(port) && c[Listen] == 0 {
			eph.Ports++
			eph.States.add(&c)
		} else {
			wantFolded[port] = c
		}
	}
	slices.SortFunc(wantTop, func(a, b PortCount) int {
		return cmp.Or(cmp.Compare(b.States.Total(), a.States.Total()), cmp.Compare(a.Port, b.Port))
	})

	// Each service's sockets, by state: shuffled, runs of one cgroup and
	// changes of cgroup both.
	wantCgroups := map[uint64]StateCounts{}
	for _, s := range socks {
		if s.Cgroup != 0 {
			c := wantCgroups[s.Cgroup]
			c[s.State]++
			wantCgroups[s.Cgroup] = c
		}
	}

	for _, oneShot := range []bool{false, true} {
		t.Run(fmt.Sprintf("oneShot=%v", oneShot), func(t *testing.T) {
			a := NewAggregator(ports)
			if oneShot {
				a.OneShot() // its tables from huge pages
			}
			var snap Snapshot
			byAddrPort := gocmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })
			for range 2 { // and again, after a Reset
				a.Reset(ports, Query{})
				a.Reserve(10)
				for i := range socks {
					a.Add(&socks[i])
				}
				a.Fill(&snap, 1<<20)
				gotEndpoints := endpointCounts(t, &snap)
				if diff := gocmp.Diff(wantEndpoints, gotEndpoints, byAddrPort); diff != "" {
					t.Errorf("remote endpoints (-want +got):\n%s", diff)
				}
				gotCgroups := map[uint64]StateCounts{}
				for _, c := range snap.Cgroups {
					gotCgroups[c.ID] = c.States
				}
				if diff := gocmp.Diff(wantCgroups, gotCgroups); diff != "" {
					t.Errorf("cgroups (-want +got):\n%s", diff)
				}
				gotRemote := map[uint16]StateCounts{}
				for _, p := range snap.TopRemotePorts {
					gotRemote[p.Port] = p.States
				}
				if diff := gocmp.Diff(wantRemote, gotRemote); diff != "" {
					t.Errorf("remote ports (-want +got):\n%s", diff)
				}
				gotGroups := map[groupKey]groupCount{}
				for _, g := range snap.PortPressure {
					gotGroups[groupKey{g.Local, g.Remote.Addr(), g.Remote.Port()}] = groupCount{g.Used, g.TimeWait, g.OpenerSockets, g.OpenerCgroup}
				}
				if diff := gocmp.Diff(wantGroups, gotGroups, gocmp.AllowUnexported(groupKey{}, groupCount{}),
					gocmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
					t.Errorf("port pressure groups (-want +got):\n%s", diff)
				}
				if diff := gocmp.Diff(wantTop, snap.TopLocalPorts); diff != "" {
					t.Errorf("local ports (-want +got):\n%s", diff)
				}
				gotFolded := map[uint16]StateCounts{}
				var gotEph FoldedPort
				for _, f := range snap.LocalPortsFolded {
					if f.Ports > 0 {
						gotEph = f
						continue
					}
					gotFolded[f.Port] = f.States
				}
				if diff := gocmp.Diff(wantFolded, gotFolded); diff != "" {
					t.Errorf("folded local ports (-want +got):\n%s", diff)
				}
				if gotEph != eph {
					t.Errorf("folded ephemeral row %+v, want %+v", gotEph, eph)
				}
			}
			a.Fill(&snap, 7) // the top rows of a short table are the first of the long one
			if diff := gocmp.Diff(wantTop[:7], snap.TopLocalPorts); diff != "" {
				t.Errorf("top 7 local ports (-want +got):\n%s", diff)
			}

		})
	}
}

// endpointCounts is the snapshot's remote endpoint rows by endpoint; an
// endpoint with two rows is an error.
func endpointCounts(t *testing.T, snap *Snapshot) map[netip.AddrPort]StateCounts {
	t.Helper()
	got := map[netip.AddrPort]StateCounts{}
	for _, e := range snap.TopRemoteEndpoints {
		if _, dup := got[e.Endpoint]; dup {
			t.Errorf("endpoint %s has two rows", e.Endpoint)
		}
		got[e.Endpoint] = e.States
	}
	return got
}

func TestTopN(t *testing.T) {
	in := []int{5, 1, 9, 3, 9, 7, 2, 8}
	byValueDesc := func(a, b int) int { return b - a }
	for n := range len(in) + 2 {
		got := topN(nil, n, len(in), func(i int) (int, bool) { return in[i], true }, byValueDesc)
		want := slices.Clone(in)
		slices.SortFunc(want, byValueDesc)
		want = want[:min(n, len(in))]
		if !slices.Equal(got, want) {
			t.Errorf("top %d of %v = %v, want %v", n, in, got, want)
		}
	}
}

func TestAggregatorQuery(t *testing.T) {
	ports, _ := ParsePortRange([]byte("40000 40999"), nil)
	socks := []*Socket{
		sock(Established, "10.0.0.1:8080", "10.0.0.7:50000", 0),
		sock(Established, "10.0.0.1:8080", "10.0.0.8:50001", 0),
		sock(CloseWait, "10.0.0.1:8080", "10.0.0.9:50002", 0),
		sock(CloseWait, "10.0.0.1:9090", "10.0.0.9:50003", 0),
		sock(CloseWait, "10.0.0.1:9090", "10.0.0.9:50004", 0),
		sock(TimeWait, "10.0.0.1:40000", "10.0.0.5:3306", 59*time.Second),
		sock(TimeWait, "10.0.0.1:40001", "10.0.0.5:3306", 30*time.Second),
	}
	fill := func(q Query) *Snapshot {
		a := NewAggregator(ports)
		a.Reset(ports, q)
		for _, s := range socks {
			a.Add(s)
		}
		var snap Snapshot
		a.Fill(&snap, 10)
		return &snap
	}
	ports_ := func(rows []PortCount) (out []uint16) {
		for _, r := range rows {
			out = append(out, r.Port)
		}
		return out
	}
	tests := []struct {
		name  string
		q     Query
		local []uint16
	}{
		{"by total", Query{}, []uint16{8080, 9090, 40000, 40001}},
		{"rank by CLOSE_WAIT", Query{Rank: CloseWait}, []uint16{9090, 8080, 40000, 40001}},
		{"only CLOSE_WAIT", Query{State: CloseWait}, []uint16{9090, 8080}},
		{"only TIME_WAIT", Query{State: TimeWait}, []uint16{40000, 40001}},
		{"port 3306", Query{Narrow: mustFilter(t, "sport = :3306 or dport = :3306")}, []uint16{40000, 40001}},
		{"address 10.0.0.9", Query{Narrow: mustFilter(t, "src 10.0.0.9 or dst 10.0.0.9")}, []uint16{9090, 8080}},
		{"address and port", Query{Narrow: mustFilter(t, "( src 10.0.0.9 or dst 10.0.0.9 ) and ( sport = :8080 or dport = :8080 )")}, []uint16{8080}},
		{"nothing", Query{Narrow: mustFilter(t, "dport 1")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := fill(tt.q)
			if got := ports_(snap.TopLocalPorts); !slices.Equal(got, tt.local) {
				t.Errorf("local ports %v, want %v", got, tt.local)
			}
			if snap.Total != len(socks) || snap.States[CloseWait] != 3 {
				t.Errorf("a query must not change the histogram: total %d, CLOSE_WAIT %d", snap.Total, snap.States[CloseWait])
			}
			// Nor the port pressure the exhaustion finding reads: a
			// filter narrows tables, never alarms.
			if want := fill(Query{}).PortPressure; !slices.EqualFunc(snap.PortPressure, want, func(a, b PressureGroup) bool {
				return a.Local == b.Local && a.Remote == b.Remote && a.Used == b.Used && a.TimeWait == b.TimeWait
			}) {
				t.Errorf("pressure %+v, want %+v as without the query", snap.PortPressure, want)
			}
		})
	}
	socks = append(socks, sock(TimeWait, "10.0.0.1:40002", "10.0.0.5:3306", 4*time.Second))
	wantLeft := [ExpirySlots]int{1, 0, 1, 0, 0, 1} // 4 s, 30 s and 59 s left
	if g := fill(Query{}).PortPressure; len(g) != 1 || g[0].RecentTimeWait != 1 || g[0].FreshTimeWait != 1 ||
		g[0].ExpiringTimeWait() != 1 || g[0].TimeWait != 3 || g[0].TimeWaitLeft != wantLeft {
		t.Errorf("pressure %+v: want one group, 3 TIME_WAIT of which 1 younger than 2s and 10s, 1 expiring within 10s, by time left %v", g, wantLeft)
	}
}

func TestCookieWindow(t *testing.T) {
	var w cookieWindow
	w.reset()
	if w.seen(1) || !w.seen(1) {
		t.Fatal("a cookie must be new once, then a repeat")
	}
	for range 2 {
		if w.seen(0) {
			t.Fatal("cookie 0 means no cookie and is never a repeat")
		}
	}
	for c := uint64(2); c < windowSize+1; c++ {
		w.seen(c)
	}
	if !w.seen(1) {
		t.Error("cookie 1 should still be in the window of the last windowSize")
	}
	for c := uint64(windowSize + 1); c < 3*windowSize; c++ {
		w.seen(c)
	}
	if w.seen(1) {
		t.Error("cookie 1 should have left the window after twice windowSize")
	}
	w.reset()
	if w.seen(windowSize) {
		t.Error("reset should forget every cookie")
	}
	// A small dump's reset clears only its cookies' slots: every one.
	for _, n := range []int{1, len(w.small) - 1, len(w.small), len(w.small) + 1, windowSize + 5} {
		w.reset()
		for c := range uint64(n) {
			w.seen(c*4096 + 7) // colliding slots too
		}
		w.reset()
		if w.tables != [2][tableSize]uint64{} {
			t.Errorf("after a dump of %d cookies, reset left some in the tables", n)
		}
	}
}

// hotPath is the dump's per-socket work, decode, dedup and count, over
// the recorded fixtures.
type hotPath struct {
	msgs  [][]byte
	ports PortRange
	agg   *Aggregator
	sock  Socket
	dedup cookieWindow
}

func newHotPath(tb testing.TB) *hotPath {
	h := &hotPath{}
	for _, fx := range fixtures {
		for _, m := range readFixture(tb, fx.name) {
			h.msgs = append(h.msgs, m.Data)
		}
	}
	h.ports, _ = ParsePortRange([]byte("32768 60999"), nil)
	h.agg = NewAggregator(h.ports)
	h.reset()
	return h
}

func (h *hotPath) reset() {
	h.agg.Reset(h.ports, Query{})
	h.dedup.reset()
}

// count finishes the counting that Add defers (the port tables), as Fill
// does, so that a benchmark of the hot path pays for it.
func (h *hotPath) count() {
	h.agg.local.each(func(*portRow) {})
	h.agg.remote.each(func(*portRow) {})
	h.agg.peers.merge(h.agg.endpoints)
	h.agg.peers.each(func(peerKey, *StateCounts) {})
}

func (h *hotPath) add(b []byte) error {
	if err := h.sock.UnmarshalBinary(b); err != nil {
		return err
	}
	if !h.dedup.seen(h.sock.Cookie) {
		h.agg.Add(&h.sock)
	}
	return nil
}

// TestAggregateAllocatesNothing guards the hot path: once the tables have
// grown, decoding and counting a socket allocates nothing.
func TestAggregateAllocatesNothing(t *testing.T) {
	h := newHotPath(t)
	pass := func() {
		h.reset()
		for _, b := range h.msgs {
			if err := h.add(b); err != nil {
				t.Fatal(err)
			}
		}
		h.count()
	}
	pass() // grow the tables
	if allocs := testing.AllocsPerRun(100, pass); allocs != 0 {
		t.Errorf("decode+aggregate of %d sockets: %.1f allocations, want 0", len(h.msgs), allocs)
	}
}

// BenchmarkDecodeAggregate measures one socket per op: decode, dedup and
// count, as the dump does.
func BenchmarkDecodeAggregate(b *testing.B) {
	h := newHotPath(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%len(h.msgs) == 0 {
			h.count()
			h.reset()
		}
		h.add(h.msgs[i%len(h.msgs)])
	}
}

func TestSnapshotJSONContract(t *testing.T) {
	ports, _ := ParsePortRange([]byte("40000 40009"), nil)
	a := NewAggregator(ports)
	a.Add(sock(TimeWait, "10.0.0.1:40000", "10.0.0.5:3306", 5*time.Second))
	a.Add(sock(Listen, "0.0.0.0:80", "0.0.0.0:0", 0))
	snap := Snapshot{Time: time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC), Source: SourceNetlink, Dump: 1500 * time.Microsecond}
	a.Fill(&snap, 10)
	b, err := json.Marshal(&snap)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time", "source", "dump_ms", "total", "states", "families", "top_local_ports",
		"top_remote_ports", "top_remote_endpoints", "port_pressure", "time_wait_expiry", "counters"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	if states := m["states"].(map[string]any); len(states) != 12 || states["NEW_SYN_RECV"] != 0.0 {
		t.Errorf("states %v: want all 12 names, zeros included", states)
	}
	for _, s := range AllStates() {
		if !strings.Contains(string(b), `"`+s.String()+`":`) {
			t.Errorf("JSON lacks state %s", s)
		}
	}
	row := m["top_local_ports"].([]any)[0].(map[string]any)
	if diff := gocmp.Diff(map[string]any{"port": 80.0, "total": 1.0, "states": map[string]any{"LISTEN": 1.0}}, row); diff != "" {
		t.Errorf("table row lists only non-zero states (-want +got):\n%s", diff)
	}
	pp := m["port_pressure"].([]any)[0].(map[string]any)
	if diff := gocmp.Diff(map[string]any{"local_addr": "10.0.0.1", "remote_addr": "10.0.0.5", "remote_port": 3306.0,
		"used": 1.0, "time_wait": 1.0, "time_wait_recent": 0.0, "time_wait_left": []any{1.0, 0.0, 0.0, 0.0, 0.0, 0.0},
		"capacity": 10.0, "ratio": 0.1}, pp); diff != "" {
		t.Errorf("port_pressure row (-want +got):\n%s", diff)
	}
	if m["time"] != "2026-11-24T14:00:00Z" || m["dump_ms"] != 1.5 {
		t.Errorf("time %v dump_ms %v", m["time"], m["dump_ms"])
	}
	if exp := m["time_wait_expiry"].([]any); len(exp) != 6 || exp[0].(map[string]any)["within_s"] != 10.0 {
		t.Errorf("time_wait_expiry %v", exp)
	}
	for _, k := range []string{"inuse", "orphan", "tw", "alloc", "CurrEstab", "ActiveOpens", "PassiveOpens",
		"AttemptFails", "EstabResets", "TW", "TWRecycled", "TWKilled", "TCPTimeWaitOverflow", "ListenOverflows", "ListenDrops"} {
		if _, ok := m["counters"].(map[string]any)[k]; !ok {
			t.Errorf("counters lack %q", k)
		}
	}
}

func TestStateNames(t *testing.T) {
	want := "ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE CLOSE_WAIT LAST_ACK LISTEN CLOSING NEW_SYN_RECV"
	var got []string
	for _, s := range AllStates() {
		got = append(got, s.String())
		if p, err := ParseState(s.String()); err != nil || p != s {
			t.Errorf("ParseState(%s) = %v, %v", s, p, err)
		}
	}
	if strings.Join(got, " ") != want {
		t.Errorf("names %v", got)
	}
	if State(0).Valid() || State(13).Valid() || State(13).String() != "STATE(13)" {
		t.Error("states outside 1..12 are invalid")
	}
}

// TestCookieWindowModel checks the window against a plain model over a
// long stream with many repeats, evictions and hash collisions: a cookie
// among the last windowSize distinct ones is always a repeat, one not
// among the last 2*windowSize never is.
func TestCookieWindowModel(t *testing.T) {
	var w cookieWindow
	w.reset()
	var recent []uint64 // the model: the last 2*windowSize distinct insertions
	x := uint64(1)
	for i := range 200_000 {
		x = x*6364136223846793005 + 1442695040888963407
		c := x>>52 + 1 // few distinct values: repeats and evictions galore
		if i%7 == 0 && len(recent) > 0 {
			c = recent[int(x%uint64(len(recent)))]
		}
		at := slices.Index(recent, c)
		got := w.seen(c)
		switch {
		case at >= len(recent)-windowSize && at >= 0 && !got:
			t.Fatalf("step %d: %d was among the last %d and is not seen as a repeat", i, c, windowSize)
		case at < 0 && got:
			t.Fatalf("step %d: %d is seen as a repeat, but is not among the last %d", i, c, 2*windowSize)
		}
		if !got {
			recent = append(recent, c)
			if len(recent) > 2*windowSize {
				recent = recent[1:]
			}
		}
	}
}

// TestOwnersJSONContract: the owners object's names, which scripts read.
func TestOwnersJSONContract(t *testing.T) {
	snap := Snapshot{Time: time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC), Interval: 1200 * time.Millisecond,
		Attribution: Attribution{Enabled: true, Time: time.Date(2026, 11, 24, 13, 59, 58, 0, time.UTC), Took: 2500 * time.Microsecond,
			Hidden: 3, Owned: 10, Shared: 1, Unowned: 6, UnownedTimeWait: 4, UnownedHandshake: 1, UnownedOrphan: 1,
			UnownedRemembered: 3, Remembered: 12,
			Unknown: 4, UnseenNewer: 1, UnseenHidden: 2, UnseenOtherPIDNamespace: 1}}
	b, err := json.Marshal(&snap)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		IntervalMS float64        `json:"interval_ms"`
		Owners     map[string]any `json:"owners"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"owned": 10.0, "shared": 1.0, "hidden_processes": 3.0, "walk_ms": 2.5, "walk_time": "2026-11-24T13:59:58Z",
		"kernel_unowned": map[string]any{"total": 6.0, "time_wait": 4.0, "handshake": 1.0, "orphan": 1.0, "time_wait_remembered": 3.0},
		"remembered":     12.0, "source": "proc",
		"unseen": map[string]any{"total": 4.0, "newer_than_walk": 1.0, "other_user": 2.0, "main_thread_exited": 0.0, "other_pid_namespace": 1.0}}
	if diff := gocmp.Diff(want, m.Owners); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
	if m.IntervalMS != 1200 {
		t.Errorf("interval_ms %v", m.IntervalMS)
	}
}

// TestFolding: client ports in the ephemeral range fold into one local
// row and a peer's ephemeral ports into addr:*, so servers lead; a server
// listening inside the range keeps its own row.
func TestFolding(t *testing.T) {
	ports, _ := ParsePortRange([]byte("40000 40009"), nil)
	a := NewAggregator(ports)
	for _, s := range []*Socket{
		sock(Listen, "0.0.0.0:80", "0.0.0.0:0", 0),
		sock(Listen, "0.0.0.0:40008", "0.0.0.0:0", 0),
		sock(Established, "10.0.0.9:40001", "10.0.0.5:3306", 0),
		sock(Established, "10.0.0.9:40002", "10.0.0.5:3306", 0),
		sock(TimeWait, "10.0.0.9:40003", "10.0.0.5:3306", time.Second),
		sock(Established, "10.0.0.9:80", "10.0.0.7:40005", 0),
		sock(Established, "10.0.0.9:80", "10.0.0.7:40006", 0),
		sock(Established, "10.0.0.9:40008", "10.0.0.8:40007", 0),
	} {
		a.Add(s)
	}
	var snap Snapshot
	a.Fill(&snap, 10)
	local := map[string]int{}
	for _, r := range snap.LocalPortsFolded {
		k := fmt.Sprint(r.Port)
		if r.Ports > 0 {
			k = fmt.Sprintf("ephemeral (%d ports)", r.Ports)
		}
		local[k] = r.States.Total()
	}
	if diff := gocmp.Diff(map[string]int{"80": 3, "40008": 2, "ephemeral (3 ports)": 3}, local); diff != "" {
		t.Errorf("folded local ports (-want +got):\n%s", diff)
	}
	remote := map[string]int{}
	for _, r := range snap.RemoteEndpointsFolded {
		k := r.Endpoint.String()
		if r.Ports > 0 {
			k = r.Endpoint.Addr().String() + ":*"
		}
		remote[k] = r.States.Total()
	}
	if diff := gocmp.Diff(map[string]int{"10.0.0.5:3306": 3, "10.0.0.7:*": 2, "10.0.0.8:*": 1}, remote); diff != "" {
		t.Errorf("folded remote endpoints (-want +got):\n%s", diff)
	}
	if len(snap.TopLocalPorts) != 5 {
		t.Errorf("the unfolded table changed: %d rows", len(snap.TopLocalPorts))
	}
}

// BenchmarkAggregateLoadTest counts the population of
// scripts/bench-floor.sh (loadTestSockets) into a reused aggregator, as a
// dashboard does each second, then fills a snapshot. It is the counting
// half of a snapshot, without decoding, the kernel's copying or the
// process's start-up.
//
// The narrowed cases are the dashboard under a / filter: every socket is
// still counted for the histogram and the pressure, and the filter is
// evaluated here for the tables.
func BenchmarkAggregateLoadTest(b *testing.B) {
	for _, c := range []struct{ name, narrow string }{
		{"all", ""},
		{"narrowed-none", "dport 1"},
		{"narrowed-expr", "state time-wait ( dport = :20000 or dport = :20001 ) and dst 127.0.0.0/30"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var q Query
			if c.narrow != "" {
				q.Narrow, _ = filter.Parse(c.narrow)
			}
			aggregateLoadTest(b, q)
		})
	}
}

func aggregateLoadTest(b *testing.B, q Query) {
	ports, _ := ParsePortRange([]byte("32768 60999"), nil)
	socks := loadTestSockets()
	a := NewAggregator(ports)
	var snap Snapshot
	for b.Loop() {
		a.Reset(ports, q)
		a.Reserve(17_000)
		for i := range socks {
			a.Add(&socks[i])
		}
		a.Fill(&snap, 10)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(socks)), "ns/socket")
}

// loadTestSockets is a load test's population as a dump lists it: 200,000
// TIME_WAIT sockets to eight servers' four ports each, and 8,500
// established pairs, in hash (random) order.
func loadTestSockets() []Socket {
	r := rand.New(rand.NewPCG(1, 2))
	var socks []Socket
	client := netip.MustParseAddr("127.0.0.1")
	for i := range 200_000 {
		server := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + i%8)}), uint16(20000+i/8%4))
		socks = append(socks, Socket{Family: IPv4, State: TimeWait, Local: netip.AddrPortFrom(client, uint16(32768+r.IntN(28232))),
			Remote: server, Expires: time.Duration(r.IntN(60_000)) * time.Millisecond, Cookie: uint64(i + 1)})
	}
	for i := range 8_500 {
		server := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + i%8)}), 20100)
		c := netip.AddrPortFrom(client, uint16(32768+r.IntN(28232)))
		socks = append(socks, Socket{Family: IPv4, State: Established, Local: c, Remote: server, Inode: uint32(1e6 + 2*i), Cookie: uint64(1e6 + 2*i), Cgroup: 7},
			Socket{Family: IPv4, State: Established, Local: server, Remote: c, Inode: uint32(1e6 + 2*i + 1), Cookie: uint64(1e6 + 2*i + 1), Cgroup: 7})
	}
	r.Shuffle(len(socks), func(i, j int) { socks[i], socks[j] = socks[j], socks[i] })
	return socks
}

// BenchmarkDumpLoadTest is the user-space half of a one-shot snapshot of
// the load test, from the kernel's datagrams on: framing, decoding,
// deduplication, counting into a new aggregator (as --once does, its
// tables growing from nothing) and filling the snapshot. The datagrams are
// the kernel's wire format, 32 KiB each.
func BenchmarkDumpLoadTest(b *testing.B) {
	ports, _ := ParsePortRange([]byte("32768 60999"), nil)
	socks := loadTestSockets()
	var datagrams [][]byte
	var d []byte
	for i := range socks {
		m := marshalSocket(&socks[i], 1)
		if len(d)+len(m) > 32<<10 {
			datagrams, d = append(datagrams, d), nil
		}
		d = append(d, m...)
	}
	done := make([]byte, 20) // NLMSG_DONE, errno 0
	binary.NativeEndian.PutUint32(done[0:], 20)
	binary.NativeEndian.PutUint16(done[4:], uint16(netlink.Done))
	binary.NativeEndian.PutUint32(done[8:], 1)
	datagrams = append(datagrams, append(d, done...))
	var snap Snapshot
	// As --once runs: without the collector, the heap freed between runs.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		a := NewAggregator(ports)
		a.Reset(ports, Query{})
		a.Reserve(17_000)
		c := &Conn{}
		handle := c.handler(1, sockDiagByFamily, a.Add)
		for _, d := range datagrams {
			if _, err := forEachMessage(d, handle); err != nil {
				b.Fatal(err)
			}
		}
		a.Fill(&snap, 10)
		if snap.Total != len(socks) {
			b.Fatalf("counted %d sockets of %d", snap.Total, len(socks))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(socks)), "ns/socket")
}

// marshalSocket encodes s as the kernel sends it: a netlink header, struct
// inet_diag_msg, and the cgroup id attribute for a socket that has one.
func marshalSocket(s *Socket, seq uint32) []byte {
	b := make([]byte, 16+diagMsgLen)
	binary.NativeEndian.PutUint16(b[4:], sockDiagByFamily)
	binary.NativeEndian.PutUint16(b[6:], uint16(netlink.Multi))
	binary.NativeEndian.PutUint32(b[8:], seq)
	m := b[16:]
	m[0], m[1], m[2], m[3] = byte(s.Family), byte(s.State), s.Timer, s.Retransmits
	id := m[4:]
	binary.BigEndian.PutUint16(id[0:], s.Local.Port())
	binary.BigEndian.PutUint16(id[2:], s.Remote.Port())
	if s.Family == IPv4 {
		l, r := s.Local.Addr().As4(), s.Remote.Addr().As4()
		copy(id[4:], l[:])
		copy(id[20:], r[:])
	} else {
		l, r := s.Local.Addr().As16(), s.Remote.Addr().As16()
		copy(id[4:], l[:])
		copy(id[20:], r[:])
	}
	binary.NativeEndian.PutUint32(id[36:], s.Interface)
	binary.NativeEndian.PutUint32(id[40:], uint32(s.Cookie))
	binary.NativeEndian.PutUint32(id[44:], uint32(s.Cookie>>32))
	binary.NativeEndian.PutUint32(m[52:], uint32(s.Expires/time.Millisecond))
	binary.NativeEndian.PutUint32(m[56:], s.RecvQ)
	binary.NativeEndian.PutUint32(m[60:], s.SendQ)
	binary.NativeEndian.PutUint32(m[64:], s.UID)
	binary.NativeEndian.PutUint32(m[68:], s.Inode)
	if s.Cgroup != 0 {
		b = binary.NativeEndian.AppendUint16(b, 12)
		b = binary.NativeEndian.AppendUint16(b, attrCgroupID)
		b = binary.NativeEndian.AppendUint64(b, s.Cgroup)
	}
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	return b
}

func mustFilter(t *testing.T, expr string) *filter.Filter {
	t.Helper()
	f, err := filter.Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPortNotesPastEightBits: a port's counts are 8 bits in the dense
// arrays; a port with more sockets than that in a state (a server's 443
// with 70,000 connections, a client port's 255th to 257th) is still
// counted exactly, after a reset too.
func TestPortNotesPastEightBits(t *testing.T) {
	var p portNotes
	for round := range 2 {
		p.reset()
		for range 70_000 {
			p.note(443, Established)
		}
		for range 1<<17 + 3 {
			p.note(443, TimeWait)
		}
		p.note(80, Established)
		p.note(443, CloseWait)
		for port, n := range map[uint16]int{1000: 255, 1001: 256, 1002: 257, 1003: 511, 1004: 512} {
			for range n {
				p.note(port, TimeWait)
				p.note(port+100, Established)
			}
		}
		got := map[uint16][NumStates]uint32{}
		p.each(func(r *portRow) { got[r.port] = r.states })
		var want443, want80 [NumStates]uint32
		want443[Established], want443[TimeWait], want443[CloseWait] = 70_000, 1<<17+3, 1
		want80[Established] = 1
		if len(got) != 12 || got[443] != want443 || got[80] != want80 {
			t.Errorf("round %d: counts %v, want 443 %v and 80 %v", round, got, want443, want80)
		}
		for port, n := range map[uint16]uint32{1000: 255, 1001: 256, 1002: 257, 1003: 511, 1004: 512} {
			if got[port][TimeWait] != n || got[port+100][Established] != n {
				t.Errorf("round %d: port %d %d, port %d %d; want %d each", round, port, got[port][TimeWait], port+100, got[port+100][Established], n)
			}
		}
	}
}

// TestLow32: an address's last four bytes, IPv4 or IPv6.
func TestLow32(t *testing.T) {
	for s, want := range map[string]uint32{"10.1.2.3": 0x0a010203, "2001:db8::a0b:c0d": 0x0a0b0c0d, "::ffff:10.1.2.3": 0x0a010203, "fe80::1%eth0": 1} {
		if got := low32(netip.MustParseAddr(s)); got != want {
			t.Errorf("low32(%s) = %#x, want %#x", s, got, want)
		}
	}
}

// TestDestinationGroupsApart: groups whose addresses differ only where a
// hash might not look (an IPv6 address's high bits, its zone, an IPv4
// address and its mapped form, the port) are groups apart, through the
// tables' growth, with each socket counted in its own.
func TestDestinationGroupsApart(t *testing.T) {
	ports, _ := ParsePortRange([]byte("40000 60000"), nil)
	a := NewAggregator(ports)
	remotes := []string{"10.0.0.5:443", "[::ffff:10.0.0.5]:443", "10.0.0.5:444", "[2001:db8:1::1]:443", "[2001:db8:2::1]:443",
		"[fe80::1%eth0]:443", "[fe80::1%eth1]:443", "[fe80::1]:443"}
	locals := []string{"10.0.0.1", "::ffff:10.0.0.1", "2001:db8:1::7", "2001:db8:2::7", "fe80::7%eth0"}
	want := map[[2]string]int{}
	port := 40000
	for round := range 3 { // a second socket finds its group's row, a third too
		for _, r := range remotes {
			for _, l := range locals {
				for n := range 100 { // 4,000 groups: the tables grow
					local := netip.AddrPortFrom(netip.MustParseAddr(l), uint16(40000+n))
					remote := netip.MustParseAddrPort(r)
					if n > 0 {
						remote = netip.AddrPortFrom(remote.Addr(), remote.Port()+uint16(n)*10)
					}
					family := IPv6
					if local.Addr().Is4() {
						family = IPv4
					}
					a.Add(&Socket{State: Established, Family: family, Local: local, Remote: remote, Cookie: uint64(port)})
					want[[2]string{local.Addr().String(), remote.String()}]++
					port++
				}
			}
		}
		if round == 0 && a.groups.n != len(remotes)*len(locals)*100 {
			t.Fatalf("%d groups after one socket each, want %d", a.groups.n, len(remotes)*len(locals)*100)
		}
	}
	var snap Snapshot
	a.Fill(&snap, a.groups.n)
	got := map[[2]string]int{}
	for _, g := range snap.PortPressure {
		got[[2]string{g.Local.String(), g.Remote.String()}] += g.Used
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

// TestTimeWaitReuse: connect() surely takes over TIME_WAIT ports over
// loopback only, with tcp_tw_reuse on and timestamps; a group there counts
// the TIME_WAIT older than the delay as reusable, and is not out of ports
// while they are.
func TestTimeWaitReuse(t *testing.T) {
	lo, lo6, mapped := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("::ffff:127.0.0.5")
	far := netip.MustParseAddr("10.0.0.5")
	def := TimeWaitReuse{Reuse: 2, Timestamps: true, Delay: time.Second}
	for _, tc := range []struct {
		r             TimeWaitReuse
		local, remote netip.Addr
		want          bool
	}{
		{def, lo, lo, true},
		{def, far, lo, true}, // a loopback end is enough, as the kernel says
		{def, lo6, lo6, true},
		{def, mapped, mapped, true},
		{def, far, far, false}, // 2 is loopback only
		{TimeWaitReuse{Reuse: 1, Timestamps: true}, far, far, false}, // the peer's timestamps are unknown
		{TimeWaitReuse{Reuse: 1, Timestamps: true}, lo, lo, true},
		{TimeWaitReuse{Reuse: 0, Timestamps: true}, lo, lo, false},
		{TimeWaitReuse{Reuse: 2, Timestamps: false}, lo, lo, false},
	} {
		if got := tc.r.Applies(tc.local, tc.remote); got != tc.want {
			t.Errorf("%+v from %v to %v: applies %v, want %v", tc.r, tc.local, tc.remote, got, tc.want)
		}
	}

	ports, err := ParsePortRange([]byte("40000 40003"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fill := func(r TimeWaitReuse, local, remote string) PressureGroup {
		a := NewAggregator(ports)
		a.Reset(ports, Query{})
		for i, left := range []time.Duration{59500 * time.Millisecond, 30 * time.Second, 5 * time.Second, 45 * time.Second} {
			a.Add(sock(TimeWait, local+":"+strconv.Itoa(40000+i), remote, left))
		}
		snap := Snapshot{TimeWaitReuse: r}
		a.Fill(&snap, 10)
		return snap.PortPressure[0]
	}
	// Four ports of four in TIME_WAIT, one younger than 2 s.
	if g := fill(def, "127.0.0.1", "127.0.0.5:3306"); g.ReuseAfter != time.Second || g.ReusableTimeWait != 3 || g.Held() != 1 || g.Exhausted() {
		t.Errorf("over loopback: %+v; want 3 reusable after 1s, 1 held, not out of ports", g)
	}
	// A longer delay: 20 s old at least, the slots that cannot be younger.
	if g := fill(TimeWaitReuse{Reuse: 2, Timestamps: true, Delay: 20 * time.Second}, "127.0.0.1", "127.0.0.5:3306"); g.ReusableTimeWait != 2 {
		t.Errorf("reuse after 20s: %d reusable, want 2 (30 s and 5 s left)", g.ReusableTimeWait)
	}
	if g := fill(def, "10.0.0.1", "10.0.0.5:3306"); g.ReuseAfter != 0 || g.ReusableTimeWait != 0 || !g.Exhausted() {
		t.Errorf("to 10.0.0.5: %+v; want nothing reusable, out of ports", g)
	}

	// Ranked by what connect() cannot take: two ports held open to
	// 10.0.0.5 come before four in TIME_WAIT over loopback, three of them
	// reusable, however many fewer they are.
	a := NewAggregator(ports)
	a.Reset(ports, Query{})
	for i, left := range []time.Duration{59500 * time.Millisecond, 30 * time.Second, 5 * time.Second, 45 * time.Second} {
		a.Add(sock(TimeWait, "127.0.0.1:"+strconv.Itoa(40000+i), "127.0.0.5:3306", left))
	}
	a.Add(sock(Established, "10.0.0.1:40000", "10.0.0.5:3306", 0))
	a.Add(sock(Established, "10.0.0.1:40001", "10.0.0.5:3306", 0))
	snap := Snapshot{TimeWaitReuse: def}
	a.Fill(&snap, 1)
	if g := snap.PortPressure; len(g) != 1 || g[0].Remote != netip.MustParseAddrPort("10.0.0.5:3306") {
		t.Errorf("top pressure row %+v: want the two held open to 10.0.0.5:3306", g)
	}
}
