package tcpinfo

import "time"

// ownerMemory remembers, by cookie, who held each socket seen open. A
// TIME_WAIT socket has no owner, but it keeps the cookie of the connection
// it came from (inet_twsk_alloc copies sk_cookie), so the process and
// cgroup seen while it was open are carried over to it. An entry lives
// while its socket is seen, and at least a TIME_WAIT length past the last
// sighting: memory is bounded by the live sockets plus 72 s of closes.
type ownerMemory struct {
	byCookie  map[uint64]remembered
	now       int64 // the current dump, in seconds
	lastEvict int64

	// The last dump's notes in the order the kernel gave them, and this
	// dump's so far. A population comes in the same order every dump
	// (the kernel walks its hash buckets in order, and a bucket's chain
	// changes only where sockets come and go), so note finds a socket by
	// walking the last dump's notes along with this dump, not by a lookup
	// in byCookie: at 200,000 sockets that lookup missed the caches and
	// the TLB every socket, two thirds of a poll's user CPU.
	last, cur []noted
	at        int // where in last the next socket is looked for
	// refresh makes a dump note every socket through byCookie, which
	// renews its entry's sighting; it comes every evictEvery, so the
	// sweep never takes a live socket's entry.
	refresh     bool
	lastRefresh int64
}

// A noted says that byCookie held cookie with pid after a dump noted it.
// A socket's cgroup is set when it is made and never changes, so pid is
// all of an entry that can.
type noted struct {
	cookie uint64
	pid    int32
}

// lookAhead is how far past the walk's place in the last dump's notes a
// socket is looked for before byCookie is asked: as far as a few sockets
// closed since. resyncSpan is how far a socket byCookie knew is looked
// for, to find the walk's place again after many closed.
const (
	lookAhead  = 8
	resyncSpan = 256
)

type remembered struct {
	cgroup uint64
	seen   int64 // seconds
	pid    int32 // 0 when only the cgroup was known
}

// evictEvery spaces out the sweep for entries past their time: a sweep
// visits every entry.
const evictEvery = 10 // seconds

func newOwnerMemory() *ownerMemory {
	return &ownerMemory{byCookie: make(map[uint64]remembered)}
}

// begin starts a dump at now, and sweeps out entries whose sockets have not
// been seen for longer than TIME_WAIT lasts; it reports whether it swept.
func (m *ownerMemory) begin(now time.Time) bool {
	if m == nil {
		return false
	}
	m.now = now.Unix()
	m.last, m.cur, m.at = m.cur, m.last[:0], 0
	if c := cap(m.cur); c < len(m.last) || c > 4*len(m.last)+1024 {
		// Sized to the population and a little more: grown once, not by
		// doubling (at 200,000 sockets each step was megabytes of fresh
		// pages), and given back when the population has shrunk.
		m.cur = make([]noted, 0, len(m.last)+len(m.last)/8)
	}
	if m.refresh = m.now-m.lastRefresh >= evictEvery; m.refresh {
		m.lastRefresh = m.now
	}
	if m.now-m.lastEvict < evictEvery {
		return false
	}
	m.lastEvict = m.now
	// A sighting renews an entry's time only when it is evictEvery old,
	// and a socket found by following the last dump's order only at the
	// next refresh: an entry's time may be 2×evictEvery before its
	// socket's last sighting, one evictEvery more than before the order
	// was followed, which the horizon gives back.
	horizon := m.now - int64((TimeWaitLength+2*time.Second)/time.Second) - evictEvery
	for c, r := range m.byCookie {
		if r.seen < horizon {
			delete(m.byCookie, c)
		}
	}
	return true
}

// note remembers the owner of a full socket. A socket the last dump noted
// with the same owner, where the walk of its notes expects it, needs
// nothing; otherwise byCookie is read, and an entry that already says so
// is rewritten only to refresh its sighting every evictEvery seconds: a
// map read costs a third of a write, and this runs for every socket.
func (m *ownerMemory) note(s *Socket, pid int) {
	if m == nil || s.Cookie == 0 || (pid == 0 && s.Cgroup == 0) {
		return
	}
	n := noted{cookie: s.Cookie, pid: int32(pid)}
	m.cur = append(m.cur, n)
	found, same := false, false
	if !m.refresh {
		found, same = m.follow(n, lookAhead)
		if same {
			return
		}
	}
	r, ok := m.byCookie[s.Cookie]
	if ok && !found && !m.refresh {
		m.follow(n, resyncSpan)
	}
	if ok && r.pid == n.pid && r.cgroup == s.Cgroup && m.now-r.seen < evictEvery {
		return
	}
	m.byCookie[s.Cookie] = remembered{cgroup: s.Cgroup, seen: m.now, pid: n.pid}
}

// follow looks for n's cookie among the next span of the last dump's
// notes and, if it is there, moves the walk past it; same says it was
// noted with the same pid.
func (m *ownerMemory) follow(n noted, span int) (found, same bool) {
	for k := m.at; k < min(m.at+span, len(m.last)); k++ {
		if m.last[k].cookie == n.cookie {
			m.at = k + 1
			return true, m.last[k].pid == n.pid
		}
	}
	return false, false
}

// recall finds the owner a socket's connection had when it was open.
func (m *ownerMemory) recall(s *Socket) (remembered, bool) {
	if m == nil || s.Cookie == 0 {
		return remembered{}, false
	}
	r, ok := m.byCookie[s.Cookie]
	if ok && m.now-r.seen >= evictEvery {
		r.seen = m.now
		m.byCookie[s.Cookie] = r
	}
	return r, ok
}

// Len is how many sockets are remembered.
func (m *ownerMemory) Len() int {
	if m == nil {
		return 0
	}
	return len(m.byCookie)
}
