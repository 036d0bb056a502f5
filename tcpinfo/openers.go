package tcpinfo

import "net/netip"

// An Opener is the process that opened a connection, as an event source
// saw it in connect(): the one attribution that holds for a connection
// born and gone between two polls.
type Opener struct {
	PID     int
	Command string
	Cgroup  uint64
}

// An OpenerIndex names the openers of one namespace's connections: the
// eBPF source (internal/openers) is the real one.
type OpenerIndex interface {
	// Opener is the process that connected local to remote, if seen.
	Opener(local, remote netip.AddrPort) (Opener, bool)
	// Destination is what was seen of connections to remote.
	Destination(remote netip.AddrPort) (DestinationEvents, bool)
	// Source says what the index is and what it missed.
	Source() OpenerSource
}

// DestinationEvents counts what an event source saw of connections to one
// destination since it began: connects that failed (SYN_SENT → CLOSE: a
// refusal or a timeout) and established connections reset.
type DestinationEvents struct {
	Failed, Resets uint64
}

// OpenerSource names the source of openers and what it missed: Lost,
// events the kernel had no room for; Dropped, openers past its bounds.
// Without one, Name is empty and Note says why.
type OpenerSource struct {
	Name                    string
	Note                    string
	Connects, Lost, Dropped uint64
}
