package tcpinfo

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// Cut from a 6.x kernel's files: the tables tcpdash reads among others it
// does not, MaxConn's -1, and TcpExt's names split over two tables as a
// kernel may print them.
const (
	testSockstat = `sockets: used 231
TCP: inuse 12 orphan 3 tw 405 alloc 19 mem 7
UDP: inuse 2 mem 4
FRAG: inuse 0 memory 0
`
	testSockstat6 = `TCP6: inuse 9
UDP6: inuse 1
`
	testSnmp = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 18446744073709551615
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 431 30 2 1 90 5000 5100 17 3 44 0
Udp: InDatagrams NoPorts
Udp: 10 0
`
	testNetstat = `TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed PruneCalled RcvPruned TW TWRecycled TWKilled ListenOverflows ListenDrops TCPTimeouts TCPAbortOnData
TcpExt: 1 2 3 4 5 400 6 7 8 9 10 11
IpExt: InNoRoutes InTruncatedPkts
IpExt: 0 0
TcpExt: TCPAbortOnClose TCPAbortOnMemory TCPAbortOnTimeout TCPAbortOnLinger TCPSynRetrans TCPTimeWaitOverflow TCPReqQFullDrop TCPReqQFullDoCookies TCPMemoryPressures TCPBacklogDrop
TcpExt: 12 13 14 15 16 17 18 19 20 21
`
)

func writeNet(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, "net", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadCountersAt(t *testing.T) {
	dir := writeNet(t, map[string]string{"sockstat": testSockstat, "sockstat6": testSockstat6, "snmp": testSnmp, "netstat": testNetstat})
	got, err := ReadCountersAt(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Counters{
		InUse: 12, InUse6: 9, Orphan: 3, TWSockets: 405, Alloc: 19, Mem: 7,
		CurrEstab: 90, ActiveOpens: 431, PassiveOpens: 30, AttemptFails: 2, EstabResets: 1,
		OutSegs: 5100, RetransSegs: 17, InErrs: 3, OutRsts: 44,
		SyncookiesSent: 1, SyncookiesRecv: 2, SyncookiesFailed: 3, PruneCalled: 4, RcvPruned: 5,
		TW: 400, TWRecycled: 6, TWKilled: 7, ListenOverflows: 8, ListenDrops: 9, TCPTimeouts: 10,
		TCPAbortOnData: 11, TCPAbortOnClose: 12, TCPAbortOnMemory: 13, TCPAbortOnTimeout: 14,
		TCPAbortOnLinger: 15, TCPSynRetrans: 16, TCPTimeWaitOverflow: 17, TCPReqQFullDrop: 18,
		TCPReqQFullDoCookies: 19, TCPMemoryPressures: 20, TCPBacklogDrop: 21,
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}

	// Without IPv6 there is no sockstat6: no IPv6 sockets, not an error.
	dir = writeNet(t, map[string]string{"sockstat": testSockstat, "snmp": testSnmp, "netstat": testNetstat})
	if got, err := ReadCountersAt(dir); err != nil || got.InUse6 != 0 || got.InUse != 12 {
		t.Errorf("without sockstat6: %+v, %v; want inuse 12, inuse6 0", got, err)
	}
}

func TestReadCountersAtRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, file, text, want string
	}{
		{"names without values", "snmp", "Tcp: ActiveOpens PassiveOpens\n", "not followed by its values"},
		{"values of another table", "snmp", "Tcp: ActiveOpens PassiveOpens\nUdp: 1 2\n", "not followed by its values"},
		{"a value short", "snmp", "Tcp: ActiveOpens PassiveOpens\nTcp: 1\n", "2 names and 1 values"},
		{"a word for a number", "netstat", "TcpExt: TW\nTcpExt: many\n", "TW: strconv.ParseUint"},
		{"an odd sockstat line", "sockstat", "TCP: inuse 1 orphan\n", "3 fields"},
		{"a negative word", "sockstat", "TCP: inuse -x\n", "inuse: strconv.ParseInt"},
		{"a huge file", "netstat", strings.Repeat("x", maxProcFile+1), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"sockstat": testSockstat, "snmp": testSnmp, "netstat": testNetstat}
			files[tc.file] = tc.text
			_, err := ReadCountersAt(writeNet(t, files))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error %v, want one naming %s and saying %q", err, tc.file, tc.want)
			}
		})
	}
}

// FuzzCounterFiles: any text in the counter files is read or refused,
// without a panic, in time linear in its size (bounded by maxProcFile).
func FuzzCounterFiles(f *testing.F) {
	f.Add([]byte(testSockstat), []byte(testSnmp+testNetstat))
	f.Add([]byte("TCP: inuse"), []byte("Tcp: a\nTcp: -1\nTcp:"))
	f.Fuzz(func(t *testing.T, sockstat, tables []byte) {
		var c Counters
		_ = c.parseSockstat(sockstat)
		_ = c.parseTables(tables)
	})
}

// TestIntegrationCountersMatchTheKernelsTools reads a namespace's
// counters and compares them with nstat's (the tables) and with the
// sockets ss lists (sockstat's gauges).
func TestIntegrationCountersMatchTheKernelsTools(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("nstat"), "nstat is not installed (Debian's iproute2)")
	pop, err := loadgen.Build(testSpec)
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()

	before, err := ReadCounters("/proc")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nstat", "--ignore", "--zeros", "--noupdate")
	cmd.Env = append(os.Environ(), "NSTAT_HISTORY="+filepath.Join(t.TempDir(), "history"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nstat: %v", err)
	}
	after, err := ReadCounters("/proc")
	if err != nil {
		t.Fatal(err)
	}
	nstat := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 {
			if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				nstat[f[0]] = v
			}
		}
	}
	if before.ActiveOpens < uint64(testSpec.TimeWait) || before.TW == 0 {
		t.Fatalf("counters %+v do not show the population", before)
	}
	for _, d := range RisingCounters() {
		name := "TcpExt" + d.Name
		if _, ok := nstat[name]; !ok {
			name = "Tcp" + d.Name
		}
		v, ok := nstat[name]
		if !ok {
			t.Errorf("nstat has no %s", d.Name)
			continue
		}
		// The namespace is quiet; a counter that moved between the reads
		// must have nstat's value within its move.
		if lo, hi := d.Value(before), d.Value(after); v < lo || v > hi {
			t.Errorf("%s: nstat %d, tcpdash %d then %d", d.Name, v, lo, hi)
		}
	}

	// sockstat's inuse counts each family's sockets in the hash tables
	// (not TIME_WAIT, which is tw with FIN_WAIT2's minisockets); nstat
	// leaves out the gauge CurrEstab, which counts ESTABLISHED and
	// CLOSE_WAIT.
	var inuse, inuse6, tw, estab int
	for _, r := range runSS(t) {
		if r.state == Established || r.state == CloseWait {
			estab++
		}
		switch {
		case r.state == TimeWait:
			tw++
		case r.ipv6:
			inuse6++
		default:
			inuse++
		}
	}
	if int(before.InUse) != inuse || int(before.InUse6) != inuse6 || int(before.TWSockets) != tw {
		t.Errorf("sockstat inuse %d, inuse6 %d, tw %d; ss lists %d, %d and %d TIME_WAIT",
			before.InUse, before.InUse6, before.TWSockets, inuse, inuse6, tw)
	}
	if int(before.CurrEstab) != estab {
		t.Errorf("CurrEstab %d; ss lists %d ESTABLISHED and CLOSE_WAIT", before.CurrEstab, estab)
	}
}
