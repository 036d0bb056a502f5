// Package tuning knows the TCP sysctls that matter for connection churn:
// what each really does on the running kernel, which values are valid,
// and how to change them safely. Planning has no side effects; applying
// writes, reads back and rolls back on failure; every batch can be undone.
// It never prompts or prints: confirmation belongs to the caller.
package tuning

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tcpdash/tcpdash/internal/sysctl"
)

// A Scope says whether a sysctl is per network namespace or host-wide.
type Scope int

const (
	// PerNamespace sysctls start from compiled-in defaults in each new
	// network namespace and change only the namespace they are written in.
	PerNamespace Scope = iota
	// Global sysctls are one value for the whole host.
	Global
)

func (s Scope) String() string {
	if s == Global {
		return "global"
	}
	return "per-netns"
}

// A Tunable is one known sysctl and the facts about it.
type Tunable struct {
	Key string // net.ipv4.tcp_tw_reuse
	// Does says what the sysctl really does, and what it does not.
	Does string
	// Values describes the valid values; Unit their unit.
	Values, Unit string
	// Default is the kernel's compiled-in default.
	Default string
	Scope   Scope
	// Removed says when the kernel dropped it; such a key is never written.
	Removed string

	// check validates a value (given the current one) and returns it in the
	// kernel's own format, so that read-back can be compared exactly.
	check func(value, current string) (string, error)
	// warn returns cautions for a change from old to new.
	warn func(old, new string) []string
}

// Path is the key's file under a sysctl root such as /proc/sys.
func (t Tunable) Path() string { return strings.ReplaceAll(t.Key, ".", "/") }

// Known returns the table of tunables, in display order.
func Known() []Tunable {
	return []Tunable{
		{
			Key: "net.ipv4.tcp_tw_reuse",
			Does: "Lets connect() take over a TIME_WAIT 4-tuple for a new OUTGOING connection once it is " +
				"older than tcp_tw_reuse_delay. Needs tcp_timestamps on both ends. Useless for incoming " +
				"connections. Each reuse counts in TcpExt TWRecycled.",
			Values: "0 off, 1 on, 2 loopback only", Default: "2", Scope: PerNamespace,
			check: oneOf("0", "1", "2"),
			warn: func(_, new string) []string {
				if new == "1" {
					return []string{"helps outgoing connections only, and only with tcp_timestamps on both ends"}
				}
				return nil
			},
		},
		{
			Key:    "net.ipv4.tcp_tw_reuse_delay",
			Does:   "How old a TIME_WAIT socket must be before tcp_tw_reuse may reuse it (Linux 6.14+).",
			Values: "1-60000", Unit: "ms", Default: "1000", Scope: PerNamespace,
			check: intRange(1, 60000),
		},
		{
			Key: "net.ipv4.tcp_fin_timeout",
			Does: "How long an orphaned socket (closed by its application) waits in FIN_WAIT2 for the " +
				"peer's FIN. It does NOT shorten TIME_WAIT, which is fixed at 60 s (TCP_TIMEWAIT_LEN).",
			Values: "1-3600", Unit: "s", Default: "60", Scope: PerNamespace,
			check: intRange(1, 3600),
			warn: func(_, _ string) []string {
				return []string{"tcp_fin_timeout does not shorten TIME_WAIT (fixed at 60 s); it only bounds orphaned FIN_WAIT2"}
			},
		},
		{
			Key: "net.ipv4.ip_local_port_range",
			Does: "The ports connect() picks from. Each (source IP, destination IP, destination port) " +
				"group can use every port in it at once, TIME_WAIT included.",
			Values: "LOW HIGH, 1-65535, LOW < HIGH", Unit: "ports", Default: "32768 60999", Scope: PerNamespace,
			check: portRange,
			warn: func(_, new string) []string {
				var w []string
				if lo, hi, err := sysctl.ParsePortRange(new); err == nil && lo%2 == hi%2 {
					w = append(w, "the range's ends should differ in parity: connect() prefers even ports, bind() odd")
				}
				return w
			},
		},
		{
			Key: "net.ipv4.ip_local_reserved_ports",
			Does: "Ports inside ip_local_port_range that connect() must never pick, such as ports your " +
				"servers listen on.",
			Values: "comma-separated ports and ranges, or empty", Default: "(empty)", Scope: PerNamespace,
			check: portList,
		},
		{
			Key: "net.ipv4.tcp_max_tw_buckets",
			Does: "How many TIME_WAIT (and FIN_WAIT2) minisockets may exist. Above it, closing sockets " +
				"skip TIME_WAIT and TcpExt TCPTimeWaitOverflow counts up.",
			Values: "0-2147483647", Unit: "sockets", Default: "half the established hash size", Scope: PerNamespace,
			check: intRange(0, 1<<31-1),
			warn: func(old, new string) []string {
				if o, err1 := strconv.Atoi(old); err1 == nil {
					if n, err2 := strconv.Atoi(new); err2 == nil && n < o {
						return []string{"lowering tcp_max_tw_buckets makes connections skip TIME_WAIT, risking stray segments in new connections"}
					}
				}
				return nil
			},
		},
		{
			Key:    "net.ipv4.tcp_timestamps",
			Does:   "RFC 7323 timestamps. tcp_tw_reuse and PAWS depend on them.",
			Values: "0 off, 1 on, 2 on without random offsets", Default: "1", Scope: PerNamespace,
			check: oneOf("0", "1", "2"),
			warn: func(_, new string) []string {
				if new == "0" {
					return []string{"turning timestamps off disables tcp_tw_reuse"}
				}
				return nil
			},
		},
		{
			Key:    "net.ipv4.tcp_syncookies",
			Does:   "Answer SYNs with cookies when the SYN backlog overflows (1), always (2), or never (0).",
			Values: "0, 1 or 2", Default: "1", Scope: PerNamespace,
			check: oneOf("0", "1", "2"),
		},
		{
			Key: "net.ipv4.tcp_max_syn_backlog",
			Does: "How many half-open connections (SYN_RECV) a listener may hold. Pair with " +
				"ListenDrops and the application's listen() backlog.",
			Values: "1-2147483647", Unit: "connections", Default: "depends on memory", Scope: PerNamespace,
			check: intRange(1, 1<<31-1),
		},
		{
			Key: "net.core.somaxconn",
			Does: "The cap on every listen() backlog (the accept queue). ListenOverflows counts connections " +
				"dropped because the queue was full; the application's own backlog must be raised too.",
			Values: "1-2147483647", Unit: "connections", Default: "4096", Scope: PerNamespace,
			check: intRange(1, 1<<31-1),
		},
		{
			Key: "net.ipv4.tcp_max_orphans",
			Does: "How many sockets no process holds any more (closed, still sending or in FIN_WAIT) may " +
				"exist before they are reset.",
			Values: "0-2147483647", Unit: "sockets", Default: "depends on memory", Scope: Global,
			check: intRange(0, 1<<31-1),
		},
		{
			Key: "net.ipv4.tcp_tw_recycle",
			Does: "Removed in Linux 4.12. It dropped SYNs from clients behind NAT, and since 4.10 it was " +
				"broken even without NAT. tcpdash never writes it; tcp_tw_reuse is the safe knob.",
			Values: "(none)", Default: "removed", Scope: PerNamespace, Removed: "Linux 4.12",
		},
	}
}

// Lookup finds a tunable by key.
func Lookup(key string) (Tunable, bool) {
	for _, t := range Known() {
		if t.Key == key {
			return t, true
		}
	}
	return Tunable{}, false
}

func oneOf(valid ...string) func(string, string) (string, error) {
	return func(v, _ string) (string, error) {
		v = strings.TrimSpace(v)
		for _, ok := range valid {
			if v == ok {
				return v, nil
			}
		}
		return "", fmt.Errorf("%q is not one of %s", v, strings.Join(valid, ", "))
	}
}

func intRange(lo, hi int) func(string, string) (string, error) {
	return func(v, _ string) (string, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return "", fmt.Errorf("%q is not a whole number", v)
		}
		if n < lo || n > hi {
			return "", fmt.Errorf("%d is out of range %d-%d", n, lo, hi)
		}
		return strconv.Itoa(n), nil
	}
}

func portRange(v, _ string) (string, error) {
	lo, hi, err := sysctl.ParsePortRange(v)
	switch {
	case err != nil:
		return "", err
	case lo == hi:
		return "", fmt.Errorf("%q: LOW must be below HIGH", v)
	}
	// The kernel prints the pair tab-separated.
	return fmt.Sprintf("%d\t%d", lo, hi), nil
}

// portList checks a port list and returns it as the kernel prints it:
// sorted, with overlapping and adjacent ports merged into ranges
// ("9000,8080,8081" reads back "8080-8081,9000").
func portList(v, _ string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	var set [1 << 16]bool
	for part := range strings.SplitSeq(v, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
			return "", fmt.Errorf("%q: want ports or ranges such as 8080,9000-9100", part)
		}
		for p := a; p <= b; p++ {
			set[p] = true
		}
	}
	var out []string
	for p := 1; p < len(set); p++ {
		if !set[p] {
			continue
		}
		q := p
		for q+1 < len(set) && set[q+1] {
			q++
		}
		if q == p {
			out = append(out, strconv.Itoa(p))
		} else {
			out = append(out, strconv.Itoa(p)+"-"+strconv.Itoa(q))
		}
		p = q
	}
	return strings.Join(out, ","), nil
}

// Same reports whether a and b are the same value of t as the kernel
// stores it: whitespace folded, port lists sorted and merged.
func (t Tunable) Same(a, b string) bool {
	return t.canonical(a) == t.canonical(b)
}

func (t Tunable) canonical(v string) string {
	if t.check != nil {
		if c, err := t.check(v, ""); err == nil {
			return display(c)
		}
	}
	return display(v)
}

// Check validates value for t without touching the system, and returns it
// in the kernel's format. A removed tunable accepts nothing.
func (t Tunable) Check(value string) (string, error) {
	if t.Removed != "" || t.check == nil {
		return "", fmt.Errorf("%s was removed in %s and is never written", t.Key, t.Removed)
	}
	return t.check(value, "")
}

// Warnings returns the cautions for changing t from old to new.
func (t Tunable) Warnings(old, new string) []string {
	if t.warn == nil {
		return nil
	}
	return t.warn(old, new)
}
