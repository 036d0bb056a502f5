package tcpinfo

import "unsafe"

// A bulk hands out a one-shot snapshot's large tables that hold no
// pointers (port counts, destination groups' rows and their index, the
// notes of servers' peers) from
// blocks whose memory the kernel backs with 2 MiB pages. A page's first
// touch is a fault, 21–26 µs each on the VMs tcpdash was measured on (a
// 2 MiB page is one fault), and a snapshot of 200,000 sockets touched a
// few hundred pages of these tables. Nothing taken is given back, which
// suits a process that takes one snapshot and exits; a dashboard makes
// its tables once and reuses them, and gains nothing.
type bulk struct {
	free []byte // what is left of the current block, which it keeps alive
}

const (
	hugePage  = 2 << 20
	bulkBlock = 2 * hugePage
)

// take returns size bytes of zeroed memory, 64-byte aligned.
func (b *bulk) take(size int) unsafe.Pointer {
	size = (size + 63) &^ 63
	if size > len(b.free) {
		n := max(bulkBlock, (size+hugePage-1)&^(hugePage-1))
		// A fresh block is memory never touched: aligned to a huge
		// page, each of its 2 MiB is the block's alone, and the kernel
		// can back it with one page at its first touch.
		blk := make([]byte, n+hugePage)
		start := uintptr(unsafe.Pointer(unsafe.SliceData(blk)))
		off := int((start+hugePage-1)&^(hugePage-1) - start)
		b.free = blk[off : off+n]
		adviseHuge(b.free)
	}
	p := unsafe.Pointer(unsafe.SliceData(b.free))
	b.free = b.free[size:]
	return p
}

// pointerFree are the types a bulk may hold: the garbage collector does
// not look into a block (TestBulkTypesHoldNoPointers holds the list to
// it).
type pointerFree interface {
	int32 | uint64 | [2]uint8 | pressureRow | peer6
}

// bulkMake returns n zero Ts from b, or from the heap when b is nil.
func bulkMake[T pointerFree](b *bulk, n int) []T {
	if b == nil {
		return make([]T, n)
	}
	var zero T
	return unsafe.Slice((*T)(b.take(n*int(unsafe.Sizeof(zero)))), n)
}
