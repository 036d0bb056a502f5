package tcpinfo

// Conntrack is the namespace's connection-tracking table: its entries,
// its limit (nf_conntrack_max), and its statistics summed over CPUs, as
// conntrack -C and conntrack -S give them. Past Max, new connections are
// dropped (Drop) unless an old one can be evicted (EarlyDrop).
type Conntrack struct {
	Count, Max                            uint64
	Found, Invalid, Insert, InsertFailed  uint64
	Drop, EarlyDrop, Error, SearchRestart uint64
	// DropPerS, EarlyDropPerS, InsertFailedPerS and InvalidPerS are
	// measured between two snapshots (the collector's); RatesKnown says
	// there were two.
	DropPerS, EarlyDropPerS, InsertFailedPerS, InvalidPerS float64
	RatesKnown                                             bool
}

// A ConntrackReader reads a namespace's table (internal/conntrack).
type ConntrackReader interface {
	Read() (Conntrack, error)
}
