package tuning

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/internal/sysctl"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// kernelState reads every known tunable of this namespace, exactly as
// the kernel prints it.
func kernelState(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range Known() {
		b, err := sysctl.ReadFile("/proc/sys/" + k.Path())
		if err == nil {
			out[k.Key] = string(b)
		}
	}
	return out
}

func diffState(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, fmt.Sprintf("%s: %q → %q", k, v, b[k]))
		}
	}
	return d
}

func nsSystem(t *testing.T, dir string) *System {
	t.Helper()
	return New(Options{StateFile: filepath.Join(dir, "state.json"), AuditLog: filepath.Join(dir, "audit.log"), Netns: "test"})
}

// TestIntegrationNormalisedValues: the kernel sorts and merges port lists;
// read-back compares the way it does, and undo restores byte for byte a
// reserved list longer than os.ReadFile's first read.
func TestIntegrationNormalisedValues(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	s := nsSystem(t, t.TempDir())
	apply := func(as ...string) {
		t.Helper()
		p, err := s.Plan(assign(t, as...))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(p); err != nil {
			t.Fatal(err)
		}
	}
	undo := func() {
		t.Helper()
		u, err := s.PlanUndo()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Undo(u); err != nil {
			t.Fatal(err)
		}
	}

	before := kernelState(t)
	apply("net.ipv4.ip_local_reserved_ports=9000,8080,8081")
	if got := kernelState(t)["net.ipv4.ip_local_reserved_ports"]; got != "8080-8081,9000\n" {
		t.Fatalf("kernel stores %q", got)
	}
	undo()
	if d := diffState(before, kernelState(t)); len(d) > 0 {
		t.Fatalf("after undo: %v", d)
	}

	// A 4 KiB list: every other port from 40001, well past 512 bytes.
	var ports []string
	for p := 40001; len(strings.Join(ports, ",")) < 4096; p += 2 {
		ports = append(ports, strconv.Itoa(p))
	}
	apply("net.ipv4.ip_local_reserved_ports=" + strings.Join(ports, ","))
	long := kernelState(t)["net.ipv4.ip_local_reserved_ports"]
	if len(long) < 4096 {
		t.Fatalf("the kernel holds %d bytes of reserved ports", len(long))
	}
	// Snapshots read it whole.
	pr, err := tcpinfo.ReadPortRange("/proc/sys")
	if err != nil {
		t.Fatalf("port range with a 4 KiB reserved list: %v", err)
	}
	if want := 60999 - 32768 + 1 - len(ports); pr.Capacity() != want {
		t.Fatalf("capacity %d, want %d", pr.Capacity(), want)
	}
	// Set and undo over it: the list comes back byte for byte.
	apply("net.ipv4.ip_local_reserved_ports=20")
	undo()
	if got := kernelState(t)["net.ipv4.ip_local_reserved_ports"]; got != long {
		t.Fatalf("after set and undo the list is %d bytes, was %d (first difference matters: %.60q)", len(got), len(long), got)
	}
}

// TestIntegrationConcurrentBatches: two batches at once on one state file,
// 100 times. The lock makes one wait for the other; the one that planned
// from values that changed meanwhile is refused with nothing changed; the
// record always agrees with the kernel, and undo restores the start.
func TestIntegrationConcurrentBatches(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	dir := t.TempDir()
	start := kernelState(t)
	for round := range 100 {
		a, b := nsSystem(t, dir), nsSystem(t, dir)
		pa, err := a.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30", "net.ipv4.tcp_syncookies=2"))
		if err != nil {
			t.Fatal(err)
		}
		pb, err := b.Plan(assign(t, "net.ipv4.tcp_fin_timeout=40", "net.core.somaxconn=1000"))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var errA, errB error
		wg.Go(func() { errA = a.Apply(pa) })
		wg.Go(func() { errB = b.Apply(pb) })
		wg.Wait()
		var won Plan
		switch {
		case errA == nil && errB == nil:
			t.Fatalf("round %d: both batches said done although they planned from the same values", round)
		case errA == nil:
			won = pa
		case errB == nil:
			won = pb
		default:
			t.Fatalf("round %d: both refused: %v / %v", round, errA, errB)
		}
		for _, err := range []error{errA, errB} {
			var ce *ChangedError
			if err != nil && (errors.As(err, &ce) || !strings.Contains(err.Error(), "nothing changed")) {
				t.Fatalf("round %d: the loser must change nothing: %v", round, err)
			}
		}
		now := kernelState(t)
		for _, c := range won.Changes {
			if strings.TrimSpace(now[c.Key]) != c.New {
				t.Fatalf("round %d: %s is %q, the winner set %q", round, c.Key, now[c.Key], c.New)
			}
		}
		for k, v := range start {
			if !won.touches(k) && now[k] != v {
				t.Fatalf("round %d: %s changed to %q by the refused batch", round, k, now[k])
			}
		}
		u, err := a.PlanUndo()
		if err != nil {
			t.Fatalf("round %d: the record disagrees with the kernel: %v", round, err)
		}
		if err := a.Undo(u); err != nil {
			t.Fatal(err)
		}
		if d := diffState(start, kernelState(t)); len(d) > 0 {
			t.Fatalf("round %d: after undo: %v", round, d)
		}
	}
}

func (p Plan) touches(key string) bool {
	for _, c := range p.Changes {
		if c.Key == key {
			return true
		}
	}
	return false
}

// TestIntegrationLockNamesHolder: a second tcpdash waits, then refuses
// naming the holder's pid.
func TestIntegrationLockNamesHolder(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	dir := t.TempDir()
	holder := nsSystem(t, dir)
	inside, release := make(chan struct{}), make(chan struct{})
	holder.afterWrite = func(string) { close(inside); <-release }
	p, _ := holder.Plan(assign(t, "net.ipv4.tcp_fin_timeout=30"))
	done := make(chan error)
	go func() { done <- holder.Apply(p) }()
	<-inside
	other := New(Options{StateFile: filepath.Join(dir, "state.json"), AuditLog: filepath.Join(dir, "audit.log"),
		Netns: "test", LockWait: 100 * time.Millisecond})
	p2, _ := other.Plan(assign(t, "net.core.somaxconn=1000"))
	err := other.Apply(p2)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("tcpdash pid %d is changing sysctls", os.Getpid())) {
		t.Errorf("second batch while the first holds the lock: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := kernelState(t)["net.core.somaxconn"]; v != "4096\n" {
		t.Errorf("the refused batch changed somaxconn to %q", v)
	}
}

// TestIntegrationKilledBatch: a 5-key batch whose writes are slowed is
// killed with SIGKILL at random points, 20 times. After each, either
// nothing changed or tcpdash tune undo restores every key.
func TestIntegrationKilledBatch(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	batch := []string{"net.ipv4.tcp_fin_timeout=30", "net.ipv4.tcp_tw_reuse=1", "net.ipv4.tcp_syncookies=2",
		"net.core.somaxconn=1000", "net.ipv4.ip_local_port_range=20000 50001"}
	dir := os.Getenv("TCPDASH_KILL_DIR")
	if dir != "" { // the child: apply slowly until killed
		s := nsSystem(t, dir)
		s.afterWrite = func(string) { time.Sleep(20 * time.Millisecond) }
		p, err := s.Plan(assign(t, batch...))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("applying")
		if err := s.Apply(p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
	}
	start := kernelState(t)
	var interrupted int
	for try := range 20 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
		cmd.Env = append(os.Environ(), "TCPDASH_KILL_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		for !strings.Contains(string(buf), "applying") {
			if _, err := out.Read(buf); err != nil {
				t.Fatalf("child: %v", err)
			}
		}
		// Five writes of 20 ms each: kill anywhere from before the first
		// to after the last.
		time.Sleep(time.Duration(rand.IntN(130)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		s := nsSystem(t, dir)
		if msg, _ := s.Interrupted(); msg != "" {
			interrupted++
		}
		u, err := s.PlanUndo()
		switch {
		case err != nil && strings.Contains(err.Error(), "nothing to undo"):
			if d := diffState(start, kernelState(t)); len(d) > 0 {
				t.Fatalf("try %d: no record, yet keys changed: %v", try, d)
			}
			continue
		case err != nil:
			t.Fatalf("try %d: %v", try, err)
		}
		if err := s.Undo(u); err != nil {
			t.Fatalf("try %d: undo: %v", try, err)
		}
		if d := diffState(start, kernelState(t)); len(d) > 0 {
			t.Fatalf("try %d: after undo: %v", try, d)
		}
	}
	t.Logf("%d of 20 kills interrupted a batch", interrupted)
	if interrupted == 0 {
		t.Error("no kill landed inside a batch: the test did not test anything")
	}
}
