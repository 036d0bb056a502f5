package tcpinfo

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// A State is a kernel TCP state (include/net/tcp_states.h).
type State uint8

// The kernel's TCP states, in kernel order.
const (
	Established State = iota + 1
	SynSent
	SynRecv
	FinWait1
	FinWait2
	TimeWait
	Close
	CloseWait
	LastAck
	Listen
	Closing
	NewSynRecv
)

// NumStates bounds arrays indexed by State; index 0 is unused.
const NumStates = int(NewSynRecv) + 1

// States lists every state in kernel order.
var states = [...]State{Established, SynSent, SynRecv, FinWait1, FinWait2, TimeWait,
	Close, CloseWait, LastAck, Listen, Closing, NewSynRecv}

// AllStates returns every state in kernel order.
func AllStates() []State { return states[:] }

// Names as netstat prints them, so output matches what users already grep for.
var stateNames = [NumStates]string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
	"FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

// String returns the netstat name of s.
func (s State) String() string {
	if s.Valid() {
		return stateNames[s]
	}
	return "STATE(" + strconv.Itoa(int(s)) + ")"
}

// Valid reports whether s is one of the twelve kernel states.
func (s State) Valid() bool { return s >= Established && s <= NewSynRecv }

// ParseState parses a netstat state name such as "TIME_WAIT".
func ParseState(name string) (State, error) {
	for _, s := range states {
		if stateNames[s] == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown TCP state %q", name)
}

// A StateSet is the kernel's idiag_states bit mask: bit n selects state n.
type StateSet uint32

// AnyState selects every classic state. Bit 13 (TCP_BOUND_INACTIVE, Linux
// 6.8) is left out on purpose: bound-but-unconnected sockets are not
// connections, and ss -a leaves them out too.
const AnyState StateSet = 1<<(NewSynRecv+1) - 2

// StatesOf returns the set holding ss.
func StatesOf(ss ...State) StateSet {
	var set StateSet
	for _, s := range ss {
		set |= 1 << s
	}
	return set
}

// Has reports whether s is in the set.
func (set StateSet) Has(s State) bool { return set&(1<<s) != 0 }

// StateCounts holds a count per state, indexed by State.
type StateCounts [NumStates]int

// Total returns the sum over all states.
func (c *StateCounts) Total() int {
	n := 0
	for _, v := range c[1:] {
		n += v
	}
	return n
}

// MarshalJSON writes an object naming all twelve states, zeros included, in
// kernel order so that diffs of logged output stay readable.
func (c StateCounts) MarshalJSON() ([]byte, error) { return c.appendJSON(nil, true), nil }

// appendAll and appendNonZero append c's object, with zeros or without.
func (c *StateCounts) appendAll(b []byte) []byte     { return c.appendJSON(b, true) }
func (c *StateCounts) appendNonZero(b []byte) []byte { return c.appendJSON(b, false) }

func (c *StateCounts) appendJSON(b []byte, zeros bool) []byte {
	b = append(b, '{')
	first := true
	for _, s := range states {
		if c[s] == 0 && !zeros {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, stateNames[s]...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, int64(c[s]), 10)
	}
	return append(b, '}')
}

// nonZeroStates marshals only the states with a count, as table rows do.
type nonZeroStates StateCounts

func (c nonZeroStates) MarshalJSON() ([]byte, error) {
	sc := StateCounts(c)
	return sc.appendJSON(nil, false), nil
}

// UnmarshalJSON reads the object MarshalJSON writes; states left out are
// zero. Names it does not know are skipped, so a newer kernel's state in a
// recording does not make it unreadable. (A struct, not a map: a replayed
// frame decodes hundreds of these.)
func (c *StateCounts) UnmarshalJSON(b []byte) error {
	var f struct {
		ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT int
		CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING, NEW_SYN_RECV       int
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*c = StateCounts{0, f.ESTABLISHED, f.SYN_SENT, f.SYN_RECV, f.FIN_WAIT1, f.FIN_WAIT2, f.TIME_WAIT,
		f.CLOSE, f.CLOSE_WAIT, f.LAST_ACK, f.LISTEN, f.CLOSING, f.NEW_SYN_RECV}
	return nil
}

func (c *nonZeroStates) UnmarshalJSON(b []byte) error { return (*StateCounts)(c).UnmarshalJSON(b) }
