package watch

import (
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationFleetBound: a fleet holds at most its bound of namespaces
// open (each costs descriptors) and counts the rest; one that goes away
// makes room for one left out.
func TestIntegrationFleetBound(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	runtime.LockOSThread() // Pdeathsig follows the forking thread
	defer runtime.UnlockOSThread()
	var procs []*exec.Cmd
	for range 5 {
		c := exec.Command("sleep", "60")
		c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		procs = append(procs, c)
	}
	fl, err := NewFleet(Options{Top: 10, Max: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	// The fleet sees this test's processes alone: a /proc of links to
	// theirs, and no named namespaces. The host's own (containers, a
	// benchmark's named namespace) would change the counts.
	view := t.TempDir()
	pids := []int{os.Getpid()}
	for _, c := range procs {
		pids = append(pids, c.Process.Pid)
	}
	for _, pid := range pids {
		if err := os.Symlink("/proc/"+strconv.Itoa(pid), view+"/"+strconv.Itoa(pid)); err != nil {
			t.Fatal(err)
		}
	}
	fl.finder.ProcRoot, fl.finder.NamedDirs = view, nil
	if err := fl.Refresh(io.Discard); err != nil {
		t.Fatal(err)
	}
	// Six namespaces: this test's own and five.
	if n, s := len(fl.Members()), fl.Skipped(); n != 3 || s != 3 {
		t.Fatalf("%d members, %d skipped; want 3 held and 3 counted", n, s)
	}
	held := map[string]bool{}
	for _, m := range fl.Members() {
		held[m.Watched.ID()] = true
	}
	// A held namespace's last process goes: its place is free again.
	for _, c := range procs {
		if l, _ := os.Readlink("/proc/" + strconv.Itoa(c.Process.Pid) + "/ns/net"); held[l] {
			c.Process.Kill()
			c.Wait()
			break
		}
	}
	if err := fl.Refresh(io.Discard); err != nil {
		t.Fatal(err)
	}
	if n, s := len(fl.Members()), fl.Skipped(); n != 3 || s != 2 {
		t.Errorf("after one went: %d members, %d skipped; want 3 and 2", n, s)
	}
}
