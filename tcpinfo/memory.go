package tcpinfo

import "time"

// ownerMemory remembers, by cookie, who held each socket seen open. A
// TIME_WAIT socket has no owner, but it keeps the cookie of the connection
// it came from (inet_twsk_alloc copies sk_cookie), so the process and
// cgroup seen while it was open are carried over to it. An entry lives
// while its socket is seen, and a TIME_WAIT length past the last
// sighting: memory is bounded by the live sockets plus a minute of closes.
type ownerMemory struct {
	byCookie  map[uint64]remembered
	now       int64 // the current dump, in seconds
	lastEvict int64
}

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
	if m.now-m.lastEvict < evictEvery {
		return false
	}
	m.lastEvict = m.now
	horizon := m.now - int64((TimeWaitLength+2*time.Second)/time.Second)
	for c, r := range m.byCookie {
		if r.seen < horizon {
			delete(m.byCookie, c)
		}
	}
	return true
}

// note remembers the owner of a full socket. An entry that already says
// so is rewritten only to refresh its sighting every evictEvery seconds:
// a map read costs a third of a write, and this runs for every socket.
func (m *ownerMemory) note(s *Socket, pid int) {
	if m == nil || s.Cookie == 0 || (pid == 0 && s.Cgroup == 0) {
		return
	}
	r, ok := m.byCookie[s.Cookie]
	if ok && r.pid == int32(pid) && r.cgroup == s.Cgroup && m.now-r.seen < evictEvery {
		return
	}
	m.byCookie[s.Cookie] = remembered{cgroup: s.Cgroup, seen: m.now, pid: int32(pid)}
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
