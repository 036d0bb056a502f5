package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/cgroups"
	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationCgroupsAndTimeWaitOwners: a client in a scratch cgroup
// holds 300 connections, then closes them first and lives on. While open, the dump's
// cgroup ids attribute them to its cgroup; once closed, the --json stream
// still names its pid and cgroup for at least 90% of the TIME_WAIT
// sockets, by the cookies remembered while they were open.
func TestIntegrationCgroupsAndTimeWaitOwners(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	mount, _, err := cgroups.FindMount("/proc/self/mountinfo")
	netns.Require(t, err == nil, "no cgroup2 mount here")
	scratch := filepath.Join(mount, fmt.Sprintf("tcpdash-test-%d", os.Getpid()))
	if err := os.Mkdir(scratch, 0o755); err != nil {
		netns.Require(t, false, "cannot make a scratch cgroup: "+err.Error())
	}
	t.Cleanup(func() {
		// Empty once its process has exited; rmdir may need a moment.
		for i := 0; i < 50 && os.Remove(scratch) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})

	server := netip.MustParseAddrPort("127.0.0.9:7000")
	loadgen.ClosingServer(t, server)
	pid, stdin := loadgen.StartLeakerIn(t, "client-app", server, 300, scratch)
	name := filepath.Base(scratch)

	type line struct {
		Processes []struct {
			PID    int
			Cgroup string
			States map[string]int
		}
		Cgroups []struct {
			Path, Name string
			States     map[string]int
		}
		PortPressure []struct {
			RemotePort int `json:"remote_port"`
			Opener     struct {
				PID    int
				Cgroup string
			}
		} `json:"port_pressure"`
		Owners struct {
			KernelUnowned struct {
				TimeWait           int `json:"time_wait"`
				TimeWaitRemembered int `json:"time_wait_remembered"`
			} `json:"kernel_unowned"`
		}
	}
	// --filter 'cgroup PATH' selects the client's sockets, in the kernel,
	// as ss does for the same words.
	netns.WaitFor(t, "the client's 300 connections", func() bool {
		out, _ := exec.Command("ss", "-tanH", "cgroup", "/"+name).Output()
		return strings.Count(string(out), "\n") == 300
	})
	byCgroup, _, err := runCLI(t, "--once", "--json", "--processes=false", "--filter", "cgroup /"+name)
	must(t, err)
	var filtered struct {
		Total  int
		States map[string]int
	}
	must(t, json.Unmarshal([]byte(byCgroup), &filtered))
	if filtered.Total != 300 || filtered.States["ESTABLISHED"] != 300 {
		t.Errorf("--filter 'cgroup /%s': %d sockets (%v), ss lists 300", name, filtered.Total, filtered.States)
	}

	// The stream sees the connections open, then closed.
	done := make(chan string)
	go func() {
		out, _, err := runCLIContext(context.Background(), t, "--json", "--count", "20", "--interval", "250ms")
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	time.Sleep(1200 * time.Millisecond)
	io.WriteString(stdin, "close\n") // the client closes first, and lives on
	out := <-done
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var first, last line
	must(t, json.Unmarshal([]byte(lines[0]), &first))
	must(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))

	cgroupState := func(l line, st string) int {
		for _, c := range l.Cgroups {
			if strings.HasSuffix(c.Path, "/"+name) && c.Name == name {
				return c.States[st]
			}
		}
		return 0
	}
	processState := func(l line, st string) (int, string) {
		for _, p := range l.Processes {
			if p.PID == pid {
				return p.States[st], p.Cgroup
			}
		}
		return 0, ""
	}
	if n := cgroupState(first, "ESTABLISHED"); n != 300 {
		t.Errorf("while open: the scratch cgroup holds %d ESTABLISHED, want 300 (cgroups %+v)", n, first.Cgroups)
	}
	if n, cg := processState(first, "ESTABLISHED"); n != 300 || cg != name {
		t.Errorf("while open: pid %d holds %d ESTABLISHED in cgroup %q, want 300 in %q", pid, n, cg, name)
	}
	// Every TIME_WAIT here is the client's (a few may still be closing).
	tw := last.Owners.KernelUnowned.TimeWait
	if tw < 270 {
		t.Fatalf("after the close: %d TIME_WAIT, want nearly the client's 300", tw)
	}
	want := tw * 9 / 10
	if n := cgroupState(last, "TIME_WAIT"); n < want {
		t.Errorf("after the close: %d of %d TIME_WAIT attributed to the client's cgroup, want at least 90%%", n, tw)
	}
	if n, _ := processState(last, "TIME_WAIT"); n < want {
		t.Errorf("after the close: %d of %d TIME_WAIT attributed to pid %d, want at least 90%%", n, tw, pid)
	}
	if r := last.Owners.KernelUnowned.TimeWaitRemembered; r < want {
		t.Errorf("owners say %d of %d TIME_WAIT remembered, want at least 90%%", r, tw)
	}
	// The destination's opener is the client, by pid and cgroup.
	if pp := last.PortPressure; len(pp) == 0 || pp[0].RemotePort != 7000 || pp[0].Opener.PID != pid || pp[0].Opener.Cgroup != name {
		t.Errorf("port pressure %+v: want the group to :7000 opened by pid %d in %s", pp, pid, name)
	}
	// A single snapshot cannot see the past, and says so by counting none.
	once, _, err := runCLI(t, "--once", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var single line
	must(t, json.Unmarshal([]byte(once), &single))
	if single.Owners.KernelUnowned.TimeWaitRemembered != 0 || cgroupState(single, "TIME_WAIT") != 0 {
		t.Errorf("--once remembers owners it never saw: %+v", single.Owners)
	}
}
