package tcpinfo

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// TestSortPeers6: the made-for-peer6 sort orders as the comparison it
// replaced, on random notes, on notes that differ in one word only, on
// runs of equal ones, and on sorted and reversed input (which would make
// a plain quicksort quadratic; heapsort takes over).
func TestSortPeers6(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ref := func(x, y peer6) int {
		return cmp.Or(cmp.Compare(x.hi, y.hi), cmp.Compare(x.lo, y.lo), cmp.Compare(x.portState, y.portState))
	}
	gens := map[string]func(i int) peer6{
		"random":   func(int) peer6 { return peer6{r.Uint64(), r.Uint64(), r.Uint32()} },
		"one host": func(int) peer6 { return peer6{0x20010db8 << 32, 1, uint32(r.IntN(1<<16))<<8 | 1} },
		"few":      func(int) peer6 { return peer6{uint64(r.IntN(3)), uint64(r.IntN(3)), uint32(r.IntN(3))} },
		"sorted":   func(i int) peer6 { return peer6{1, uint64(i), 0} },
		"reversed": func(i int) peer6 { return peer6{1, uint64(1<<20 - i), 0} },
	}
	for name, gen := range gens {
		for _, n := range []int{0, 1, 2, 12, 13, 100, 5_000} {
			a := make([]peer6, n)
			for i := range a {
				a[i] = gen(i)
			}
			want := slices.Clone(a)
			slices.SortFunc(want, ref)
			sortPeers6(a)
			if !slices.Equal(a, want) {
				t.Errorf("%s, %d notes: not in order", name, n)
			}
		}
	}
	// Adversarial depth: with no depth left, heapsort alone must sort.
	a := make([]peer6, 1000)
	for i := range a {
		a[i] = gens["random"](i)
	}
	want := slices.Clone(a)
	slices.SortFunc(want, ref)
	introsort6(a, 0)
	if !slices.Equal(a, want) {
		t.Error("heapsort: not in order")
	}
}

func BenchmarkSortPeers6(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]peer6, 100_000)
	for i := range src {
		src[i] = peer6{0x20010db8 << 32, uint64(1 + r.IntN(8)), uint32(10000+r.IntN(55000))<<8 | 1}
	}
	a := make([]peer6, len(src))
	b.Run("made for peer6", func(b *testing.B) {
		for b.Loop() {
			copy(a, src)
			sortPeers6(a)
		}
	})
	b.Run("slices.SortFunc", func(b *testing.B) {
		for b.Loop() {
			copy(a, src)
			slices.SortFunc(a, func(x, y peer6) int {
				return cmp.Or(cmp.Compare(x.hi, y.hi), cmp.Compare(x.lo, y.lo), cmp.Compare(x.portState, y.portState))
			})
		}
	})
}

// TestPeerNotesCompactAndWide: a server's IPv6 peers are counted right
// whether their addresses are few (compact notes), many (whole notes),
// or few and then many in one dump (compact notes widened mid-way), and
// with the endpoints that have rows of their own (a client's
// destination that is also a server's peer). It checks which notes each
// dump used, so that it fails if a threshold stops either being used.
func TestPeerNotesCompactAndWide(t *testing.T) {
	ports, _ := ParsePortRange([]byte("32768 60999"), nil)
	r := rand.New(rand.NewPCG(5, 6))
	server := netip.MustParseAddrPort("[2001:db8::1]:443")
	dest := netip.MustParseAddrPort("[2001:db8::99]:8443") // also a peer of the server
	peerAt := func(i int) netip.Addr {
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		b[7] = byte(i >> 16) // the second word's high half and the first's low differ too
		b[8], b[14], b[15] = byte(i>>8), byte(i>>8), byte(i)
		return netip.AddrFrom16(b)
	}
	states := []State{Established, Established, TimeWait, CloseWait, FinWait2}
	a := NewAggregator(ports) // one for all: a dump after a wide one is compact again
	for _, tc := range []struct {
		name     string
		peer     func(i int) netip.Addr
		wantWide bool
	}{
		{"few addresses", func(int) netip.Addr { return peerAt(r.IntN(5)) }, false},
		{"every peer its own address", func(i int) netip.Addr { return peerAt(i) }, true},
		{"few, then many", func(i int) netip.Addr {
			if i < 6000 {
				return peerAt(r.IntN(3))
			}
			return peerAt(i)
		}, true},
		{"few again after a reset", func(int) netip.Addr { return peerAt(r.IntN(2)) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var socks []Socket
			want := map[netip.AddrPort]StateCounts{}
			add := func(s Socket) {
				socks = append(socks, s)
				c := want[s.Remote]
				c[s.State]++
				want[s.Remote] = c
			}
			for i := range 10_000 {
				peer := netip.AddrPortFrom(tc.peer(i), uint16(32768+r.IntN(200)))
				if i%50 == 0 {
					peer = dest // sorted among the others, counted into the destination's row
				}
				add(Socket{Family: IPv6, State: states[r.IntN(len(states))], Local: server, Remote: peer})
			}
			for range 20 { // a client of dest: the endpoint's own row
				local := netip.AddrPortFrom(server.Addr(), uint16(40000+r.IntN(1000)))
				add(Socket{Family: IPv6, State: Established, Local: local, Remote: dest})
			}
			var snap Snapshot
			for range 2 { // and again, after a Reset
				a.Reset(ports, Query{})
				a.Reserve(len(socks))
				for i := range socks {
					a.Add(&socks[i])
				}
				if a.peers.wide != tc.wantWide {
					t.Errorf("IPv6 notes wide %v, want %v", a.peers.wide, tc.wantWide)
				}
				a.Fill(&snap, 1<<20)
				if diff := gocmp.Diff(want, endpointCounts(t, &snap), gocmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
					t.Fatalf("remote endpoints (-want +got):\n%s", diff)
				}
				if q := (Query{}); !slices.IsSortedFunc(snap.TopRemoteEndpoints, q.compareEndpoints) {
					t.Error("remote endpoints are not ranked as the table ranks them")
				}
			}
		})
	}
}

// TestSortNotes: notes sorted by radix are in order, on notes that differ
// in every byte, in the port's only, in one high byte only, in none, and
// few (sorted by comparison).
func TestSortNotes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for name, gen := range map[string]func() uint64{
		"random":          r.Uint64,
		"one address":     func() uint64 { return 0x7f000001<<24 | uint64(r.IntN(1<<16))<<8 | uint64(r.IntN(12)) },
		"one high byte":   func() uint64 { return uint64(r.IntN(256))<<56 | 5 },
		"the same, twice": func() uint64 { return 42 << 8 },
	} {
		for _, n := range []int{3, 1000, 1 << 10, 50_000} {
			a := make([]uint64, n)
			for i := range a {
				a[i] = gen()
			}
			want := slices.Clone(a)
			sortNotes(a)
			slices.SortFunc(want, func(x, y uint64) int { return cmp.Compare(x, y) })
			if !slices.Equal(a, want) {
				i := 0
				for a[i] == want[i] {
					i++
				}
				t.Fatalf("%s, %d notes: at %d %#x, want %#x", name, n, i, a[i], want[i])
			}
		}
	}
}
