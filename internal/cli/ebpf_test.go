package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/internal/openers"
)

// TestIntegrationEBPFNamesTheOpener is the load test tcpdash exists for:
// a process opens and closes connections per request, each living well
// under a millisecond, at 300/s. tcpdash --json, watching its namespace
// from outside with eBPF, names it as the opener of the destination's
// TIME_WAIT (at least 90% of them, with its cgroup), and counts its
// closes per second to within 10% of the load's. The namespace is
// entered from here because eBPF cannot be loaded from inside a user
// namespace; run as root, the test needs no other privilege.
func TestIntegrationEBPFNamesTheOpener(t *testing.T) {
	netns.Require(t, os.Geteuid() == 0, "eBPF needs root")
	if s, err := openers.Load(); err != nil {
		netns.Require(t, false, "eBPF: "+err.Error())
	} else {
		s.Close()
	}
	tcpload := filepath.Join(t.TempDir(), "tcpload")
	if out, err := exec.Command("go", "build", "-o", tcpload, "github.com/tcpdash/tcpdash/cmd/tcpload").CombinedOutput(); err != nil {
		t.Fatalf("go build tcpload: %v\n%s", err, out)
	}
	load := exec.Command(tcpload, "--netns", "--churn", "300", "--client-closes")
	stderr, _ := load.StderrPipe()
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	// Killed, its child in the namespace follows (Pdeathsig); an
	// interrupt would reach only the parent, which waits for the child.
	t.Cleanup(func() { load.Process.Kill(); load.Wait() })
	// "tcpload: built … (pid N)": the process inside, which churns.
	var pid int
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := regexp.MustCompile(`\(pid (\d+)\)`).FindStringSubmatch(sc.Text()); m != nil {
			pid, _ = strconv.Atoi(m[1])
			break
		}
	}
	if pid == 0 {
		t.Fatal("tcpload did not say its pid")
	}
	go func() {
		for sc.Scan() {
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// 12 snapshots: the first TIME_WAIT are 12 s old, the rate has settled.
	out, errOut, err := runCLIContext(ctx, t, "--json", "--count", "12", "--netns", fmt.Sprintf("pid:%d", pid), "--ebpf", "on")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The load's own rate, from the namespace's ActiveOpens over the last
	// five snapshots (the smoothed rate's window): under a busy machine
	// the load makes less than it asks.
	var first, last struct {
		Time     time.Time
		Counters struct{ ActiveOpens uint64 }
	}
	json.Unmarshal([]byte(lines[len(lines)-6]), &first)
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	loadRate := float64(last.Counters.ActiveOpens-first.Counters.ActiveOpens) / last.Time.Sub(first.Time).Seconds()
	var snap struct {
		States    map[string]int
		Processes []struct {
			PID    int
			States map[string]int
		}
		PortPressure []struct {
			RemoteAddr string  `json:"remote_addr"`
			RemotePort int     `json:"remote_port"`
			ClosesPerS float64 `json:"closes_per_s"`
			Opener     *struct {
				PID     int
				Command string
				Cgroup  string
				Sockets int
			}
		} `json:"port_pressure"`
		Owners struct {
			Source       string
			FromOpener   int `json:"from_opener"`
			TWFromOpener int `json:"time_wait_from_opener"`
			EBPFLost     int `json:"ebpf_lost"`
		}
		Findings []struct{ Evidence []string }
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &snap); err != nil {
		t.Fatal(err)
	}
	tw := snap.States["TIME_WAIT"]
	var named int
	for _, p := range snap.Processes {
		if p.PID == pid {
			named = p.States["TIME_WAIT"]
		}
	}
	if snap.Owners.Source != "ebpf+proc" || snap.Owners.EBPFLost != 0 {
		t.Errorf("owners %+v", snap.Owners)
	}
	if tw < 2000 || float64(named) < 0.9*float64(tw) {
		t.Errorf("TIME_WAIT %d, named as tcpload's (pid %d) %d: want at least 90%%", tw, pid, named)
	}
	found := false
	for _, g := range snap.PortPressure {
		if g.RemoteAddr != "127.0.0.250" || g.RemotePort != 7000 {
			continue
		}
		found = true
		if g.Opener == nil || g.Opener.PID != pid || g.Opener.Sockets < named {
			t.Errorf("the destination's opener %+v, want tcpload (pid %d)", g.Opener, pid)
		}
		if math.Abs(g.ClosesPerS-loadRate) > 0.1*loadRate {
			t.Errorf("closes/s %.1f, the load made %.1f/s", g.ClosesPerS, loadRate)
		}
		t.Logf("TIME_WAIT %d, %d named as pid %d; opener %+v; closes/s %.1f", tw, named, pid, *g.Opener, g.ClosesPerS)
	}
	if !found {
		t.Errorf("no pressure row for 127.0.0.250:7000: %s", lines[len(lines)-1])
	}
}

// TestIntegrationWalkNamesTwoPollConnections: without eBPF, connections
// held open across two polls and then closed by their client are named in
// TIME_WAIT by the process that held them: the /proc walk runs at every
// poll while it is cheap, and a stream remembers what it saw open.
func TestIntegrationWalkNamesTwoPollConnections(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	to := netip.MustParseAddrPort("127.0.0.9:3306")
	loadgen.ClosingServer(t, to)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { // 20 connections every 500 ms, each held 1.2 s: open across two polls
		defer close(done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			var conns []net.Conn
			for range 20 {
				if c, err := net.Dial("tcp", to.String()); err == nil {
					conns = append(conns, c)
				}
			}
			time.AfterFunc(1200*time.Millisecond, func() {
				for _, c := range conns {
					c.Close()
				}
			})
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	out, errOut, err := runCLIContext(ctx, t, "--json", "--count", "10", "--interval", "500ms", "--ebpf", "off")
	cancel()
	<-done
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var snap struct {
		States    map[string]int
		Processes []struct {
			PID    int
			States map[string]int
		}
		Owners struct {
			Source     string
			SourceNote string `json:"source_note"`
		}
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &snap); err != nil {
		t.Fatal(err)
	}
	tw := snap.States["TIME_WAIT"]
	var named int
	for _, p := range snap.Processes {
		if p.PID == os.Getpid() {
			named = p.States["TIME_WAIT"]
		}
	}
	if tw < 100 || float64(named) < 0.9*float64(tw) {
		t.Errorf("TIME_WAIT %d, named as this process's %d: want at least 90%% without eBPF", tw, named)
	}
	if snap.Owners.Source != "proc" || !strings.Contains(snap.Owners.SourceNote, "--ebpf=off") {
		t.Errorf("owners %+v: want the walk alone, saying why", snap.Owners)
	}
	t.Logf("TIME_WAIT %d, %d named without eBPF", tw, named)
}
