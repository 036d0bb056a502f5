package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationOnceNamesBoth: one process leaks CLOSE_WAIT while
// connections to another destination run out of ports; --once names both,
// with the pid, the destination and the time left.
func TestIntegrationOnceNamesBoth(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	if _, _, err := runCLI(t, "tune", "set", "net.ipv4.tcp_tw_reuse=0", "net.ipv4.ip_local_port_range=40000 40999",
		"--yes", "--state-file", filepath.Join(t.TempDir(), "b"), "--audit-log", filepath.Join(t.TempDir(), "a")); err != nil {
		t.Fatal(err)
	}
	leakTo := netip.MustParseAddrPort("127.0.0.7:5432")
	loadgen.Server(t, leakTo)
	pid := loadgen.StartLeaker(t, "leaky-app", leakTo, 30)
	db := netip.MustParseAddrPort("127.0.0.5:3306")
	loadgen.ClosingServer(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go loadgen.Churn(ctx, db, 100)
	time.Sleep(5 * time.Second)

	out, _, err := runCLI(t, "--once")
	if err != nil {
		t.Fatal(err)
	}
	leak := fmt.Sprintf("pid %d (leaky-app) holds 30 CLOSE_WAIT sockets to 127.0.0.7:5432", pid)
	for _, want := range []string{"FINDINGS", leak, "connect() to 127.0.0.5:3306 from 127.0.0.1 will start failing with EADDRNOTAVAIL in about",
		"PROCESSES", "leaky-app"} {
		if !strings.Contains(out, want) {
			t.Errorf("--once lacks %q:\n%s", want, out)
		}
	}

	out, _, err = runCLI(t, "--once", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Findings []struct {
			Severity, Title, Detail string
			Evidence                []string
		}
		Processes []struct {
			PID     int
			Command string
			States  map[string]int
		}
	}
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, f := range snap.Findings {
		titles = append(titles, f.Title)
		if f.Severity == "" || f.Detail == "" || len(f.Evidence) == 0 {
			t.Errorf("finding %+v lacks a field", f)
		}
	}
	if all := strings.Join(titles, "\n"); !strings.Contains(all, leak) || !strings.Contains(all, "EADDRNOTAVAIL") {
		t.Errorf("JSON findings:\n%s", all)
	}
	found := false
	for _, p := range snap.Processes {
		found = found || p.PID == pid && p.Command == "leaky-app" && p.States["CLOSE_WAIT"] == 30
	}
	if !found {
		t.Errorf("JSON processes lack the leaker: %+v", snap.Processes)
	}
}
