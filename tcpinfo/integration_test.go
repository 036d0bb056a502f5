package tcpinfo

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// testSpec has a little of everything. Its expected counts are below.
var testSpec = loadgen.Spec{
	Established: 30, TimeWait: 400, HalfClosed: 20, IPv6: 10, Mapped: 15,
	Listeners: 3, Dests: 4, Ports: 3,
}

func TestIntegrationMatchesSS(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("ss"), "ss is not installed (Debian's iproute2)")
	pop, err := loadgen.Build(testSpec)
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()

	rows := runSS(t)
	ports, err := ReadPortRange("/proc/sys")
	if err != nil {
		t.Fatal(err)
	}
	want := referenceSnapshot(rows, ports)

	// The population, as built, must be what ss sees: this checks the
	// fixture, so the comparison below compares something meaningful.
	wantStates := StateCounts{}
	wantStates[Established] = 2 * (testSpec.Established + testSpec.IPv6 + testSpec.Mapped)
	wantStates[TimeWait] = testSpec.TimeWait
	wantStates[CloseWait] = testSpec.HalfClosed
	wantStates[FinWait2] = testSpec.HalfClosed
	wantStates[Listen] = testSpec.Ports + 4 + testSpec.Listeners
	if diff := gocmp.Diff(wantStates, want.States); diff != "" {
		t.Fatalf("population differs from spec (-spec +ss):\n%s", diff)
	}

	for _, src := range []Source{SourceNetlink, SourceProcfs} {
		t.Run(string(src), func(t *testing.T) {
			col, err := NewCollector(Options{Source: src, Top: 1000})
			if err != nil {
				t.Fatal(err)
			}
			defer col.Close()
			got, err := col.Collect(Query{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != src {
				t.Errorf("source %q, want %q", got.Source, src)
			}
			opts := []gocmp.Option{
				cmpopts.IgnoreFields(Snapshot{}, "Time", "Source", "SourceNote", "Dump",
					"TimeWaitExpiry", "Counters", "MaxTimeWaitBuckets", "TimeWaitReuse", "Cgroups", "Listeners",
					"LocalPortsFolded", "RemoteEndpointsFolded"),
				gocmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				gocmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
				gocmp.Comparer(func(a, b PortRange) bool { return a.String() == b.String() && a.Reserved == b.Reserved }),
				// ss -tanH shows no timers; checked below instead.
				cmpopts.IgnoreFields(PressureGroup{}, "RecentTimeWait", "FreshTimeWait", "TimeWaitLeft", "ReuseAfter", "ReusableTimeWait",
					"Opener", "OpenerCgroup", "OpenerCgroupName", "OpenerSockets"),
			}
			if diff := gocmp.Diff(want, got, opts...); diff != "" {
				t.Errorf("snapshot differs from ss -tanH (-ss +tcpdash):\n%s", diff)
			}
			// A fresh namespace's defaults: loopback reuse, timestamps on,
			// and a second's delay (tcp_tw_reuse_delay's, or before it).
			if r := got.TimeWaitReuse; r != (TimeWaitReuse{Reuse: 2, Timestamps: true, Delay: time.Second}) {
				t.Errorf("TIME_WAIT reuse %+v, want tcp_tw_reuse 2, timestamps on, 1s", r)
			}
			// The population was just built: every TIME_WAIT socket is recent.
			recent, last := 0, 0
			for _, g := range got.PortPressure {
				recent += g.RecentTimeWait
				last += g.TimeWaitLeft[ExpirySlots-1]
			}
			if recent != testSpec.TimeWait || last != testSpec.TimeWait {
				t.Errorf("%d recent TIME_WAIT sockets in pressure groups, %d in their last slot of time left; want all %d", recent, last, testSpec.TimeWait)
			}
			// Every TIME_WAIT socket frees its port within 60 s.
			if n := len(got.TimeWaitExpiry); n != expiryBuckets || got.TimeWaitExpiry[n-1].Count != testSpec.TimeWait {
				t.Errorf("TIME_WAIT expiry %+v: want %d buckets ending at %d", got.TimeWaitExpiry, expiryBuckets, testSpec.TimeWait)
			}
			if got.Counters.CurrEstab == 0 || got.Counters.ActiveOpens < uint64(testSpec.TimeWait) {
				t.Errorf("counters %+v do not reflect the population", got.Counters)
			}
		})
	}
}

// ssRow is one line of ss -tanH.
type ssRow struct {
	state         State
	local, remote netip.AddrPort
	ipv6          bool
}

var ssStates = map[string]State{
	"ESTAB": Established, "SYN-SENT": SynSent, "SYN-RECV": SynRecv, "FIN-WAIT-1": FinWait1,
	"FIN-WAIT-2": FinWait2, "TIME-WAIT": TimeWait, "UNCONN": Close, "CLOSE-WAIT": CloseWait,
	"LAST-ACK": LastAck, "LISTEN": Listen, "CLOSING": Closing,
}

func runSS(t *testing.T) []ssRow {
	t.Helper()
	var rows []ssRow
	for _, fam := range []string{"-4", "-6"} {
		out, err := exec.Command("ss", "-tanH", fam).Output()
		if err != nil {
			t.Fatalf("ss -tanH %s: %v", fam, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 5 {
				t.Fatalf("ss line %q: want 5 fields", sc.Text())
			}
			st, ok := ssStates[f[0]]
			if !ok {
				t.Fatalf("ss line %q: unknown state", sc.Text())
			}
			rows = append(rows, ssRow{st, parseSSAddr(t, f[3]), parseSSAddr(t, f[4]), fam == "-6"})
		}
	}
	return rows
}

// parseSSAddr parses ss's ADDR:PORT, [ADDR]:PORT, *:PORT and ADDR:*.
func parseSSAddr(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	i := strings.LastIndexByte(s, ':')
	host, port := strings.Trim(s[:i], "[]"), s[i+1:]
	if j := strings.IndexByte(host, '%'); j >= 0 {
		host = host[:j] // interface scope, as in 127.0.0.1%lo
	}
	var p uint16
	if port != "*" {
		fmt.Sscan(port, &p)
	}
	addr := netip.IPv4Unspecified()
	if host != "*" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			t.Fatalf("ss address %q: %v", s, err)
		}
		addr = a.Unmap()
	}
	return netip.AddrPortFrom(addr, p)
}

// referenceSnapshot aggregates ss's rows with plain maps and sorting,
// independently of the Aggregator.
func referenceSnapshot(rows []ssRow, ports PortRange) *Snapshot {
	s := &Snapshot{PortRange: ports}
	local := map[uint16]*StateCounts{}
	remote := map[uint16]*StateCounts{}
	endpoints := map[netip.AddrPort]*StateCounts{}
	type gk struct {
		l netip.Addr
		r netip.AddrPort
	}
	groups := map[gk]*PressureGroup{}
	bump := func(m map[uint16]*StateCounts, k uint16, st State) {
		if m[k] == nil {
			m[k] = &StateCounts{}
		}
		m[k][st]++
	}
	for _, r := range rows {
		s.Total++
		s.States[r.state]++
		if r.ipv6 {
			s.Families.IPv6++
		} else {
			s.Families.IPv4++
		}
		bump(local, r.local.Port(), r.state)
		if r.state == Listen && !slices.Contains(s.ListenPorts, r.local.Port()) {
			s.ListenPorts = append(s.ListenPorts, r.local.Port())
		}
		if r.state == Listen || r.remote.Port() == 0 {
			continue
		}
		bump(remote, r.remote.Port(), r.state)
		if endpoints[r.remote] == nil {
			endpoints[r.remote] = &StateCounts{}
		}
		endpoints[r.remote][r.state]++
		if ports.Ephemeral(r.local.Port()) {
			k := gk{r.local.Addr(), r.remote}
			if groups[k] == nil {
				groups[k] = &PressureGroup{Local: k.l, Remote: k.r, Capacity: ports.Capacity()}
			}
			groups[k].Used++
			if r.state == TimeWait {
				groups[k].TimeWait++
			}
		}
	}
	portRows := func(m map[uint16]*StateCounts) []PortCount {
		var out []PortCount
		for p, c := range m {
			out = append(out, PortCount{p, *c})
		}
		slices.SortFunc(out, func(a, b PortCount) int {
			return cmp.Or(b.States.Total()-a.States.Total(), int(a.Port)-int(b.Port))
		})
		return out
	}
	s.TopLocalPorts, s.TopRemotePorts = portRows(local), portRows(remote)
	for ep, c := range endpoints {
		s.TopRemoteEndpoints = append(s.TopRemoteEndpoints, EndpointCount{Endpoint: ep, States: *c})
	}
	slices.SortFunc(s.TopRemoteEndpoints, func(a, b EndpointCount) int {
		return cmp.Or(b.States.Total()-a.States.Total(), int(a.Endpoint.Port())-int(b.Endpoint.Port()),
			a.Endpoint.Addr().Compare(b.Endpoint.Addr()))
	})
	for _, g := range groups {
		g.Ratio = float64(g.Used) / float64(g.Capacity)
		s.PortPressure = append(s.PortPressure, *g)
	}
	slices.SortFunc(s.PortPressure, func(a, b PressureGroup) int {
		return cmp.Or(b.Used-a.Used, int(a.Remote.Port())-int(b.Remote.Port()),
			a.Remote.Addr().Compare(b.Remote.Addr()), a.Local.Compare(b.Local))
	})
	slices.Sort(s.ListenPorts)
	return s
}
