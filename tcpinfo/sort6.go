package tcpinfo

import "math/bits"

// sortPeers6 sorts IPv6 peer notes by address, then port and state. It
// stands in for slices.SortFunc, whose comparison function, called for
// every comparison of three words, made sorting a server's 100,000 IPv6
// peers a twentieth of a --once. Introsort: quicksort with a
// median of three, insertion sort for short runs, heapsort past twice
// the depth a balanced split would take (peers' addresses are chosen by
// others, and must not make it quadratic).
func sortPeers6(a []peer6) {
	introsort6(a, 2*bits.Len(uint(len(a))))
}

func (x *peer6) less(y *peer6) bool {
	if x.hi != y.hi {
		return x.hi < y.hi
	}
	if x.lo != y.lo {
		return x.lo < y.lo
	}
	return x.portState < y.portState
}

func introsort6(a []peer6, depth int) {
	for len(a) > 12 {
		if depth == 0 {
			heapsort6(a)
			return
		}
		depth--
		p := partition6(a)
		// Recurse into the smaller side, loop on the larger.
		if p < len(a)-p {
			introsort6(a[:p], depth)
			a = a[p+1:]
		} else {
			introsort6(a[p+1:], depth)
			a = a[:p]
		}
	}
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j].less(&a[j-1]); j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// partition6 puts a median of three at its place and returns it: smaller
// notes before, others after.
func partition6(a []peer6) int {
	m, last := len(a)/2, len(a)-1
	if a[m].less(&a[0]) {
		a[m], a[0] = a[0], a[m]
	}
	if a[last].less(&a[0]) {
		a[last], a[0] = a[0], a[last]
	}
	if a[last].less(&a[m]) {
		a[last], a[m] = a[m], a[last]
	}
	a[m], a[last] = a[last], a[m] // the median as the pivot, at the end
	pivot := a[last]
	i := 0
	for j := range last {
		if a[j].less(&pivot) {
			a[i], a[j] = a[j], a[i]
			i++
		}
	}
	a[i], a[last] = a[last], a[i]
	return i
}

func heapsort6(a []peer6) {
	down := func(root, n int) {
		for {
			child := 2*root + 1
			if child >= n {
				return
			}
			if child+1 < n && a[child].less(&a[child+1]) {
				child++
			}
			if !a[root].less(&a[child]) {
				return
			}
			a[root], a[child] = a[child], a[root]
			root = child
		}
	}
	for i := len(a)/2 - 1; i >= 0; i-- {
		down(i, len(a))
	}
	for i := len(a) - 1; i > 0; i-- {
		a[0], a[i] = a[i], a[0]
		down(0, i)
	}
}
