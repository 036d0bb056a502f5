package namespaces

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
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

// TestIntegrationEnterChecksWhatItOpened: a namespace resolved, then its
// process gone and its pid's path now leading to another namespace (pid
// reuse), or a path that is not a network namespace at all: Enter refuses
// before anything is read or written through it.
func TestIntegrationEnterChecksWhatItOpened(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a, b := startInNewNetns(t), startInNewNetns(t)
	f := NewFinder()
	nsA, err := f.Resolve(fmt.Sprintf("pid:%d", a.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// As if pid A's number now named B's process: the path is B's.
	swapped := nsA
	swapped.Path = fmt.Sprintf("/proc/%d/ns/net", b.Process.Pid)
	if h, err := Enter(swapped); err == nil || !strings.Contains(err.Error(), "changed while it was opened") {
		if h != nil {
			h.Close()
		}
		t.Errorf("entering B under A's identity: %v, want a refusal", err)
	}
	notNet := nsA
	notNet.Path = fmt.Sprintf("/proc/%d/ns/mnt", a.Process.Pid)
	if h, err := Enter(notNet); err == nil || !strings.Contains(err.Error(), "not a network namespace") {
		if h != nil {
			h.Close()
		}
		t.Errorf("entering a mount namespace: %v, want a refusal", err)
	}
	if h, err := Enter(nsA); err != nil {
		t.Errorf("entering A as resolved: %v", err)
	} else {
		h.Close()
	}
}

// TestIntegrationCookie: every namespace has a cookie of its own, read
// inside it; the same namespace reads the same cookie twice.
func TestIntegrationCookie(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	other := startInNewNetns(t)
	ns, err := NewFinder().Resolve(fmt.Sprintf("pid:%d", other.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	h, err := Enter(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	own, err1 := Cookie(nil)
	theirs, err2 := Cookie(h.Do)
	again, err3 := Cookie(h.Do)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if own == 0 || theirs == 0 || own == theirs || theirs != again {
		t.Errorf("cookies: own %d, the other namespace's %d then %d", own, theirs, again)
	}
}

// startInNewNetns starts a process in a network namespace of its own, for
// as long as the test runs. The caller holds its OS thread locked:
// Pdeathsig follows the forking thread.
func startInNewNetns(t *testing.T) *exec.Cmd {
	t.Helper()
	c := exec.Command("sleep", "60")
	c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c
}
