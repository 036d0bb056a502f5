package tcpinfo

// windowSize bounds how far back a repeat is looked for. A repeat can only
// come from the hash bucket the previous datagram stopped in, and a 32 KiB
// datagram holds at most 455 sockets, so two datagrams' worth is plenty.
const windowSize = 1024

// A cookieWindow remembers the last windowSize cookies of a dump in fixed
// memory, so deduplication does not grow with the number of sockets.
type cookieWindow struct {
	ring [windowSize]uint64
	next int
	set  map[uint64]struct{}
}

func (w *cookieWindow) reset() {
	if w.set == nil {
		w.set = make(map[uint64]struct{}, windowSize)
	}
	clear(w.set)
	w.ring = [windowSize]uint64{}
	w.next = 0
}

// seen reports whether cookie was among the last windowSize cookies, and
// remembers it. Cookie 0 (no cookie, as from /proc) is never a repeat.
func (w *cookieWindow) seen(cookie uint64) bool {
	if cookie == 0 {
		return false
	}
	if _, ok := w.set[cookie]; ok {
		return true
	}
	if old := w.ring[w.next]; old != 0 {
		delete(w.set, old)
	}
	w.ring[w.next] = cookie
	w.next = (w.next + 1) % windowSize
	w.set[cookie] = struct{}{}
	return false
}
