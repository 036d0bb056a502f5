package tcpinfo

// windowSize bounds how far back a repeat is looked for. A repeat can only
// come from the hash bucket the previous datagram stopped in, and a 32 KiB
// datagram holds at most 455 sockets, so two datagrams' worth is plenty.
const windowSize = 1024

// tableSize keeps the open-addressed table at most a quarter full, so
// probes stay short.
const tableSize = 4 * windowSize

// A cookieWindow remembers the last windowSize cookies of a dump in fixed
// memory, so deduplication costs a few nanoseconds a socket and does not
// grow with the number of sockets. Cookie 0 marks an empty slot.
type cookieWindow struct {
	ring  [windowSize]uint64
	next  int
	table [tableSize]uint64
}

func (w *cookieWindow) reset() { *w = cookieWindow{} }

func slot(cookie uint64) int { return int((cookie * 0x9E3779B97F4A7C15) >> (64 - 12)) }

// seen reports whether cookie was among the last windowSize cookies, and
// remembers it. Cookie 0 (no cookie, as from /proc) is never a repeat.
func (w *cookieWindow) seen(cookie uint64) bool {
	if cookie == 0 {
		return false
	}
	i := slot(cookie)
	for ; w.table[i] != 0; i = (i + 1) % tableSize {
		if w.table[i] == cookie {
			return true
		}
	}
	if old := w.ring[w.next]; old != 0 {
		// Evicting shifts entries, which can open a gap earlier in this
		// cookie's probe run: probe again after it.
		w.remove(old)
		for i = slot(cookie); w.table[i] != 0; i = (i + 1) % tableSize {
		}
	}
	w.table[i] = cookie
	w.ring[w.next] = cookie
	w.next = (w.next + 1) % windowSize
	return false
}

// remove deletes cookie by backward-shift deletion: later entries of the
// probe run move up so that lookups never stop at a false gap.
func (w *cookieWindow) remove(cookie uint64) {
	i := slot(cookie)
	for w.table[i] != cookie {
		i = (i + 1) % tableSize
	}
	for j := (i + 1) % tableSize; w.table[j] != 0; j = (j + 1) % tableSize {
		home := slot(w.table[j])
		// Move table[j] into the hole at i unless its home lies in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			w.table[i] = w.table[j]
			i = j
		}
	}
	w.table[i] = 0
}
