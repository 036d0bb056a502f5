// Package filter is ss's filter language for TCP sockets: the words users
// already type after ss -tan (state time-wait '( dport = :3306 or dport =
// :6379 ) and dst 10.0.0.0/8'), parsed once and then either compiled to
// the kernel's inet_diag bytecode, so the kernel copies only the sockets
// that match, or evaluated in Go over sockets read from /proc. Both back
// ends follow the kernel's semantics (net/ipv4/inet_diag.c), and a Go
// model of the kernel's interpreter lets tests check that they agree.
//
// The grammar is ss's: and/or of equal precedence, left to right (ss's
// `a or b and c` is `(a or b) and c`), not binding tighter, juxtaposition
// meaning and. State words (state, exclude) apply to the whole filter.
package filter

import (
	"net/netip"
	"strings"
)

// Address families, as the kernel numbers them.
const (
	afUnspec = 0
	afInet   = 2
	afInet6  = 10
)

// An Entry is what a filter looks at in one socket.
type Entry struct {
	// Family is the socket's table: 2 (IPv4) or 10 (IPv6). An IPv6
	// socket's v4-mapped address may be given mapped or not.
	Family uint8
	// State is the kernel's TCP state number (1 ESTABLISHED … 12).
	State uint8
	// Src is the local address and port, Dst the remote.
	Src, Dst netip.AddrPort
	// Cgroup is the cgroup-v2 id of the socket's creator; 0 if none.
	Cgroup uint64
	// Autobound says the kernel chose the local port. The kernel knows (no
	// bind() to a port); from outside, ss calls a local port in the
	// ephemeral range autobound, and keeps a socket only when both agree.
	Autobound bool
}

// A Filter is a parsed expression.
type Filter struct {
	text string
	// states is the kernel's idiag_states mask: bit n selects state n.
	states uint32
	expr   node // nil: every socket in states
}

// AllStates is the mask of every TCP state ss -a shows.
const AllStates uint32 = 1<<13 - 2

// String returns the expression as it was written.
func (f *Filter) String() string {
	if f == nil {
		return "" // no filter: every socket
	}
	return f.text
}

// States returns the idiag_states mask the filter asks the kernel for.
func (f *Filter) States() uint32 { return f.states }

// Match reports whether e is selected: the Go evaluator, the reference
// the bytecode is checked against, and what the /proc source uses.
func (f *Filter) Match(e Entry) bool { return f.Matches(&e) }

// Matches is Match on an entry the caller keeps: e is read, never kept.
// A caller that reuses one Entry for every socket allocates nothing (an
// Entry passed to the evaluator's nodes escapes, so Match costs an
// allocation a socket).
func (f *Filter) Matches(e *Entry) bool {
	if f.states&(1<<e.State) == 0 {
		return false
	}
	return f.expr == nil || f.expr.match(e)
}

// Kernel names what in the filter only the kernel can answer: "cgroup"
// and "autobound" (whether bind() chose the port), which /proc/net/tcp
// does not give. Empty when the Go evaluator can answer everything.
func (f *Filter) Kernel() string {
	var need []string
	walk(f.expr, func(n node) {
		switch n.(type) {
		case autoNode:
			need = appendOnce(need, "autobound")
		case *cgroupNode:
			need = appendOnce(need, "cgroup")
		}
	})
	return strings.Join(need, " and ")
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// Autobound reports whether the filter uses autobound. ss runs such a
// filter twice: in the kernel, where autobound means no bind() to a port,
// and again over what comes back, where it means a local port in the
// ephemeral range; a socket must pass both. Callers do the same to list
// what ss lists.
func (f *Filter) Autobound() bool {
	uses := false
	walk(f.expr, func(n node) {
		if _, ok := n.(autoNode); ok {
			uses = true
		}
	})
	return uses
}

// ResolveCgroups gives every `cgroup PATH` its id, from the caller's view
// of the cgroup2 mount. A filter with an unresolved path cannot compile.
func (f *Filter) ResolveCgroups(id func(path string) (uint64, error)) error {
	var err error
	walk(f.expr, func(n node) {
		if c, ok := n.(*cgroupNode); ok && err == nil {
			var e error
			if c.id, e = id(c.path); e != nil {
				err = &Error{Expr: f.text, Pos: c.pos, Word: c.path, Msg: e.Error()}
			}
		}
	})
	return err
}

// node is a boolean expression over one socket.
type node interface {
	match(e *Entry) bool
}

type (
	andNode struct{ l, r node }
	orNode  struct{ l, r node }
	notNode struct{ x node }
	// portNode compares a port: op is one of = >= <= (the kernel's EQ,
	// GE, LE); != < > are a not around one of them.
	portNode struct {
		src  bool
		op   string
		port uint16
	}
	// hostNode is src/dst ADDR[/LEN][:PORT]: family 0 when only a port
	// was given, port -1 when none.
	hostNode struct {
		src    bool
		family uint8
		addr   netip.Addr // the prefix's address, As4 or As16 by family
		bits   int
		port   int
	}
	autoNode   struct{}
	cgroupNode struct {
		path string
		pos  int
		id   uint64
	}
)

func (n andNode) match(e *Entry) bool { return n.l.match(e) && n.r.match(e) }
func (n orNode) match(e *Entry) bool  { return n.l.match(e) || n.r.match(e) }
func (n notNode) match(e *Entry) bool { return !n.x.match(e) }
func (autoNode) match(e *Entry) bool  { return e.Autobound }

func (n *cgroupNode) match(e *Entry) bool { return n.id != 0 && e.Cgroup == n.id }

func (n portNode) match(e *Entry) bool {
	p := e.Dst.Port()
	if n.src {
		p = e.Src.Port()
	}
	switch n.op {
	case ">=":
		return p >= n.port
	case "<=":
		return p <= n.port
	}
	return p == n.port
}

// match follows the kernel's INET_DIAG_BC_S_COND/D_COND: the port, then
// the family (an IPv4 prefix also matches an IPv6 socket's v4-mapped
// address), then the prefix.
func (n hostNode) match(e *Entry) bool {
	ap := e.Dst
	if n.src {
		ap = e.Src
	}
	if n.port >= 0 && int(ap.Port()) != n.port {
		return false
	}
	a := ap.Addr()
	if n.family == afUnspec {
		return true
	}
	if n.family != e.Family {
		// Only an IPv4 prefix against an IPv6 socket's mapped address.
		if e.Family != afInet6 || n.family != afInet || !(a.Is4() || a.Is4In6()) {
			return false
		}
		return prefixMatch(a.Unmap().AsSlice(), n.addr.AsSlice(), n.bits)
	}
	if n.bits == 0 {
		return true
	}
	if e.Family == afInet6 {
		b := a.As16() // a mapped address compares as the kernel holds it
		return prefixMatch(b[:], n.addr.AsSlice(), n.bits)
	}
	if !a.Is4() {
		return false
	}
	return prefixMatch(a.AsSlice(), n.addr.AsSlice(), n.bits)
}

// prefixMatch is the kernel's bitstring_match: the first bits of a and b
// are equal.
func prefixMatch(a, b []byte, bits int) bool {
	if len(a) < (bits+7)/8 || len(b) < (bits+7)/8 {
		return false
	}
	full, rest := bits/8, bits%8
	for i := range full {
		if a[i] != b[i] {
			return false
		}
	}
	if rest == 0 {
		return true
	}
	mask := byte(0xff << (8 - rest))
	return a[full]&mask == b[full]&mask
}

// walk calls fn on every node of n.
func walk(n node, fn func(node)) {
	if n == nil {
		return
	}
	fn(n)
	switch n := n.(type) {
	case andNode:
		walk(n.l, fn)
		walk(n.r, fn)
	case orNode:
		walk(n.l, fn)
		walk(n.r, fn)
	case notNode:
		walk(n.x, fn)
	}
}

// And is a filter selecting what both a and b select: the drill-down of
// a row within a filtered view. Either may be nil.
func And(a, b *Filter) *Filter {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	f := &Filter{text: "(" + a.text + ") and (" + b.text + ")", states: a.states & b.states, expr: a.expr}
	switch {
	case f.expr == nil:
		f.expr = b.expr
	case b.expr != nil:
		f.expr = andNode{a.expr, b.expr}
	}
	return f
}
