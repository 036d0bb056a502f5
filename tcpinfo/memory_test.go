package tcpinfo

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestOwnerMemoryFollowsTheDumpOrder holds the memory that follows the
// last dump's order to one that asks its map for every socket, over dumps
// of a population that changes between them: sockets close (to TIME_WAIT,
// whose owners are recalled) and open anywhere in the order, neighbours
// swap, owners become known or change, a long run of the order closes at
// once, and polls come from 0.2 s to 70 s apart. Both must remember the
// same owners for the same cookies, and neither may forget a socket still
// open or one in its TIME_WAIT.
func TestOwnerMemoryFollowsTheDumpOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type sock struct {
		cookie, cgroup uint64
		pid            int
		closedAt       time.Time // zero while open
		seen           bool      // by a dump while open
	}
	next := uint64(1)
	open := func() *sock {
		next += 1 + uint64(rng.IntN(3))
		return &sock{cookie: next, cgroup: 1 + uint64(rng.IntN(4)), pid: rng.IntN(3) * 100}
	}
	var order []*sock // the kernel's order of the open sockets
	for range 3000 {
		order = append(order, open())
	}
	var closed []*sock
	fast, ref := newOwnerMemory(), newOwnerMemory()
	now := time.Unix(1_000_000, 0)
	for dump := range 400 {
		// What changed since the last dump.
		switch k := rng.IntN(40); {
		case k == 0 && len(order) > 1200: // a run of the order closes at once
			at := rng.IntN(len(order) - 600)
			for _, s := range order[at : at+600] {
				s.closedAt = now
				closed = append(closed, s)
			}
			order = slices.Delete(order, at, at+600)
		case k < 3: // seconds apart, and still nothing changed
		default:
			for range rng.IntN(40) {
				i := rng.IntN(len(order))
				order[i].closedAt = now
				closed = append(closed, order[i])
				order = slices.Delete(order, i, i+1)
			}
			for range rng.IntN(100) {
				order = slices.Insert(order, rng.IntN(len(order)+1), open())
			}
			for range rng.IntN(5) {
				i := rng.IntN(len(order) - 1)
				order[i], order[i+1] = order[i+1], order[i]
			}
			for range rng.IntN(30) {
				order[rng.IntN(len(order))].pid = 100 + rng.IntN(5)*100
			}
		}
		gap := time.Duration(200+rng.IntN(1800)) * time.Millisecond
		if rng.IntN(25) == 0 {
			gap = time.Duration(10+rng.IntN(60)) * time.Second
		}
		now = now.Add(gap)
		closed = slices.DeleteFunc(closed, func(s *sock) bool { return now.Sub(s.closedAt) > TimeWaitLength })

		// The dump: open sockets in order, then the TIME_WAIT ones.
		fast.begin(now)
		ref.begin(now)
		ref.refresh = true // through the map, every socket
		for _, s := range order {
			sk := Socket{State: Established, Cookie: s.cookie, Cgroup: s.cgroup, Inode: 1}
			fast.note(&sk, s.pid)
			ref.note(&sk, s.pid)
			s.seen = true
		}
		for _, s := range closed {
			sk := Socket{State: TimeWait, Cookie: s.cookie}
			got, ok := fast.recall(&sk)
			want, wantOK := ref.recall(&sk)
			if ok != wantOK || got.pid != want.pid || got.cgroup != want.cgroup {
				t.Fatalf("dump %d: TIME_WAIT %d recalled %+v %t, by the map %+v %t", dump, s.cookie, got, ok, want, wantOK)
			}
			if !ok && s.seen {
				t.Fatalf("dump %d: TIME_WAIT %d, closed %s ago, forgotten", dump, s.cookie, now.Sub(s.closedAt))
			}
		}
		for _, s := range order {
			r, ok := fast.byCookie[s.cookie]
			if !ok || r.pid != int32(s.pid) || r.cgroup != s.cgroup {
				t.Fatalf("dump %d: open socket %d remembered as %+v %t, want pid %d cgroup %d", dump, s.cookie, r, ok, s.pid, s.cgroup)
			}
		}
		// Both sweep a closed socket's entry once its TIME_WAIT is over,
		// a renewal apart; where both remember a socket, they agree.
		for c, r := range fast.byCookie {
			if w, ok := ref.byCookie[c]; ok && (w.pid != r.pid || w.cgroup != r.cgroup) {
				t.Fatalf("dump %d: %d remembered as %+v, by the map %+v", dump, c, r, w)
			}
		}
		if max := len(order) + 200*int(2*TimeWaitLength/time.Second); len(fast.byCookie) > max {
			t.Fatalf("dump %d: %d entries for %d open sockets", dump, len(fast.byCookie), len(order))
		}
	}
	if len(order) < 1000 {
		t.Fatalf("the population shrank to %d: the test tests little", len(order))
	}
}

// BenchmarkOwnerMemoryNote notes a dump of 200,000 sockets that come in
// the same order every dump, as a still population does, through the
// walk of the last dump's notes ("follow") and through the map alone.
func BenchmarkOwnerMemoryNote(b *testing.B) {
	const sockets = 200_000
	rng := rand.New(rand.NewPCG(3, 4))
	socks := make([]Socket, sockets)
	for i := range socks {
		socks[i] = Socket{State: Established, Cookie: rng.Uint64() | 1, Cgroup: 7, Inode: 1}
	}
	for _, mode := range []string{"follow", "map"} {
		b.Run(mode, func(b *testing.B) {
			m := newOwnerMemory()
			now := time.Unix(1000, 0)
			for b.Loop() {
				now = now.Add(time.Second)
				m.begin(now)
				m.refresh = m.refresh || mode == "map"
				for i := range socks {
					m.note(&socks[i], 4242)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/sockets, "ns/socket")
		})
	}
}

// TestOwnerMemoryGivesBackItsNotes: after a population shrinks, the notes
// kept of it shrink too, within two dumps.
func TestOwnerMemoryGivesBackItsNotes(t *testing.T) {
	m := newOwnerMemory()
	now := time.Unix(1000, 0)
	dump := func(n int) {
		now = now.Add(time.Second)
		m.begin(now)
		for i := range n {
			m.note(&Socket{State: Established, Cookie: uint64(i + 1), Cgroup: 1, Inode: 1}, 0)
		}
	}
	dump(100_000)
	dump(100_000)
	dump(10)
	dump(10)
	dump(10)
	if c := cap(m.last) + cap(m.cur); c > 4*1024 {
		t.Errorf("notes of 10 sockets hold room for %d", c)
	}
}
