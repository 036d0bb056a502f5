package tcpinfo

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestRequestWire: a dump of one family is struct inet_diag_req_v2 under
// SOCK_DIAG_BY_FAMILY; of both, struct inet_diag_req under
// TCPDIAG_GETSOCK, the family AF_UNSPEC. Offsets are the uapi header's.
func TestRequestWire(t *testing.T) {
	program := []byte{12, 8, 12, 0, 0, 0, 1, 0, 0xaa} // odd: padded
	for _, tc := range []struct {
		r   request
		typ uint16
		// the struct's size and where its ext and states are
		size, extAt, statesAt int
		family, proto, ext    byte
	}{
		{r: request{family: IPv4, states: AnyState}, typ: 20, size: 56, extAt: 2, statesAt: 4, family: 2, proto: 6},
		{r: request{family: IPv6, states: StatesOf(Listen), info: true}, typ: 20, size: 56, extAt: 2, statesAt: 4, family: 10, proto: 6, ext: extInfo},
		{r: request{family: BothFamilies, states: AnyState, info: true}, typ: 18, size: 60, extAt: 3, statesAt: 52, ext: extInfo},
		{r: request{family: BothFamilies, states: StatesOf(TimeWait), program: program}, typ: 18, size: 60, extAt: 3, statesAt: 52},
	} {
		t.Run(fmt.Sprintf("%s/%d-byte program", tc.r.family, len(tc.r.program)), func(t *testing.T) {
			b, err := tc.r.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.r.msgType(); got != tc.typ {
				t.Errorf("message type %d, want %d", got, tc.typ)
			}
			// Both structs start with the family; v2's protocol is next,
			// where the old struct's source prefix length is (0).
			if b[0] != tc.family || b[1] != tc.proto || b[tc.extAt] != tc.ext {
				t.Errorf("family %d protocol %d ext %d, want %d, %d and %d", b[0], b[1], b[tc.extAt], tc.family, tc.proto, tc.ext)
			}
			if got := StateSet(binary.NativeEndian.Uint32(b[tc.statesAt:])); got != tc.r.states {
				t.Errorf("states %#x, want %#x", got, tc.r.states)
			}
			want := tc.size
			if len(tc.r.program) > 0 {
				want += (4 + len(tc.r.program) + 3) &^ 3
				attr := b[tc.size:]
				if n, typ := binary.NativeEndian.Uint16(attr), binary.NativeEndian.Uint16(attr[2:]); int(n) != 4+len(tc.r.program) || typ != reqBytecode {
					t.Errorf("attribute of %d bytes, type %d", n, typ)
				}
				if !slices.Equal(attr[4:4+len(tc.r.program)], tc.r.program) {
					t.Errorf("program %x, want %x", attr[4:], tc.r.program)
				}
			}
			if len(b) != want {
				t.Errorf("%d bytes, want %d", len(b), want)
			}
		})
	}
}

// TestIntegrationBothFamiliesInOneWalk: the kernel's dump of both
// families in one walk is its dumps of IPv4 and of IPv6 together, socket
// for socket (listeners, TIME_WAIT, half-closed, IPv6 and v4-mapped),
// with a filter program and with tcp_info; and a Collector uses it.
func TestIntegrationBothFamiliesInOneWalk(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	pop, err := loadgen.Build(testSpec)
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	conn, err := Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// What stays while the dumps run: timers and queues move.
	key := func(s *Socket) string {
		return fmt.Sprintf("%s %s %s %s uid=%d inode=%d cookie=%d cgroup=%d info=%t",
			s.Family, s.State, s.Local, s.Remote, s.UID, s.Inode, s.Cookie, s.Cgroup, s.HasInfo)
	}
	dump := func(family Family, states StateSet, program []byte) []string {
		var got []string
		if err := conn.DumpProgram(family, states, program, func(s *Socket) { got = append(got, key(s)) }); err != nil {
			t.Fatalf("%s dump: %v", family, err)
		}
		slices.Sort(got)
		return got
	}
	// loadgen's IPv6 and v4-mapped servers' ports, and its TIME_WAIT's.
	f, err := filter.Parse("sport = :20102 or dport = :20102 or sport = :20103 or dport = :20103 or dport = :20000")
	if err != nil {
		t.Fatal(err)
	}
	program, err := f.Bytecode()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		states  StateSet
		program []byte
		info    bool
	}{
		{"all", AnyState, nil, false},
		{"listeners", StatesOf(Listen), nil, false},
		{"a program", AnyState, program, false},
		{"tcp_info", StatesOf(Established), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn.WantInfo(tc.info)
			defer conn.WantInfo(false)
			want := slices.Concat(dump(IPv4, tc.states, tc.program), dump(IPv6, tc.states, tc.program))
			slices.Sort(want)
			got := dump(BothFamilies, tc.states, tc.program)
			if !slices.Equal(got, want) {
				t.Errorf("one walk: %d sockets, two: %d; only in one: %q; only in two: %q",
					len(got), len(want), firstMissing(got, want), firstMissing(want, got))
			}
			v4 := 0
			for _, k := range got {
				if strings.HasPrefix(k, "ipv4 ") {
					v4++
				}
			}
			if v4 == 0 || v4 == len(got) {
				t.Errorf("%d of %d sockets IPv4: the population has both families", v4, len(got))
			}
		})
	}

	col, err := NewCollector(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	if !slices.Equal(col.families, []Family{BothFamilies}) {
		t.Errorf("the collector dumps %v, want both families in one walk", col.families)
	}
}

// firstMissing returns up to three of a's lines that b lacks.
func firstMissing(a, b []string) []string {
	var out []string
	for _, l := range a {
		if !slices.Contains(b, l) && len(out) < 3 {
			out = append(out, l)
		}
	}
	return out
}

// perFamilyKernel serves dumps of one family and refuses one of both, as
// a kernel without TCPDIAG_GETSOCK would.
type perFamilyKernel struct {
	socks  []Socket
	dumps  []Family
	states []StateSet
}

func (k *perFamilyKernel) Dump(f Family, s StateSet, fn func(*Socket)) error {
	return k.DumpProgram(f, s, nil, fn)
}

func (k *perFamilyKernel) DumpProgram(f Family, states StateSet, _ []byte, fn func(*Socket)) error {
	k.dumps, k.states = append(k.dumps, f), append(k.states, states)
	if f == BothFamilies {
		return unix.EINVAL
	}
	for i := range k.socks {
		if s := k.socks[i]; s.Family == f && states.Has(s.State) {
			fn(&s)
		}
	}
	return nil
}

func (k *perFamilyKernel) Close() error { return nil }

// TestCollectorDumpsByFamilyWhereBothAreRefused: on a kernel that refuses
// a dump of both families, a snapshot dumps IPv4 then IPv6 and misses
// nothing.
func TestCollectorDumpsByFamilyWhereBothAreRefused(t *testing.T) {
	k := &perFamilyKernel{socks: []Socket{
		{Family: IPv4, State: Listen, Local: netip.MustParseAddrPort("0.0.0.0:80"), Cookie: 1},
		{Family: IPv4, State: Established, Local: netip.MustParseAddrPort("10.0.0.1:80"), Remote: netip.MustParseAddrPort("10.0.0.2:40000"), Cookie: 2},
		{Family: IPv6, State: Listen, Local: netip.MustParseAddrPort("[::]:443"), Cookie: 3},
		{Family: IPv6, State: TimeWait, Local: netip.MustParseAddrPort("[2001:db8::1]:40001"), Remote: netip.MustParseAddrPort("[2001:db8::2]:443"), Cookie: 4},
	}}
	c, err := newCollector(Options{SysctlRoot: fakeSysctls(t)}, func() (dumper, error) { return k, nil })
	if err != nil {
		t.Fatal(err)
	}
	c.counters = func() (Counters, error) { return Counters{}, nil }
	if want := []Family{BothFamilies, IPv4}; !slices.Equal(k.dumps, want) {
		t.Errorf("probes %v, want %v", k.dumps, want)
	}
	if want := []StateSet{0, 0}; !slices.Equal(k.states, want) {
		t.Errorf("probes asked for states %v, want none: a probe needs no table walked", k.states)
	}
	k.dumps = nil
	snap, err := c.Collect(Query{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Family{IPv4, IPv6}; !slices.Equal(k.dumps, want) {
		t.Errorf("a snapshot dumps %v, want %v", k.dumps, want)
	}
	if snap.Total != len(k.socks) || snap.States[Listen] != 2 || snap.States[TimeWait] != 1 {
		t.Errorf("%d sockets, states %v: want all %d", snap.Total, snap.States, len(k.socks))
	}
}
