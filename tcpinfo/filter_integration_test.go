package tcpinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
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
	"src [::/0]",
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
	netns.Require(t, haveTool("ss"), "ss (iproute2) is not installed")
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
		for _, expr := range filterCases {
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
			})
			if source == SourceProcfs && f.Kernel() != "" {
				if err == nil || !strings.Contains(err.Error(), "needs netlink") {
					t.Errorf("procfs %q: %v, want a refusal", expr, err)
				}
				continue
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
			if len(want) == 0 && expr != "state bucket" {
				t.Logf("%q selects nothing", expr)
			}
		}
	}
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
