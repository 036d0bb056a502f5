package tcpinfo

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
)

// peerNotes notes the peers of servers' sockets. A server's peers are
// its clients' endpoints, each seen once or twice: a row apiece (a map
// entry and some 90 bytes) was most of a snapshot's memory on a busy
// server, and every row a page fault or a cache miss. So each is noted in
// a word or three, sorted at Fill, and each endpoint's sockets, a run
// there, are counted into the tables as the run goes by: the top
// endpoints and the folded ones keep only their winners. Memory is a few
// bytes a socket for either family.
type peerNotes struct {
	v4 []uint64 // peerNote
	// v6 notes IPv6 peers as v4 notes IPv4 ones, in a word, with the
	// address's index in addrs6 in place of the address, while the
	// addresses are few (clients with many connections each): a third of
	// the memory, and sorted as words. When they are many (an Internet
	// server's clients), a table of them would cost more than it saves,
	// and each peer is noted whole, in wide6 (see add6).
	v6     []uint64
	addrs6 []addr6
	index6 map[addr6]uint32
	// last6 is the address the last compact note named, at index
	// last6i, when haveLast: a server's peers come from few addresses,
	// one after another, and the map's hash of 16 bytes a peer was a
	// tenth of an IPv6 server's snapshot.
	last6    addr6
	last6i   uint32
	haveLast bool
	wide6    []peer6
	wide     bool // this dump's IPv6 peers are in wide6
	n        int  // the notes reserved
	// order, rank and sorted are sort6's, reused.
	order  []uint32
	rank   []uint64
	sorted []addr6
	// merged says the notes are sorted, and those of an endpoint that
	// has a row of its own (a client's destination too) counted there.
	merged bool
	known  []keyedRow  // the rows to merge with, reused
	counts StateCounts // the counts each passes on (a local would escape to the heap)
	mem    *bulk       // where the notes reserved come from, if not the heap
}

// peer6 is peerNote for an IPv6 peer without a zone: the address, then
// the port and the state, so that sorted, an endpoint's notes are a run.
type peer6 struct {
	hi, lo    uint64
	portState uint32
}

// addr6 is an IPv6 address as two words, in order.
type addr6 struct{ hi, lo uint64 }

// A peerKey orders endpoints of both families as their notes sort: an
// IPv4 address as its IPv4-mapped form, which no IPv6 peer has (the
// decoder unmaps them).
type peerKey struct {
	hi, lo uint64
	port   uint16
}

func (k peerKey) compare(o peerKey) int {
	return cmp.Or(cmp.Compare(k.hi, o.hi), cmp.Compare(k.lo, o.lo), cmp.Compare(k.port, o.port))
}

func (k peerKey) endpoint() netip.AddrPort {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrPortFrom(netip.AddrFrom16(b).Unmap(), k.port)
}

func keyOf(ap netip.AddrPort) peerKey {
	b := ap.Addr().As16() // an IPv4 address in its mapped form
	return peerKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), ap.Port()}
}

// peerNote packs a server's IPv4 peer and the socket's state into one
// word, ordered by address, then port: sorted, each endpoint's sockets
// are a run, counted into one row.
func peerNote(ap netip.AddrPort, s State) uint64 {
	b := ap.Addr().As4()
	return uint64(binary.BigEndian.Uint32(b[:]))<<24 | uint64(ap.Port())<<8 | uint64(s)
}

func key4(n *uint64) peerKey {
	return peerKey{lo: 0xffff<<32 | *n>>24, port: uint16(*n >> 8)}
}
func state4(n *uint64) State { return State(*n & 0xff) }
func key6(n *peer6) peerKey  { return peerKey{n.hi, n.lo, uint16(n.portState >> 8)} }
func state6(n *peer6) State  { return State(n.portState & 0xff) }

// key6c is the key of a compact IPv6 note: its address by index.
func (p *peerNotes) key6c(n *uint64) peerKey {
	a := p.addrs6[*n>>24]
	return peerKey{a.hi, a.lo, uint16(*n >> 8)}
}

// add notes a peer; it reports false for one it cannot note (an address
// with a zone, or a mapped one), which the caller counts into a row of
// its own.
func (p *peerNotes) add(ap netip.AddrPort, st State) bool {
	switch addr := ap.Addr(); {
	case addr.Is4():
		p.v4 = append(p.v4, peerNote(ap, st))
	case addr.Zone() == "" && !addr.Is4In6(): // the decoder unmaps; a mapped one keeps its own row
		b := addr.As16()
		p.add6(addr6{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}, uint32(ap.Port())<<8|uint32(st))
	default:
		return false
	}
	p.merged = false
	return true
}

// Compact IPv6 notes are kept while a new address comes at most once in
// wideAfter notes, judged once there are minWide addresses: each address
// costs some 40 bytes in addrs6 and its index, a note saves 16.
const (
	wideAfter = 4
	minWide   = 256
)

// add6 notes an IPv6 peer, its port and state.
func (p *peerNotes) add6(a addr6, portState uint32) {
	if p.wide {
		p.wide6 = append(p.wide6, peer6{a.hi, a.lo, portState})
		return
	}
	if p.haveLast && a == p.last6 {
		p.v6 = append(p.v6, uint64(p.last6i)<<24|uint64(portState))
		return
	}
	i, ok := p.index6[a]
	if !ok {
		if len(p.addrs6) >= minWide && len(p.addrs6)*wideAfter > len(p.v6) {
			p.widen()
			p.wide6 = append(p.wide6, peer6{a.hi, a.lo, portState})
			return
		}
		if p.index6 == nil {
			p.index6 = make(map[addr6]uint32)
		}
		i = uint32(len(p.addrs6))
		p.index6[a] = i
		p.addrs6 = append(p.addrs6, a)
	}
	p.last6, p.last6i, p.haveLast = a, i, true
	p.v6 = append(p.v6, uint64(i)<<24|uint64(portState))
}

// widen notes this dump's IPv6 peers whole from now on, the compact
// notes so far with them.
func (p *peerNotes) widen() {
	if cap(p.wide6) < p.n {
		p.wide6 = bulkMake[peer6](p.mem, p.n)[:0]
	}
	for _, n := range p.v6 {
		a := p.addrs6[n>>24]
		p.wide6 = append(p.wide6, peer6{a.hi, a.lo, uint32(n & 0xffffff)})
	}
	p.wide, p.v6, p.addrs6, p.haveLast = true, p.v6[:0], p.addrs6[:0], false
	clear(p.index6)
}

func (p *peerNotes) reset() {
	p.v4, p.v6, p.wide6, p.addrs6, p.merged, p.wide = p.v4[:0], p.v6[:0], p.wide6[:0], p.addrs6[:0], false, false
	p.haveLast = false
	clear(p.index6)
}

// reserve makes room for n notes of either family: untouched until
// written, room not used costs nothing, while growing by appending
// copied (and touched) every note a few times over.
func (p *peerNotes) reserve(n int) {
	if cap(p.v4) < n {
		p.v4 = bulkMake[uint64](p.mem, n)[:0]
	}
	if cap(p.v6) < n {
		p.v6 = bulkMake[uint64](p.mem, n)[:0]
	}
	p.n = max(p.n, n) // wide6 is made only if need be
}

// merge sorts the notes, once a dump, and counts those of an endpoint
// that has a row into that row. The rows, few (clients' destinations),
// are sorted as the notes are and walked beside them: no lookup a peer.
func (p *peerNotes) merge(rows []endpointRow) {
	if p.merged {
		return
	}
	p.merged = true
	sortNotes(p.v4)
	p.sort6()
	p.known = p.known[:0]
	for i := range rows {
		if a := rows[i].endpoint.Addr(); a.Zone() == "" && !a.Is4In6() { // as add notes them
			ep := rows[i].endpoint
			p.known = append(p.known, keyedRow{key: keyOf(ep), row: i})
		}
	}
	slices.SortFunc(p.known, func(x, y keyedRow) int { return x.key.compare(y.key) })
	p.v4 = mergeRuns(p.v4, p.known, rows, key4, state4)
	p.v6 = mergeRuns(p.v6, p.known, rows, p.key6c, state4)
	p.wide6 = mergeRuns(p.wide6, p.known, rows, key6, state6)
}

// sort6 orders the IPv6 notes by address, then port: compact ones by
// giving each address its rank among them for an index, then as words.
func (p *peerNotes) sort6() {
	if p.wide {
		sortPeers6(p.wide6)
		return
	}
	if len(p.addrs6) == 0 {
		return
	}
	n := len(p.addrs6)
	p.order, p.rank, p.sorted = grow(p.order[:0], n)[:n], grow(p.rank[:0], n)[:n], grow(p.sorted[:0], n)[:n]
	for i := range p.order {
		p.order[i] = uint32(i)
	}
	slices.SortFunc(p.order, func(x, y uint32) int {
		a, b := p.addrs6[x], p.addrs6[y]
		return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo))
	})
	for r, i := range p.order {
		p.rank[i], p.sorted[r] = uint64(r), p.addrs6[i]
		p.index6[p.addrs6[i]] = uint32(r)
	}
	for k, n := range p.v6 {
		p.v6[k] = p.rank[n>>24]<<24 | n&0xffffff
	}
	copy(p.addrs6, p.sorted)
	sortNotes(p.v6)
}

// sortNotes orders notes. Many are sorted by radix, in place (American
// flag sort): a pass for each byte, from the highest, that is not the
// same in all of them (a few: the address's, or its index's, that vary,
// and the port's two). On 100,000 notes it takes a third of the time of
// pdqsort, whose comparisons of random ports were mispredicted
// branches, and unlike a radix sort by the lowest byte first it needs no
// second array: a one-shot snapshot pays for each page of one in faults.
// Time is linear in the notes whatever they are.
func sortNotes(notes []uint64) {
	var differ uint64
	for _, n := range notes {
		differ |= n ^ notes[0]
	}
	flagSort(notes, differ, 56)
}

// flagSort sorts notes whose bytes above shift are all the same, by
// their byte at shift and then, each bucket, by the bytes below. differ
// has the bits that vary.
func flagSort(notes []uint64, differ uint64, shift uint) {
	for shift > 0 && differ>>shift&0xff == 0 {
		shift -= 8
	}
	if len(notes) < 16 || shift == 0 {
		slices.Sort(notes)
		return
	}
	var next, end [256]int
	for _, n := range notes {
		end[n>>shift&0xff]++
	}
	sum := 0
	for b, c := range end {
		next[b] = sum
		sum += c
		end[b] = sum
	}
	// Each bucket in turn: a note out of place goes to the next free
	// slot of its bucket, and the note it displaces moves on, until one
	// belongs where the first was.
	for b := range 256 {
		for next[b] < end[b] {
			v := notes[next[b]]
			for d := int(v >> shift & 0xff); d != b; d = int(v >> shift & 0xff) {
				notes[next[d]], v = v, notes[next[d]]
				next[d]++
			}
			notes[next[b]] = v
			next[b]++
		}
	}
	lo := 0
	for b := range 256 {
		if end[b]-lo > 1 {
			flagSort(notes[lo:end[b]], differ, shift-8)
		}
		lo = end[b]
	}
}

// A keyedRow is an endpoint row's index by its key.
type keyedRow struct {
	key peerKey
	row int
}

// mergeRuns counts each run of sorted notes whose endpoint is one of
// known into its row, and returns the other notes, compacted in place.
func mergeRuns[N any](notes []N, known []keyedRow, rows []endpointRow, key func(*N) peerKey, state func(*N) State) []N {
	if len(known) == 0 {
		return notes
	}
	out := notes[:0]
	for i, j := 0, 0; i < len(notes); i = j {
		k := key(&notes[i])
		j = runEnd(notes, i, key)
		for len(known) > 0 && known[0].key.compare(k) < 0 {
			known = known[1:]
		}
		if len(known) == 0 || known[0].key != k {
			out = append(out, notes[i:j]...)
			continue
		}
		r := &rows[known[0].row]
		for n := range j - i {
			r.states[state(&notes[i+n])]++
		}
	}
	return out
}

// runEnd is the end of the run of sorted notes of one endpoint that
// starts at i.
func runEnd[N any](notes []N, i int, key func(*N) peerKey) int {
	k := key(&notes[i])
	j := i + 1
	for j < len(notes) && key(&notes[j]) == k {
		j++
	}
	return j
}

// each calls fn with each noted endpoint's counts, IPv4 first, each
// family in order of address, then port. Call merge first. c is reused.
func (p *peerNotes) each(fn func(ep peerKey, c *StateCounts)) {
	c := &p.counts
	for i, j := 0, 0; i < len(p.v4); i = j {
		j = runEnd(p.v4, i, key4)
		*c = StateCounts{}
		for _, n := range p.v4[i:j] {
			c[state4(&n)]++
		}
		fn(key4(&p.v4[i]), c)
	}
	for i, j := 0, 0; i < len(p.v6); i = j {
		j = runEnd(p.v6, i, p.key6c)
		*c = StateCounts{}
		for _, n := range p.v6[i:j] {
			c[state4(&n)]++
		}
		fn(p.key6c(&p.v6[i]), c)
	}
	for i, j := 0, 0; i < len(p.wide6); i = j {
		j = runEnd(p.wide6, i, key6)
		*c = StateCounts{}
		for _, n := range p.wide6[i:j] {
			c[state6(&n)]++
		}
		fn(key6(&p.wide6[i]), c)
	}
}

// topEndpoints appends the n remote endpoints q ranks first: the rows and
// the noted peers.
func (a *Aggregator) topEndpoints(dst []EndpointCount, n int, q *Query) []EndpointCount {
	top := best[EndpointCount]{rows: dst, n: n, compare: q.compareEndpoints}
	for i := range a.endpoints {
		if e := a.endpoints[i].count(); q.keep(&e.States) {
			top.offer(e)
		}
	}
	a.peers.each(func(k peerKey, c *StateCounts) {
		if !q.keep(c) {
			return
		}
		// Most peers lose to the last of a full table: that is found out
		// before an endpoint is made.
		if len(top.rows) == n {
			last := &top.rows[n-1].States
			if r, rl := q.rankOf(c), q.rankOf(last); r < rl || r == rl && c.Total() < last.Total() {
				return
			}
		}
		top.offer(EndpointCount{Endpoint: k.endpoint(), States: *c})
	})
	return top.rows
}
