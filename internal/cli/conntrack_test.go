package cli

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

const (
	conntrackMax = "/proc/sys/net/netfilter/nf_conntrack_max"
	// conntrackRestore keeps the host's value while the test has lowered
	// it (/var/tmp survives a reboot's tmpfs /tmp, and a kill -9).
	conntrackRestore = "/var/tmp/tcpdash-test-nf_conntrack_max"
)

// TestIntegrationConntrackFull fills a namespace's conntrack table and
// holds tcpdash's count, limit and drops to conntrack -C and -S inside
// it, and its finding to naming conntrack.
//
// nf_conntrack_max is read-only inside any namespace but the host's, and
// bounds each namespace's table by itself: this test lowers the HOST's
// value to 64 for its few seconds (a host-only key), and restores it on
// every exit path it can (a killed test cannot). It runs only where the
// host itself tracks almost nothing, so that no host connection is
// dropped meanwhile.
func TestIntegrationConntrackFull(t *testing.T) {
	if !netns.Inside() {
		netns.Require(t, os.Geteuid() == 0, "lowering nf_conntrack_max needs root")
		_, errNft := exec.LookPath("nft")
		_, errCt := exec.LookPath("conntrack")
		netns.Require(t, errNft == nil && errCt == nil, "nft and conntrack (nftables, conntrack) are needed")
		was, err := os.ReadFile(conntrackMax)
		if err != nil {
			netns.Require(t, false, "no connection tracking in this kernel: "+err.Error())
		}
		// The value to restore is kept on disk first: a test killed with
		// -9 cannot run its defer, and the next run puts it back before
		// anything else.
		if old, err := os.ReadFile(conntrackRestore); err == nil {
			was = old
		} else if err := os.WriteFile(conntrackRestore, was, 0o600); err != nil {
			t.Fatal(err)
		}
		restore := func() {
			if err := os.WriteFile(conntrackMax, was, 0o644); err == nil {
				os.Remove(conntrackRestore)
			}
		}
		defer restore()
		if n, _ := os.ReadFile("/proc/sys/net/netfilter/nf_conntrack_count"); strings.TrimSpace(string(n)) != "0" {
			t.Skipf("the host tracks %s connections: lowering nf_conntrack_max would drop some", strings.TrimSpace(string(n)))
		}
		if err := os.WriteFile(conntrackMax, []byte("64"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !netns.Run(t) {
		return
	}
	// Track this namespace's connections.
	netns.Nft(t,
		"add table inet track",
		"add chain inet track in { type filter hook input priority 0 ; }",
		"add rule inet track in ct state new counter accept",
	)
	// Accepted connections are held open: each keeps its entry.
	var held []int
	var mu sync.Mutex
	stop, err := loadgen.Serve(netip.MustParseAddrPort("127.0.0.9:3306"), func(fd int) {
		mu.Lock()
		held = append(held, fd)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop()
		mu.Lock()
		defer mu.Unlock()
		for _, fd := range held {
			unix.Close(fd)
		}
	}()
	// 64 entries fill the table; the connects past it are dropped.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 90 {
		if c, err := net.DialTimeout("tcp", "127.0.0.9:3306", 100*time.Millisecond); err == nil {
			conns = append(conns, c)
		}
	}
	if len(conns) >= 90 {
		t.Fatalf("%d connections made: the table did not fill", len(conns))
	}
	out, _, err := runCLI(t, "--once", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Conntrack *struct {
			Count, Max, Drop, InsertFailed uint64
		}
		Findings []struct{ Kind, Title string }
	}
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Conntrack == nil {
		t.Fatal("no conntrack in the JSON")
	}
	count := ctTool(t, `^(\d+)$`, "-C")
	drop := ctTool(t, `drop=(\d+)`, "-S")
	if snap.Conntrack.Count != count || snap.Conntrack.Max != 64 || snap.Conntrack.Drop != drop || drop == 0 {
		t.Errorf("conntrack %+v; conntrack -C %d, -S drop %d, max 64", *snap.Conntrack, count, drop)
	}
	named := false
	for _, f := range snap.Findings {
		named = named || strings.HasPrefix(f.Kind, "conntrack_")
	}
	if !named {
		t.Errorf("no conntrack finding: %+v", snap.Findings)
	}
	t.Logf("%d connections made of 90; conntrack %+v", len(conns), *snap.Conntrack)
}

// ctTool sums the numbers pattern finds in conntrack's output.
func ctTool(t *testing.T, pattern string, args ...string) uint64 {
	t.Helper()
	out, err := exec.Command("conntrack", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("conntrack %v: %v: %s", args, err, out)
	}
	var sum uint64
	for _, m := range regexp.MustCompile("(?m)"+pattern).FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		sum += n
	}
	return sum
}
