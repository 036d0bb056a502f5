package namespaces

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationEnterKeepsMainThread: entering a namespace never moves the
// main thread, whose namespace /proc/PID/ns/net shows for the whole
// process. Once it did, one run in 25: a goroutine that locked the main
// thread and called setns moved the process in /proc's eyes for good.
func TestIntegrationEnterKeepsMainThread(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	runtime.LockOSThread() // Pdeathsig follows the forking thread
	defer runtime.UnlockOSThread()
	other := exec.Command("sleep", "60")
	other.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	f := NewFinder()
	ns, err := f.Resolve(fmt.Sprintf("pid:%d", other.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	// Many at once, so that now and then one lands on the main thread.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				h, err := Enter(ns)
				if err != nil {
					errs <- err
					return
				}
				var inside string
				err = h.Do(func() (err error) { inside, err = os.Readlink("/proc/thread-self/ns/net"); return err })
				h.Close()
				switch {
				case err != nil:
					errs <- err
					return
				case inside != ns.ID():
					errs <- fmt.Errorf("the handle's thread is in %s, not %s", inside, ns.ID())
					return
				}
				if now, _ := os.Readlink("/proc/self/ns/net"); now != own {
					errs <- fmt.Errorf("the process moved from %s to %s", own, now)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
