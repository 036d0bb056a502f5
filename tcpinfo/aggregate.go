package tcpinfo

import (
	"cmp"
	"encoding/binary"
	"math"
	mathbits "math/bits"
	"net/netip"
	"slices"
	"time"

	"github.com/tcpdash/tcpdash/internal/filter"
)

// TimeWaitLength is TCP_TIMEWAIT_LEN: fixed, whatever tcp_fin_timeout says.
const TimeWaitLength = 60 * time.Second

// RecentWindow is how young a TIME_WAIT socket must be to count as a
// recent close in PressureGroup.RecentTimeWait; FreshWindow, a shorter
// one, tells a steady rate from a burst that has ended.
const (
	RecentWindow = 10 * time.Second
	FreshWindow  = 2 * time.Second
)

// expiryBuckets are the TIME_WAIT expiry histogram's upper bounds.
const (
	expiryStep    = RecentWindow
	expiryBuckets = ExpirySlots
)

// ExpirySlots are a destination group's TIME_WAIT sockets by the time left
// on their timers (PressureGroup.TimeWaitLeft), RecentWindow apiece:
// TimeWaitLength is six of them.
const ExpirySlots = int(TimeWaitLength / RecentWindow)

// An Aggregator folds a stream of sockets into the counts of a Snapshot.
// It keeps no per-socket data: its tables are sized by distinct ports,
// endpoints and destination groups, and are reused across Resets, so
// adding a socket allocates nothing once the tables have grown.
type Aggregator struct {
	ports PortRange
	query Query
	// narrowed says the query leaves some sockets out of the tables.
	narrowed bool
	// health gathers tcp_info per destination, when the dump has it.
	health   healthBook[netip.AddrPort]
	byCgroup healthBook[uint64] // the same, per service
	entry    filter.Entry       // what the query's filter reads, reused

	total    int
	states   StateCounts
	families FamilyCounts

	local, remote portNotes

	endpointIndex map[netip.AddrPort]int
	endpoints     []endpointRow
	// peers notes the peers of servers' sockets, counted at Fill.
	peers peerNotes
	// recent remembers where the sockets to a few destinations were
	// counted: a load test's sockets go to a handful of destinations, and
	// a hit skips both map lookups (a third of aggregating otherwise).
	recent     [recentSize]recentRow
	recentUsed bool // a row of recent is filled

	// Destination groups by their local address's index in locals and
	// their destination's endpoint row (a map keyed by the addresses cost
	// 80 bytes a group, for clients of thousands of destinations from
	// hundreds of addresses).
	groupIndex groupTable
	groups     groupRows
	localIndex map[netip.Addr]int32
	locals     []netip.Addr

	cgroupIndex map[uint64]int
	lastCgroup  int // the row addCgroup counted into last
	cgroups     []CgroupCount

	// The port tables' rows, reused.
	localTop, remoteTop []portRow
	localFolded         []FoldedPort

	listeners []Listener
	synRecv   map[uint16]int // handshakes by local port

	// groupOwners counts a destination group's sockets by who opened them
	// (the process, or -1, and the cgroup, or 0) for every opener but the
	// group's first, whom its row counts: most groups have one.
	groupOwners map[groupOwner]int

	expiry [expiryBuckets]int

	// Attribution, when the query has Owners.
	procs      []StateCounts // by Owners' process index
	procShared []int         // sockets each process shares with another
	procCgroup []uint64      // the cgroup of each process's sockets
	pidIndex   map[int32]int32
	memory     *ownerMemory // nil unless owners are remembered
	// known are the processes seen in earlier walks, and extra the rows
	// of those gone from the current walk (exited, or holding no socket
	// now) that remembered TIME_WAIT still counts for.
	known        map[int32]Owner
	knownFrom    *Owners
	extraOwners  []Owner
	closeWait    map[procEndpoint]int
	closeWaitOn  map[procPort]int
	att          Attribution // the per-socket counts
	orphanFW2    int
	listenInPort []uint16
	listenPorts  []uint16 // every port listened on, in or out of the range
	// listenSet is listenPorts as a bitset: asked per socket (health, and
	// per close event), where a scan of hundreds of listeners would not do.
	listenSet [1 << 16 / 64]uint64
}

type procEndpoint struct {
	proc int32
	ep   netip.AddrPort
}

type groupOwner struct {
	group  int32
	proc   int32
	cgroup uint64
}

type procPort struct {
	proc int32
	port uint16
}

// portNotes counts sockets by local port. A load test's client ports are
// tens of thousands, visited by a dump in hash order: counted into a row
// per port, each socket was a cache miss on rows spread over megabytes
// (most of aggregating). So the two states that are most sockets,
// TIME_WAIT and ESTABLISHED, are counted in dense arrays indexed by port
// of 8 bits (all 65,536 ports' pairs are 128 KiB, which a core's L2
// cache holds: at 32 bits, a dump of random local and remote ports
// missed it on every socket; at 16, a one-shot snapshot of random client
// ports touched 64 pages a table more, a page fault each), and the other states are
// only noted, in arrival order. Read, the notes are sorted by port and
// merged with the arrays, and each port's counts become one row, passed
// on and dropped: no table of every port's rows is ever built.
type portNotes struct {
	// counts holds each port's TIME_WAIT and ESTABLISHED side by side:
	// in two arrays, a port read touched two pages, one of them often
	// never written (a page fault on the zero page all the same).
	counts  *[1 << 16][2]uint8   // made at the first count
	carry   map[uint32]uint32    // port<<1 | TIME_WAIT 0, ESTABLISHED 1: counts past 255, in 256s
	carried []uint32             // carry's keys, sorted, while each runs
	touched [1 << 16 / 64]uint64 // ports with a count in the arrays
	words   []uint16             // touched's words that are not zero: a small dump reads few
	batch   []uint32             // port<<8 | state, not yet counted
	notes   []uint32             // port<<8 | state
	scratch []uint32
	row     portRow // the row each passes on (a local would escape to the heap)
	mem     *bulk   // where counts come from, if not the heap
}

// portBatch is a batch's length: 16 KiB, which stays in L1.
const portBatch = 4096

func (p *portNotes) note(port uint16, s State) {
	if len(p.batch) == cap(p.batch) {
		p.flush()
	}
	p.batch = append(p.batch, uint32(port)<<8|uint32(s))
}

// flush counts the batch's notes. Sockets are noted a batch at a time
// because between two of a dump's datagrams the kernel's walk evicts the
// arrays: counted one by one, nearly every socket's increment missed;
// a batch's increments, in a tight loop, overlap their misses.
func (p *portNotes) flush() {
	if p.batch == nil {
		p.batch = make([]uint32, 0, portBatch)
	}
	if p.counts == nil && len(p.batch) > 0 {
		p.counts = (*[1 << 16][2]uint8)(bulkMake[[2]uint8](p.mem, 1<<16))
	}
	for _, n := range p.batch {
		var i uint32
		switch State(n & 0xff) {
		case TimeWait:
			i = 0
		case Established:
			i = 1
		default:
			p.notes = append(p.notes, n)
			continue
		}
		port := n >> 8
		c := &p.counts[port][i]
		if *c++; *c == 0 { // wrapped: one port's 256th socket in a state (a server's port, a destination's)
			if p.carry == nil {
				p.carry = make(map[uint32]uint32)
			}
			p.carry[port<<1|i] += 1 << 8
		}
		w := uint16(port / 64)
		if p.touched[w] == 0 {
			p.words = append(p.words, w)
		}
		p.touched[w] |= 1 << (port % 64)
	}
	p.batch = p.batch[:0]
}

// reserve makes room for n notes: a dump's notes grow no slice that is
// copied and dropped, which a one-shot snapshot pays for in page faults.
func (p *portNotes) reserve(n int) {
	if cap(p.notes) < n {
		p.notes = make([]uint32, 0, n)
	}
}

// reset empties the counts. Only the pages of the ports in use were ever
// written.
func (p *portNotes) reset() {
	clear(p.carry)
	for _, w := range p.words {
		for bits := p.touched[w]; bits != 0; bits &= bits - 1 {
			port := int(w)*64 + mathbits.TrailingZeros64(bits)
			p.counts[port] = [2]uint8{}
		}
		p.touched[w] = 0
	}
	p.words = p.words[:0]
	p.notes = p.notes[:0]
	p.batch = p.batch[:0]
}

// each calls fn with each port's counts, in port order. The row is
// reused: fn copies what it keeps.
func (p *portNotes) each(fn func(r *portRow)) {
	p.flush()
	p.sort()
	r := &p.row
	notes := p.notes
	// run counts the notes of notes[0]'s port into r, and drops them.
	run := func() {
		port := notes[0] >> 8
		for len(notes) > 0 && notes[0]>>8 == port {
			r.states[notes[0]&0xff]++
			notes = notes[1:]
		}
	}
	// The ports with counts past 255, in port order, walked beside the
	// arrays: a lookup a port cost a mix of 55,000 client ports 2% of its
	// user time.
	carried := p.carried[:0]
	for k := range p.carry {
		carried = append(carried, k)
	}
	slices.Sort(carried)
	p.carried = carried
	slices.Sort(p.words)
	for _, w := range p.words {
		for bits := p.touched[w]; bits != 0; bits &= bits - 1 {
			port := uint32(int(w)*64 + mathbits.TrailingZeros64(bits))
			for len(notes) > 0 && notes[0]>>8 < port {
				*r = portRow{port: uint16(notes[0] >> 8)}
				run()
				fn(r)
			}
			*r = portRow{port: uint16(port)}
			r.states[TimeWait], r.states[Established] = uint32(p.counts[port][0]), uint32(p.counts[port][1])
			for len(carried) > 0 && carried[0]>>1 == port {
				st := TimeWait
				if carried[0]&1 == 1 {
					st = Established
				}
				r.states[st] += p.carry[carried[0]]
				carried = carried[1:]
			}
			if len(notes) > 0 && notes[0]>>8 == port {
				run()
			}
			fn(r)
		}
	}
	for len(notes) > 0 {
		*r = portRow{port: uint16(notes[0] >> 8)}
		run()
		fn(r)
	}
}

// sort orders the notes by port: by the port's low byte, then, stably,
// by its high byte. Few notes are sorted in place.
func (p *portNotes) sort() {
	if len(p.notes) < 1<<10 {
		slices.Sort(p.notes)
		return
	}
	p.scratch = grow(p.scratch[:0], len(p.notes))[:len(p.notes)]
	radixPass(p.notes, p.scratch, 8)
	radixPass(p.scratch, p.notes, 16)
}

// radixPass copies src into dst ordered by the byte at shift, stably.
func radixPass(src, dst []uint32, shift uint) {
	var at [256]int
	for _, n := range src {
		at[n>>shift&0xff]++
	}
	sum := 0
	for i, c := range at {
		at[i], sum = sum, sum+c
	}
	for _, n := range src {
		b := n >> shift & 0xff
		dst[at[b]] = n
		at[b]++
	}
}

// portRow is a port's counts, half the size of a PortCount: a dump of
// 200,000 TIME_WAIT sockets has some 28,000 client ports, each counted at
// random, and the rows' cache misses were most of aggregating.
type portRow struct {
	states [NumStates]uint32
	port   uint16
}

func (r *portRow) count() PortCount {
	c := PortCount{Port: r.port}
	for i, n := range r.states {
		c.States[i] = int(n)
	}
	return c
}

// grow makes room for n more elements, as slices.Grow does, except that
// it leaves the room uncleared: slices.Grow zeroes it, touching every page
// at once, while make gets memory fresh from the kernel (zero already)
// untouched until it is written. A one-shot snapshot paid for each page
// twice.
func grow[E any](s []E, n int) []E {
	if cap(s)-len(s) >= n {
		return s
	}
	g := make([]E, len(s), len(s)+n)
	copy(g, s)
	return g
}

// recentBits sizes the cache of recent destinations: 1,024 rows (64 KiB),
// a few times the destination groups of a load test, so that few share a
// row.
const (
	recentBits = 10
	recentSize = 1 << recentBits
)

type recentRow struct {
	remote          netip.AddrPort
	local           netip.Addr
	endpoint, group int32
}

type groupKey struct {
	local, remote netip.Addr
	port          uint16
}

// NewAggregator returns an aggregator that measures port pressure against
// ports, the ephemeral range in force.
func NewAggregator(ports PortRange) *Aggregator {
	a := &Aggregator{
		ports:         ports,
		endpointIndex: make(map[netip.AddrPort]int),
		localIndex:    make(map[netip.Addr]int32),
		cgroupIndex:   make(map[uint64]int),
		synRecv:       make(map[uint16]int),
		groupOwners:   make(map[groupOwner]int),
		closeWait:     make(map[procEndpoint]int),
		closeWaitOn:   make(map[procPort]int),
	}
	a.local.reset()
	a.remote.reset()
	return a
}

// OneShot makes the aggregator take its large tables from memory the
// kernel backs with huge pages, and never give them back: for a process
// that counts one dump and exits (see bulk). Call it before the first Add.
func (a *Aggregator) OneShot() {
	b := &bulk{}
	a.local.mem, a.remote.mem, a.groups.mem, a.groupIndex.mem, a.peers.mem = b, b, b, b, b
}

// RememberOwners makes the aggregator carry owners over from open sockets
// to their TIME_WAIT, across dumps; now is the time of the dump about to
// be added. Call it before each Reset.
func (a *Aggregator) RememberOwners(now time.Time) {
	if a.memory == nil {
		a.memory = newOwnerMemory()
	}
	if a.memory.begin(now) && a.known != nil {
		// The sweep has run: forget the processes no remembered socket
		// names any more, so that the list stays as short as the memory.
		live := map[int32]bool{}
		for _, r := range a.memory.byCookie {
			live[r.pid] = true
		}
		for pid := range a.known {
			if !live[pid] {
				delete(a.known, pid)
			}
		}
	}
}

// Listening notes that port is listened on, without counting a socket:
// which ports are listened on tells a server's socket from a client's
// and sizes every group's capacity, whatever a filtered dump leaves out.
// Add notes the listeners it is given; call it for the rest.
func (a *Aggregator) Listening(port uint16) {
	if a.listening(port) {
		return
	}
	a.listenSet[port/64] |= 1 << (port % 64)
	a.listenPorts = append(a.listenPorts, port)
	if a.ports.Ephemeral(port) {
		a.listenInPort = append(a.listenInPort, port)
	}
}

// listening reports whether the last dump had a listener on port.
func (a *Aggregator) listening(port uint16) bool { return a.listenSet[port/64]&(1<<(port%64)) != 0 }

// Remembered is how many sockets' owners are remembered.
func (a *Aggregator) Remembered() int { return a.memory.Len() }

// Reset empties the counts for the next dump, and sets the port range and
// the query the tables are built for.
func (a *Aggregator) Reset(ports PortRange, q Query) {
	a.ports = ports
	a.query = q
	a.narrowed = q.PID != 0 || q.Narrow != nil
	a.total = 0
	a.states = StateCounts{}
	a.families = FamilyCounts{}
	a.local.reset()
	a.remote.reset()
	clear(a.endpointIndex)
	if a.recentUsed { // 64 KiB: a one-shot snapshot of a server never touches it
		clear(a.recent[:])
		a.recentUsed = false
	}
	a.endpoints = a.endpoints[:0]
	a.peers.reset()
	a.groupIndex.reset()
	a.groups.reset()
	clear(a.localIndex)
	a.locals = a.locals[:0]
	clear(a.cgroupIndex)
	a.cgroups = a.cgroups[:0]
	a.listeners = a.listeners[:0]
	clear(a.synRecv)
	clear(a.groupOwners)
	a.expiry = [expiryBuckets]int{}
	a.procs, a.procShared, a.procCgroup = a.procs[:0], a.procShared[:0], a.procCgroup[:0]
	a.extraOwners = a.extraOwners[:0]
	clear(a.pidIndex)
	if q.Owners != nil {
		a.procs = append(a.procs, make([]StateCounts, len(q.Owners.procs))...)
		a.procShared = append(a.procShared, make([]int, len(q.Owners.procs))...)
		a.procCgroup = append(a.procCgroup, make([]uint64, len(q.Owners.procs))...)
		if a.memory != nil || q.Openers != nil {
			if a.pidIndex == nil {
				a.pidIndex = make(map[int32]int32, len(q.Owners.procs))
			}
			for i, p := range q.Owners.procs {
				a.pidIndex[int32(p.PID)] = int32(i)
			}
		}
		if a.memory != nil {
			if a.known == nil {
				a.known = make(map[int32]Owner)
			}
			if a.knownFrom != q.Owners { // a new walk: remember who it saw
				a.knownFrom = q.Owners
				for _, p := range q.Owners.procs {
					a.known[int32(p.PID)] = p
				}
			}
		}
	}
	clear(a.closeWait)
	clear(a.closeWaitOn)
	a.health.reset()
	a.byCgroup.reset()
	a.att, a.orphanFW2 = Attribution{}, 0
	if q.Openers != nil {
		a.att.Openers = q.Openers.Source()
	}
	a.listenInPort = a.listenInPort[:0]
	for _, p := range a.listenPorts {
		a.listenSet[p/64] = 0
	}
	a.listenPorts = a.listenPorts[:0]
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
	slot := 0 // a TIME_WAIT socket's slot by the time left on its timer
	if st == TimeWait {
		slot = min(max(int((s.Expires+expiryStep-1)/expiryStep), 1), expiryBuckets) - 1
		a.expiry[slot]++
	}
	if st == Listen {
		a.Listening(s.Local.Port())
	}
	if st == FinWait2 && s.Inode == 0 {
		a.orphanFW2++
	}
	owner, cgroup := a.attribute(s)
	switch st {
	case Listen:
		l := Listener{Local: s.Local, AcceptQueue: int(s.RecvQ), Backlog: int(s.SendQ)}
		if owner >= 0 {
			l.Owner = a.ownerAt(owner)
		}
		a.listeners = append(a.listeners, l)
	case SynRecv, NewSynRecv:
		a.synRecv[s.Local.Port()]++
	}
	// A narrowed-out socket still counts toward its destination's port
	// pressure: a filter narrows tables, never alarms.
	counted := !a.narrowed || a.query.matches(s, owner, a.ports, &a.entry)
	lport := s.Local.Port()
	if counted {
		a.local.note(lport, st)
		if cgroup != 0 {
			a.addCgroup(cgroup, st)
		}
	}

	// A listener's peer is the wildcard: it is nobody's remote end.
	rport := s.Remote.Port()
	if st == Listen || rport == 0 {
		return
	}
	if counted {
		a.remote.note(rport, st)
	}
	// A server's side: its local port is outside the range connect()
	// picks from, or listened on (the kernel dumps listeners first, and
	// connect() never picks a port bound with bind()). A server inside
	// the range, as after the classic advice to widen it, is still a
	// server: counted as a client, each of its peers was a destination
	// group of its own.
	if !a.ports.Ephemeral(lport) || a.listening(lport) {
		// Its peers are many, each seen once or twice: noted, and
		// counted sorted at Fill (see peerNotes).
		if counted && !a.peers.add(s.Remote, st) {
			a.endpoints[a.endpointRow(s.Remote)].states[st]++
		}
		return
	}
	if s.HasInfo && st == Established {
		a.health.add(s.Remote, DestinationHealth{Remote: s.Remote}, s) // a client's connection: its destination's health
		if cgroup != 0 {
			a.byCgroup.add(cgroup, DestinationHealth{Cgroup: cgroup}, s)
		}
	}
	// A destination's row is one of two; an empty row's remote is the zero
	// AddrPort, which no socket has.
	first, second := recentSlots(s.Remote, s.Local.Addr())
	r := &a.recent[first]
	if r.remote != s.Remote || r.local != s.Local.Addr() {
		if r2 := &a.recent[second]; r2.remote == s.Remote && r2.local == s.Local.Addr() {
			r = r2
		} else {
			r = a.recentFill(r, r2, s.Remote, s.Local.Addr())
			a.recentUsed = true
		}
	}
	if counted {
		a.endpoints[r.endpoint].states[st]++
	}
	g := a.groups.at(r.group)
	g.used++
	if owner >= 0 || cgroup != 0 {
		switch {
		case g.openerCount == 0:
			g.openerProc, g.openerCgroup, g.openerCount = owner, cgroup, 1
		case g.openerProc == owner && g.openerCgroup == cgroup:
			g.openerCount++
		default:
			a.groupOwners[groupOwner{r.group, owner, cgroup}]++
		}
	}
	if st == TimeWait {
		g.timeWait++
		if g.left[slot] < math.MaxUint16 { // the last slot is RecentWindow's, the first frees within it
			g.left[slot]++
		}
		if s.Expires > TimeWaitLength-FreshWindow {
			g.fresh++
		}
	}
}

// pressureRow is a destination group's counts while a dump is counted:
// 48 bytes and no pointer (the garbage collector skips the slice). A
// PressureGroup is 208 bytes, most of them filled in at Fill for the
// rows shown; a client of thousands of destinations has as many groups,
// and their rows were most of a snapshot's memory.
type pressureRow struct {
	local, endpoint       int32 // indexes in locals and endpoints
	used, timeWait, fresh uint32
	// TIME_WAIT by time left: a group's sockets have distinct local
	// ports, so each slot fits 16 bits, and the row stays 48 bytes.
	left [ExpirySlots]uint16
	// The first opener seen and its sockets; any other's are in
	// groupOwners.
	openerProc   int32
	openerCount  uint32
	openerCgroup uint64
}

// group is row i as a PressureGroup, without capacity or opener.
func (a *Aggregator) group(i int) PressureGroup {
	r := a.groups.at(int32(i))
	g := PressureGroup{Local: a.locals[r.local], Remote: a.endpoints[r.endpoint].endpoint, Used: int(r.used), TimeWait: int(r.timeWait),
		RecentTimeWait: int(r.left[ExpirySlots-1]), FreshTimeWait: int(r.fresh)}
	for i, n := range r.left {
		g.TimeWaitLeft[i] = int(n)
	}
	return g
}

// Reserve makes room for a dump with about open sockets not in
// TIME_WAIT (the kernel's own count, from sockstat, read just before it).
// Room reserved and not used costs nothing: its pages are never touched.
func (a *Aggregator) Reserve(open int) {
	open += open / 8 // sockets come and go while the dump runs
	a.local.reserve(open)
	a.remote.reserve(open)
	a.peers.reserve(open)
}

// recentSlots are the two rows a destination group (a local address and
// a destination) may have in the cache of recent destinations: the
// addresses' low 32 bits and the port, mixed by a multiply whose high
// bits pick the rows (the low bits of a product see only the low bits of
// its factors). With one row each, 40 destinations in 256 rows had four
// pairs sharing a row (the birthday paradox), each evicting the other at
// every other socket; a second choice leaves a destination without a row
// of its own only when both are taken. The local address is in the mix:
// clients from 200 addresses to 8 destinations, hashed by destination
// alone, shared 16 rows and missed on nearly every socket.
func recentSlots(remote netip.AddrPort, local netip.Addr) (first, second int) {
	h := (uint64(low32(remote.Addr()))<<16 | uint64(remote.Port())) ^ uint64(low32(local))<<24
	h *= 0x9E3779B97F4A7C15
	return int(h >> (64 - recentBits)), int(h >> (64 - 2*recentBits) & (recentSize - 1))
}

// low32 is an address's last four bytes: an IPv4 address's own. As4 first:
// As16's array went through the stack in two halves and came back in
// one, a load the processor cannot forward from the stores, which
// stalled every socket counted (a tenth of the counting, sampled).
func low32(a netip.Addr) uint32 {
	if a.Is4() {
		b := a.As4()
		return binary.BigEndian.Uint32(b[:])
	}
	b := a.As16()
	return binary.BigEndian.Uint32(b[12:])
}

// recentFill gives the destination local to remote a row of the cache,
// from the maps: the first of its rows that is empty, else the first.
func (a *Aggregator) recentFill(first, second *recentRow, remote netip.AddrPort, local netip.Addr) *recentRow {
	r := first
	if first.remote.IsValid() && !second.remote.IsValid() {
		r = second
	}
	ep := int32(a.endpointRow(remote))
	*r = recentRow{remote: remote, local: local, endpoint: ep, group: a.groupRow(local, ep)}
	return r
}

// endpointRow is the row of the endpoint table for ap, made if need be.
func (a *Aggregator) endpointRow(ap netip.AddrPort) int {
	i, ok := a.endpointIndex[ap]
	if !ok {
		i = len(a.endpoints)
		a.endpointIndex[ap] = i
		a.endpoints = append(a.endpoints, endpointRow{endpoint: ap})
	}
	return i
}

// groupRow is the row of the pressure table for the sockets from local
// to the endpoint in row ep, made if need be.
func (a *Aggregator) groupRow(local netip.Addr, ep int32) int32 {
	l, ok := a.localIndex[local]
	if !ok {
		l = int32(len(a.locals))
		a.localIndex[local] = l
		a.locals = append(a.locals, local)
	}
	return a.groupIndex.find(a, l, ep)
}

// groupRows are the destination groups' rows, in blocks that never move:
// grown by append, the rows were copied at each doubling, and a mix's
// 10,000 groups copied 0.4 MB, a hundred page faults of a one-shot
// snapshot. Blocks stay for the next dump; rows are written whole when
// added, so a reset only forgets them.
type groupRows struct {
	blocks []*[groupBlock]pressureRow
	n      int
	mem    *bulk // where blocks come from, if not the heap
}

// groupBlock is a block's rows: 24 KiB.
const groupBlock = 512

func (g *groupRows) at(i int32) *pressureRow { return &g.blocks[i/groupBlock][i%groupBlock] }

func (g *groupRows) add(r pressureRow) int32 {
	if g.n == len(g.blocks)*groupBlock {
		g.blocks = append(g.blocks, (*[groupBlock]pressureRow)(bulkMake[pressureRow](g.mem, groupBlock)))
	}
	i := int32(g.n)
	g.n++
	*g.at(i) = r
	return i
}

func (g *groupRows) reset() { g.n = 0 }

// groupTable finds a destination group's row by its local address's and
// endpoint's indexes, which the row holds: an open-addressing table of
// row numbers, four bytes a slot. A Go map of the eight-byte keys grew
// by copying and rehashing as a mix's 10,000 groups arrived, the most of
// a new group's cost. The keys are indexes tcpdash hands out, in order,
// not values a peer picks: a multiplicative hash spreads them.
type groupTable struct {
	slots []int32 // a row's index + 1; 0 is free
	used  int
	mem   *bulk // where slots come from, if not the heap
}

func (t *groupTable) reset() {
	clear(t.slots)
	t.used = 0
}

// find returns the row of the group from local l to endpoint ep, made if
// need be.
func (t *groupTable) find(a *Aggregator, l, ep int32) int32 {
	if 2*(t.used+1) > len(t.slots) { // at most half full
		t.grow(&a.groups)
	}
	mask := len(t.slots) - 1
	for i := groupHash(l, ep) & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			g := a.groups.add(pressureRow{local: l, endpoint: ep})
			t.slots[i] = g + 1
			t.used++
			return g
		}
		if r := a.groups.at(s - 1); r.local == l && r.endpoint == ep {
			return s - 1
		}
	}
}

// grow doubles the table (at first 1,024 slots), placing rows again.
func (t *groupTable) grow(rows *groupRows) {
	t.slots = bulkMake[int32](t.mem, max(1024, 2*len(t.slots)))
	mask := len(t.slots) - 1
	for g := range t.used {
		r := rows.at(int32(g))
		i := groupHash(r.local, r.endpoint) & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = int32(g) + 1
	}
}

func groupHash(l, ep int32) int {
	return int((uint64(l)<<32 | uint64(uint32(ep))) * 0x9E3779B97F4A7C15 >> 32)
}

// attribute counts s for its owning processes and returns the index of
// its first holder in the query's Owners (or -1) and its cgroup. A socket
// several processes hold counts under each of them, and once in the
// totals. A TIME_WAIT socket is given the owner its connection had when it
// was seen open, when the aggregator remembers owners.
func (a *Aggregator) attribute(s *Socket) (owner int32, cgroup uint64) {
	o := a.query.Owners
	if s.Inode == 0 {
		owner, cgroup = -1, 0
		if o != nil {
			a.countUnowned(s)
		}
		if s.State == TimeWait {
			if r, ok := a.memory.recall(s); ok {
				cgroup = r.cgroup
				if o != nil {
					a.att.UnownedRemembered++
					if i, ok := a.procOf(r.pid); ok {
						a.countFor(i, s)
						owner = i
					}
				}
				return owner, cgroup
			}
		}
		if i, c, ok := a.fromOpener(s); ok {
			return i, c
		}
		return owner, cgroup
	}
	if o == nil {
		a.memory.note(s, 0)
		return -1, s.Cgroup
	}
	i, ok := o.byInode[s.Inode]
	if !ok {
		if i, _, ok := a.fromOpener(s); ok {
			a.memory.note(s, a.ownerAt(i).PID)
			return i, s.Cgroup
		}
		a.countUnseen(s, o)
		a.memory.note(s, 0)
		return -1, s.Cgroup
	}
	a.att.Owned++
	a.countFor(i, s)
	a.memory.note(s, o.procs[i].PID)
	if o.shared != nil {
		if holders, ok := o.shared[s.Inode]; ok {
			a.att.Shared++
			for _, h := range holders {
				a.procShared[h]++
				if h != i {
					a.countFor(h, s)
				}
			}
		}
	}
	return i, s.Cgroup
}

// fromOpener names s by the process that opened it, from the query's
// event source: its row (-1 without a walk to count it in) and cgroup.
func (a *Aggregator) fromOpener(s *Socket) (owner int32, cgroup uint64, ok bool) {
	if a.query.Openers == nil {
		return -1, 0, false
	}
	op, ok := a.query.Openers.Opener(s.Local, s.Remote)
	if !ok {
		return -1, 0, false
	}
	a.att.FromOpener++
	if s.Inode == 0 && s.State == TimeWait {
		a.att.TimeWaitFromOpener++
	}
	if a.query.Owners == nil {
		return -1, op.Cgroup, true
	}
	i, found := a.pidIndex[int32(op.PID)]
	if !found {
		// Not in the walk (it exited, or started since): a row of its own.
		i = int32(len(a.procs))
		a.pidIndex[int32(op.PID)] = i
		a.extraOwners = append(a.extraOwners, Owner{PID: op.PID, Command: op.Command})
		a.procs = append(a.procs, StateCounts{})
		a.procShared = append(a.procShared, 0)
		a.procCgroup = append(a.procCgroup, op.Cgroup)
	}
	a.countFor(i, s)
	return i, op.Cgroup, true
}

// procOf is the row of a remembered process: its row in this walk, or an
// extra row for a process the walk no longer lists (it exited, or holds
// no socket now) but whose TIME_WAIT is still here.
func (a *Aggregator) procOf(pid int32) (int32, bool) {
	if i, ok := a.pidIndex[pid]; ok {
		return i, true
	}
	o, ok := a.known[pid]
	if !ok {
		return 0, false
	}
	i := int32(len(a.procs))
	a.pidIndex[pid] = i
	a.extraOwners = append(a.extraOwners, o)
	a.procs = append(a.procs, StateCounts{})
	a.procShared = append(a.procShared, 0)
	a.procCgroup = append(a.procCgroup, 0)
	return i, true
}

// ownerAt is the process of row i.
func (a *Aggregator) ownerAt(i int32) Owner {
	if procs := a.query.Owners.procs; int(i) < len(procs) {
		return procs[i]
	}
	return a.extraOwners[int(i)-len(a.query.Owners.procs)]
}

// countUnowned counts a socket no process holds in the kernel, by kind.
func (a *Aggregator) countUnowned(s *Socket) {
	a.att.Unowned++
	switch s.State {
	case TimeWait:
		a.att.UnownedTimeWait++
	case SynRecv, NewSynRecv:
		a.att.UnownedHandshake++
	default:
		a.att.UnownedOrphan++
	}
}

// countUnseen counts a socket whose owner the walk did not see, by the
// likeliest reason.
func (a *Aggregator) countUnseen(s *Socket, o *Owners) {
	a.att.Unknown++
	switch {
	case s.Inode > o.maxInode:
		a.att.UnseenNewer++
	case o.Hidden > 0:
		a.att.UnseenHidden++
	case o.LeaderGone > 0:
		a.att.UnseenLeaderGone++
	default:
		a.att.UnseenOtherPIDNamespace++
	}
}

// addCgroup counts a socket of cgroup id. A service's sockets come in
// runs, so the last cgroup's row is tried before the map.
func (a *Aggregator) addCgroup(id uint64, st State) {
	if i := a.lastCgroup; i < len(a.cgroups) && a.cgroups[i].ID == id {
		a.cgroups[i].States[st]++
		return
	}
	i, ok := a.cgroupIndex[id]
	if !ok {
		i = len(a.cgroups)
		a.cgroupIndex[id] = i
		a.cgroups = append(a.cgroups, CgroupCount{ID: id})
	}
	a.lastCgroup = i
	a.cgroups[i].States[st]++
}

// countFor counts s in process i's row.
func (a *Aggregator) countFor(i int32, s *Socket) {
	a.procs[i][s.State]++
	if a.procCgroup[i] == 0 {
		a.procCgroup[i] = s.Cgroup
	}
	if s.State == CloseWait {
		a.closeWait[procEndpoint{i, s.Remote}]++
		a.closeWaitOn[procPort{i, s.Local.Port()}]++
	}
}

// Fill writes the aggregate into snap, each table cut to its top n rows.
// It reuses snap's slices.
func (a *Aggregator) Fill(snap *Snapshot, n int) {
	snap.Total = a.total
	snap.States = a.states
	snap.Families = a.families
	snap.PortRange = a.ports
	snap.OrphanFinWait2 = a.orphanFW2
	snap.ListeningInRange = append(snap.ListeningInRange[:0], a.listenInPort...)
	slices.Sort(snap.ListeningInRange)
	snap.ListenPorts = append(snap.ListenPorts[:0], a.listenPorts...)
	slices.Sort(snap.ListenPorts)

	q := &a.query
	snap.Query = a.query
	a.peers.merge(a.endpoints)
	snap.TopLocalPorts, snap.LocalPortsFolded = a.localPorts(snap.TopLocalPorts[:0], snap.LocalPortsFolded[:0], n, q)
	snap.TopRemotePorts = a.remotePorts(snap.TopRemotePorts[:0], n, q)
	snap.TopRemoteEndpoints = a.topEndpoints(snap.TopRemoteEndpoints[:0], n, q)
	snap.RemoteEndpointsFolded = a.foldRemote(snap.RemoteEndpointsFolded[:0], n, q)
	snap.Listeners = topN(snap.Listeners[:0], n, len(a.listeners), func(i int) (Listener, bool) {
		l := a.listeners[i]
		l.SynRecv = a.synRecv[l.Local.Port()]
		return l, true
	}, compareListeners)
	snap.Cgroups = topN(snap.Cgroups[:0], n, len(a.cgroups),
		func(i int) (CgroupCount, bool) { return a.cgroups[i], q.keep(&a.cgroups[i].States) }, q.compareCgroups)

	capacity := groupCapacity(a.ports, len(a.listenInPort))
	// Each group's main opener: who holds most of its sockets, the first
	// opener (in the row) or one of the others (in groupOwners); on a tie
	// the later process, then the lower cgroup.
	beats := func(c int, k groupOwner, bc int, b groupOwner) bool {
		return c > bc || c == bc && (k.proc > b.proc || k.proc == b.proc && k.cgroup < b.cgroup)
	}
	others := make(map[int32]groupOwner)
	for k, c := range a.groupOwners {
		if best, ok := others[k.group]; !ok || beats(c, k, a.groupOwners[best], best) {
			others[k.group] = k
		}
	}
	snap.PortPressure = topN(snap.PortPressure[:0], n, a.groups.n, func(i int) (PressureGroup, bool) {
		g := a.group(i)
		if r := a.groups.at(int32(i)); r.openerCount > 0 {
			k, c := groupOwner{int32(i), r.openerProc, r.openerCgroup}, int(r.openerCount)
			if b, ok := others[int32(i)]; ok && beats(a.groupOwners[b], b, c, k) {
				k, c = b, a.groupOwners[b]
			}
			g.OpenerSockets, g.OpenerCgroup = c, k.cgroup
			if k.proc >= 0 {
				g.Opener = a.ownerAt(k.proc)
			}
		}
		g.Capacity = capacity
		if capacity > 0 {
			g.Ratio = float64(g.Used) / float64(capacity)
		}
		// Ranked by the ports connect() cannot take: a loopback group
		// full of TIME_WAIT it takes over must not push out one in danger.
		if snap.TimeWaitReuse.Applies(g.Local, g.Remote.Addr()) {
			g.ReuseAfter = snap.TimeWaitReuse.Delay
			g.ReusableTimeWait = g.TimeWait - youngTimeWait(&g, g.ReuseAfter)
		}
		return g, true
	}, comparePressure)

	a.fillProcesses(snap, n)

	snap.TimeWaitExpiry = snap.TimeWaitExpiry[:0]
	sum := 0
	for i, c := range a.expiry {
		sum += c
		snap.TimeWaitExpiry = append(snap.TimeWaitExpiry, ExpiryBucket{Within: time.Duration(i+1) * expiryStep, Count: sum})
	}
}

// youngTimeWait is how many of g's TIME_WAIT sockets may be younger than
// age: those younger than FreshWindow when age is within it, else those
// of every slot of time left that reaches under age.
func youngTimeWait(g *PressureGroup, age time.Duration) int {
	if age <= FreshWindow {
		return g.FreshTimeWait
	}
	n := 0
	for i, c := range g.TimeWaitLeft {
		// Slot i's sockets are at least TimeWaitLength - (i+1) slots old.
		if TimeWaitLength-time.Duration(i+1)*RecentWindow < age {
			n += c
		}
	}
	return n
}

// groupCapacity is how many ports connect() can give one destination group:
// the range less the reserved ports and the ports listeners hold in it (a
// port bound with bind() is skipped for every destination).
func groupCapacity(r PortRange, listening int) int {
	return max(0, r.Capacity()-listening)
}

func (a *Aggregator) fillProcesses(snap *Snapshot, n int) {
	o := a.query.Owners
	snap.Processes = snap.Processes[:0]
	snap.Attribution = Attribution{Openers: a.att.Openers, FromOpener: a.att.FromOpener}
	if o == nil {
		return
	}
	snap.Attribution = a.att
	snap.Attribution.Enabled, snap.Attribution.Time, snap.Attribution.Took = true, o.Time, o.Took
	snap.Attribution.Hidden, snap.Attribution.ViaThreads, snap.Attribution.LeaderGone = o.Hidden, o.ViaThreads, o.LeaderGone
	// Each process's biggest CLOSE_WAIT destination.
	top := make(map[int32]procEndpoint)
	for k, c := range a.closeWait {
		if best, ok := top[k.proc]; !ok || c > a.closeWait[best] ||
			c == a.closeWait[best] && k.ep.Compare(best.ep) < 0 {
			top[k.proc] = k
		}
	}
	// And its busiest CLOSE_WAIT local port: a server's leak shows there.
	topOn := make(map[int32]procPort)
	for k, c := range a.closeWaitOn {
		if best, ok := topOn[k.proc]; !ok || c > a.closeWaitOn[best] || c == a.closeWaitOn[best] && k.port < best.port {
			topOn[k.proc] = k
		}
	}
	snap.Processes = topN(snap.Processes, n, len(a.procs), func(i int) (ProcessCount, bool) {
		c := a.procs[i]
		if c.Total() == 0 {
			return ProcessCount{}, false
		}
		p := ProcessCount{Owner: a.ownerAt(int32(i)), States: c, Shared: a.procShared[i], Cgroup: a.procCgroup[i], FilesLeft: -1}
		if i < len(o.fds) {
			p.Files = o.fds[i]
		}
		if k, ok := top[int32(i)]; ok {
			p.CloseWaitTo, p.CloseWaitToCount = k.ep, a.closeWait[k]
		}
		if k, ok := topOn[int32(i)]; ok {
			p.CloseWaitOn, p.CloseWaitOnCount = k.port, a.closeWaitOn[k]
		}
		return p, true
	}, compareProcesses)
}

// compareListeners puts the fullest accept queues first, then the
// busiest handshakes, then by port.
func compareListeners(a, b Listener) int {
	fill := func(l Listener) float64 {
		if l.Backlog == 0 {
			return 0
		}
		return float64(l.AcceptQueue) / float64(l.Backlog)
	}
	return cmp.Or(cmp.Compare(fill(b), fill(a)), cmp.Compare(b.SynRecv, a.SynRecv),
		cmp.Compare(a.Local.Port(), b.Local.Port()), a.Local.Addr().Compare(b.Local.Addr()))
}

func compareProcesses(a, b ProcessCount) int {
	return cmp.Or(cmp.Compare(b.States.Total(), a.States.Total()), cmp.Compare(a.PID, b.PID))
}

// localPorts appends the local ports' tables, the top n and the folded
// top n, built in one pass over the noted ports.
func (a *Aggregator) localPorts(top []PortCount, folded []FoldedPort, n int, q *Query) ([]PortCount, []FoldedPort) {
	rows := best[portRow]{rows: a.localTop[:0], n: n, compare: func(x, y portRow) int { return q.comparePortRows(&x, &y) }}
	fold := portFold{rows: a.localFolded[:0]}
	a.local.each(func(r *portRow) {
		q.offerPort(&rows, r)
		fold.add(a.ports, r)
	})
	a.localTop, a.localFolded = rows.rows, fold.rows
	for i := range rows.rows {
		top = append(top, rows.rows[i].count())
	}
	return top, fold.top(folded, n, q)
}

// remotePorts appends the top n remote ports.
func (a *Aggregator) remotePorts(top []PortCount, n int, q *Query) []PortCount {
	rows := best[portRow]{rows: a.remoteTop[:0], n: n, compare: func(x, y portRow) int { return q.comparePortRows(&x, &y) }}
	a.remote.each(func(r *portRow) { q.offerPort(&rows, r) })
	a.remoteTop = rows.rows
	for i := range rows.rows {
		top = append(top, rows.rows[i].count())
	}
	return top
}

// offerPort offers a port's row to a top table. Most rows lose to the
// last of a full table: compared in place, they are not copied to find
// that out.
func (q *Query) offerPort(rows *best[portRow], r *portRow) {
	if (q.State == 0 || r.states[q.State] > 0) && (len(rows.rows) < rows.n || q.comparePortRows(r, &rows.rows[rows.n-1]) < 0) {
		rows.offer(*r)
	}
}

// comparePortRows orders port rows by q's rank, then by total, then by
// port.
func (q *Query) comparePortRows(a, b *portRow) int {
	ta, tb := a.total(), b.total()
	ra, rb := ta, tb
	switch {
	case q.Rank != 0:
		ra, rb = a.states[q.Rank], b.states[q.Rank]
	case q.State != 0:
		ra, rb = a.states[q.State], b.states[q.State]
	}
	return cmp.Or(cmp.Compare(rb, ra), cmp.Compare(tb, ta), cmp.Compare(a.port, b.port))
}

// endpointRow is a remote endpoint's counts, compact as a portRow is: a
// server's clients are thousands of endpoints.
type endpointRow struct {
	endpoint netip.AddrPort
	states   [NumStates]uint32
}

func (r *endpointRow) count() EndpointCount {
	e := EndpointCount{Endpoint: r.endpoint}
	for i, n := range r.states {
		e.States[i] = int(n)
	}
	return e
}

func (r *portRow) total() uint32 {
	var n uint32
	for _, c := range r.states[1:] {
		n += c
	}
	return n
}

func comparePressure(a, b PressureGroup) int {
	return cmp.Or(cmp.Compare(b.HeldRatio(), a.HeldRatio()), cmp.Compare(b.Ratio, a.Ratio), cmp.Compare(b.Used, a.Used),
		cmp.Compare(a.Remote.Port(), b.Remote.Port()),
		a.Remote.Addr().Compare(b.Remote.Addr()), a.Local.Compare(b.Local))
}

// topN appends to dst the n smallest of the count items that at keeps,
// under compare, in order.
func topN[T any](dst []T, n, count int, at func(int) (T, bool), compare func(a, b T) int) []T {
	b := best[T]{rows: dst, n: n, compare: compare}
	for i := range count {
		if v, ok := at(i); ok {
			b.offer(v)
		}
	}
	return b.rows
}

// best keeps the n smallest values offered under compare, in order,
// without sorting everything: the tables can hold tens of thousands of
// rows and only the top few are shown. rows starts empty.
type best[T any] struct {
	rows    []T
	n       int
	compare func(a, b T) int
}

func (b *best[T]) offer(v T) {
	n := b.n
	if n <= 0 || len(b.rows) == n && b.compare(v, b.rows[n-1]) >= 0 {
		return
	}
	// Binary search for the insertion point, then shift.
	lo, hi := 0, len(b.rows)
	for lo < hi {
		mid := (lo + hi) / 2
		if b.compare(v, b.rows[mid]) < 0 {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if len(b.rows) < n {
		var zero T
		b.rows = append(b.rows, zero)
	}
	copy(b.rows[lo+1:], b.rows[lo:len(b.rows)-1])
	b.rows[lo] = v
}
