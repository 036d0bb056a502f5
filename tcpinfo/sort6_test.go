package tcpinfo

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
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
