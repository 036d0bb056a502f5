package tcpinfo

// windowSize bounds how far back a repeat is looked for. A repeat can only
// come from the hash bucket the previous datagram stopped in, and a 32 KiB
// datagram holds at most 455 sockets, so two datagrams' worth is plenty.
const windowSize = 1024

// tableSize keeps each open-addressed table at most a quarter full, so
// probes stay short.
const tableSize = 4 * windowSize

// A cookieWindow remembers at least the last windowSize cookies of a dump
// (and at most twice as many) in fixed memory, so deduplication costs a
// few nanoseconds a socket and does not grow with the number of sockets.
// It holds two generations: new cookies go into the current table; when it
// has windowSize of them, the older table is cleared and becomes the
// current one. Nothing is ever deleted from a table, which is what made a
// sliding window cost (a backward-shift delete for every socket).
// Cookie 0 marks an empty slot.
type cookieWindow struct {
	tables [2][tableSize]uint64
	cur    int // the generation new cookies go into
	n      int // how many it holds
	// The slots of a small dump's cookies, so that reset clears those
	// and not 64 KiB: most namespaces of a fleet hold a few sockets, and
	// are dumped twice a second.
	small [64]uint16
	added int // cookies since reset
}

func (w *cookieWindow) reset() {
	if w.added <= len(w.small) {
		for _, i := range w.small[:w.added] {
			w.tables[0][i] = 0 // fewer than windowSize: all in the first generation
		}
	} else {
		w.tables = [2][tableSize]uint64{}
	}
	w.cur, w.n, w.added = 0, 0, 0
}

func slot(cookie uint64) int { return int((cookie * 0x9E3779B97F4A7C15) >> (64 - 12)) }

// seen reports whether cookie was among the last cookies (at least
// windowSize of them), and remembers it. Cookie 0 (no cookie, as from
// /proc) is never a repeat.
func (w *cookieWindow) seen(cookie uint64) bool {
	if cookie == 0 {
		return false
	}
	h := slot(cookie)
	old := &w.tables[w.cur^1]
	for i := h; old[i] != 0; i = (i + 1) % tableSize {
		if old[i] == cookie {
			return true
		}
	}
	t := &w.tables[w.cur]
	i := h
	for ; t[i] != 0; i = (i + 1) % tableSize {
		if t[i] == cookie {
			return true
		}
	}
	if w.n == windowSize {
		// The older generation goes; the current one is now the older.
		clear(old[:])
		w.cur, w.n = w.cur^1, 0
		t = old
		i = h
	}
	t[i] = cookie
	w.n++
	if w.added < len(w.small) {
		w.small[w.added] = uint16(i)
	}
	w.added++
	return false
}
