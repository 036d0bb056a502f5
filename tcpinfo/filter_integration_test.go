package tcpinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// filterCases are expressions ss and tcpdash must agree on, over a
// population of every kind: IPv4 to four destinations and two ports,
// TIME_WAIT, half-closed pairs, IPv6, v4-mapped clients of a dual-stack
// listener, idle listeners.
var filterCases = []string{
	"state time-wait",
	"state established",
	"exclude time-wait",
	"state connected",
	"state synchronized",
	"state bucket",
	"state big",
	"state listening state close-wait",
	"dport = :20000",
	"sport = :20001 or dport = :20001",
	"dport != :20000",
	"sport < :20001",
	"sport gt :20000",
	"sport <= :20000",
	"dport ge :20001",
	"dst 127.0.0.0/30",
	"dst 127.0.0.2",
	"dst 127.0.0.1:20000",
	"src [::1]",
	"dst [::1/128]",
	"src [::ffff:127.0.0.1]",
	"src 127.0.0.1",
	"src [::/1]",
	"not src 127.0.0.0/8",
	"dst :20001",
	"src *:20000",
	"autobound",
	"! autobound",
	"state time-wait ( dport = :20000 or dport = :20001 ) and dst 127.0.0.0/30",
	"( sport = :20000 or dport = :20000 ) and not ( dst 127.0.0.1 or src 127.0.0.3 )",
	"dport eq :20000 or dport eq :20001 and src 127.0.0.1",
	"state listening state established ! dport = :20000",
	"exclude fin-wait-2 not not ( dst [::1] or dst 127.0.0.4 )",
	// ss's bare forms, from iproute2's own filter tests.
	"dport 20000",
	"sport :20001 or dport :20000",
	"dst = 127.0.0.2",
	"src == [::1]",
	"src eq 127.0.0.1 and dport 20001",
}

// ssSet lists the sockets ss -tanH selects for expr, one line each.
// ss leaves the state column out when the words name a single state,
// which is then only.
func ssSet(t *testing.T, expr string, only State) []string {
	t.Helper()
	out, err := exec.Command("ss", append([]string{"-tanH"}, strings.Fields(expr)...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ss -tanH %s: %v: %s", expr, err, out)
	}
	var set []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && only != 0 {
			f = append([]string{"-"}, f...)
		}
		st, ok := ssStates[f[0]]
		if f[0] == "-" {
			st, ok = only, true
		}
		if !ok || len(f) < 5 {
			t.Fatalf("ss line %q", sc.Text())
		}
		set = append(set, key(st, parseSSAddr(t, f[3]), parseSSAddr(t, f[4])))
	}
	slices.Sort(set)
	return set
}

// TestIntegrationFilterMatchesSS: for every expression, the sockets a
// filtered dump yields are the ones ss -tanH lists for the same words, on
// netlink (the kernel running the compiled program, which it must accept)
// and on /proc (the Go evaluator).
func TestIntegrationFilterMatchesSS(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("ss"), "ss (iproute2) is not installed")
	pop, err := loadgen.Build(loadgen.Spec{Established: 20, TimeWait: 60, HalfClosed: 8, IPv6: 6, Mapped: 6, Listeners: 3, Dests: 4, Ports: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	for _, source := range []Source{SourceNetlink, SourceProcfs} {
		c, err := NewCollector(Options{Source: source})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		exprs := filterCases
		if source == SourceNetlink {
			exprs = append(slices.Clone(exprs), randomExprs(300)...)
		}
		nonEmpty := 0
		for _, expr := range exprs {
			if checkAgainstSS(t, c, source, expr) > 0 {
				nonEmpty++
			}
		}
		// The generated expressions must say something: most select some
		// sockets, and not all select all.
		if source == SourceNetlink && nonEmpty < len(exprs)/3 {
			t.Errorf("only %d of %d expressions select any socket: the generator says too little", nonEmpty, len(exprs))
		}
		t.Logf("%s: %d expressions, %d selecting sockets", source, len(exprs), nonEmpty)
	}
}

// checkAgainstSS holds the sockets c's dump yields for expr to the ones ss
// -tanH lists for the same words.
func checkAgainstSS(t *testing.T, c *Collector, source Source, expr string) (selected int) {
	t.Helper()
	f, err := filter.Parse(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	var got []string
	ports, err := ReadPortRange("/proc/sys")
	if err != nil {
		t.Fatal(err)
	}
	err = c.dump(f, ports, func(s *Socket) {
		got = append(got, key(s.State, s.Local, s.Remote))
	}, nil)
	if source == SourceProcfs && f.Kernel() != "" {
		if err == nil || !strings.Contains(err.Error(), "needs netlink") {
			t.Errorf("procfs %q: %v, want a refusal", expr, err)
		}
		return 0
	}
	if err != nil {
		t.Fatalf("%s %q: %v", source, expr, err)
	}
	if c.programRefused {
		t.Fatalf("the kernel refused the program for %q", expr)
	}
	slices.Sort(got)
	var only State
	for _, st := range AllStates() {
		if StateSet(f.States())&^StatesOf(NewSynRecv) == StatesOf(st) {
			only = st
		}
	}
	want := ssSet(t, expr, only)
	if !slices.Equal(got, want) {
		t.Errorf("%s %q: %d sockets, ss lists %d; only here %q; only in ss %q", source, expr, len(got), len(want),
			minus(got, want), minus(want, got))
	}
	return len(want)
}

// randomExprs makes n expressions of ss's grammar over the test
// population's addresses and ports, the same every run (a fixed seed): the
// differential test ss is the reference of.
func randomExprs(n int) []string {
	r := rand.New(rand.NewPCG(24, 2026))
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	port := func() string {
		return pick("20000", "20001", "20100", "22", "1", strconv.Itoa(32768+r.IntN(28232)))
	}
	atom := func() string {
		switch r.IntN(6) {
		case 0, 1:
			dir := pick("sport", "dport")
			if r.IntN(4) == 0 {
				return dir + " " + pick(":", "") + port() // ss's bare form
			}
			return dir + " " + pick("=", "==", "!=", "<", ">", "<=", ">=", "eq", "ne", "lt", "gt", "le", "ge") + " :" + port()
		case 2, 3:
			return pick("src", "dst") + pick(" ", " = ") + pick("127.0.0.1", "127.0.0.2", "127.0.0.0/30", "127.0.0.0/8", "[::1]",
				"[::1/128]", "[::ffff:127.0.0.1]", "127.0.0.1:20000", ":20001", "*:20000", "127.0.0.3:"+port(), "10.0.0.0/8")
		case 4:
			return "autobound"
		}
		return "state " + pick("established", "time-wait", "listening", "fin-wait-2", "close-wait", "connected", "bucket")
	}
	var expr func(depth int) string
	expr = func(depth int) string {
		if depth == 0 {
			a := atom()
			for strings.HasPrefix(a, "state ") {
				a = atom() // states apply to the whole filter: only at its head
			}
			return a
		}
		switch r.IntN(5) {
		case 0:
			return pick("! ", "not ") + expr(depth-1)
		case 1:
			return "( " + expr(depth-1) + " " + pick("or", "||", "|") + " " + expr(depth-1) + " )"
		case 2:
			return expr(depth-1) + " " + pick("and", "&&", "&", "") + " " + expr(depth-1)
		}
		return expr(0)
	}
	out := make([]string, 0, n)
	for range n {
		head := ""
		switch r.IntN(4) {
		case 0:
			head = "state " + pick("established", "time-wait", "listening", "fin-wait-2", "close-wait", "connected", "synchronized") + " "
		case 1:
			head = "exclude " + pick("time-wait", "listening", "established") + " "
		}
		out = append(out, strings.Join(strings.Fields(head+expr(r.IntN(3))), " "))
	}
	return out
}

// key names a socket as both sides can: ss prints a dual-stack wildcard
// as *, like an IPv4 one.
func key(st State, local, remote netip.AddrPort) string {
	norm := func(ap netip.AddrPort) string {
		if ap.Addr().IsUnspecified() {
			return fmt.Sprintf("*:%d", ap.Port())
		}
		return ap.String()
	}
	return fmt.Sprintf("%s %s %s", st, norm(local), norm(remote))
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
