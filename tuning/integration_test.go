package tuning

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationKernel writes real sysctls, inside a private network
// namespace only: the kernel's own validation and read-back.
func TestIntegrationKernel(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	state := t.TempDir()
	s := New(Options{StateFile: filepath.Join(state, "batch.json"), AuditLog: filepath.Join(state, "audit.log"), Netns: "test"})
	read := func(k string) string {
		b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(k, ".", "/"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(b)), " ")
	}

	p, err := s.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	if got := read("net.ipv4.tcp_fin_timeout"); got != "30" {
		t.Fatalf("tcp_fin_timeout %s after apply", got)
	}

	// The kernel refuses a range below ip_unprivileged_port_start, which
	// tcpdash's own check lets through: a real failure in mid-batch.
	p, err = s.Plan(assign(t, "net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=500 60000", "net.ipv4.tcp_syncookies=2"))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Apply(p)
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), `net.ipv4.ip_local_port_range: the kernel rejected "500 60000" (EINVAL)`) {
		t.Fatalf("error %v", err)
	}
	for k, want := range map[string]string{"net.ipv4.tcp_tw_reuse": "2", "net.ipv4.ip_local_port_range": "32768 60999", "net.ipv4.tcp_syncookies": "1"} {
		if got := read(k); got != want {
			t.Errorf("%s is %s after the failed batch, want %s", k, got, want)
		}
	}

	// Undo still refers to the last batch that succeeded.
	u, err := s.PlanUndo()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Undo(u); err != nil {
		t.Fatal(err)
	}
	if got := read("net.ipv4.tcp_fin_timeout"); got != "60" {
		t.Errorf("tcp_fin_timeout %s after undo, want 60", got)
	}

	// Global sysctls are not in a non-initial namespace at all.
	settings, err := s.Settings()
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range settings {
		if st.Key == "net.ipv4.tcp_max_orphans" && st.Exists {
			t.Error("tcp_max_orphans is global and should not show in a private namespace")
		}
	}
	if _, err := s.Plan(assign(t, "net.ipv4.tcp_max_orphans=1000")); err == nil || !strings.Contains(err.Error(), "not on this kernel") {
		t.Errorf("global key in a namespace: %v", err)
	}
}
