package namespaces

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// A Handle holds a namespace open while tcpdash watches it: a descriptor
// to create netlink sockets in it, and to enter it, on a thread of its
// own, for what /proc resolves by the reader's namespace (/proc/sys, and
// /proc/thread-self/net). The thread lives for one Do: a fleet of
// namespaces holds no thread between polls. Close it when done: an open
// handle keeps the namespace alive.
type Handle struct {
	ns   Namespace
	file *os.File
	done chan struct{}
}

// Enter opens ns and checks that it is what was resolved; Do enters it.
func Enter(ns Namespace) (*Handle, error) {
	f, err := os.Open(ns.Path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", ns, err)
	}
	// What was opened must be what was resolved: between the two, pid N
	// may have exited and its number gone to a process elsewhere, or a
	// path may have been bind-mounted anew. Nothing is read or written
	// through a namespace that is not the one the label names.
	if err := checkOpened(f, ns); err != nil {
		f.Close()
		return nil, err
	}
	h := &Handle{ns: ns, file: f, done: make(chan struct{})}
	// Enter once now, so that a namespace that cannot be entered is
	// refused here rather than at its first poll.
	if err := h.Do(func() error { return nil }); err != nil {
		f.Close()
		return nil, err
	}
	return h, nil
}

// run is one Do's thread inside the namespace. It is never the main
// thread: /proc/PID/ns/net and /proc/PID/net follow the thread-group
// leader, so a main thread moved into another namespace would move the
// whole process in /proc's eyes (and Go never retires the main thread).
// On the main thread it hands over to another and waits until that one is
// locked, so that the other cannot be scheduled onto the main thread too.
func (h *Handle) run(fn func() error, errc chan<- error, locked chan<- struct{}) {
	runtime.LockOSThread()
	if locked != nil {
		close(locked)
	}
	if unix.Gettid() == unix.Getpid() {
		other := make(chan struct{})
		go h.run(fn, errc, other)
		<-other
		runtime.UnlockOSThread()
		return
	}
	// Never unlocked: when this goroutine ends, Go retires the thread, and
	// the namespace it entered with it.
	if err := unix.Setns(int(h.file.Fd()), unix.CLONE_NEWNET); err != nil {
		errc <- fmt.Errorf("enter network namespace %s: %w", h.ns, err)
		return
	}
	errc <- fn()
}

// Namespace is the namespace held.
func (h *Handle) Namespace() Namespace { return h.ns }

// NetNSFD is a descriptor of the namespace, for netlink.Config.NetNS.
func (h *Handle) NetNSFD() int { return int(h.file.Fd()) }

// Do runs fn on a thread inside the namespace, a thread of its own that
// ends with it.
func (h *Handle) Do(fn func() error) error {
	select {
	case <-h.done:
		return fmt.Errorf("network namespace %s: handle closed", h.ns)
	default:
	}
	errc := make(chan error, 1)
	go h.run(fn, errc, nil)
	return <-errc
}

// Close releases the namespace.
func (h *Handle) Close() error {
	close(h.done)
	return h.file.Close()
}

// checkOpened verifies that f is a network namespace (NS_GET_NSTYPE) and
// the very one ns was resolved to (its inode, and the nsfs device).
func checkOpened(f *os.File, ns Namespace) error {
	t, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil {
		return fmt.Errorf("%s is not a namespace file: %w", ns.Path, err)
	}
	if t != unix.CLONE_NEWNET {
		return fmt.Errorf("%s is not a network namespace", ns.Path)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat %s: %w", ns.Path, err)
	}
	if ns.Inode != 0 && st.Ino != ns.Inode {
		return fmt.Errorf("%s changed while it was opened (net:[%d], resolved as net:[%d]): the process may have exited; try again", ns.Path, st.Ino, ns.Inode)
	}
	return nil
}

// Cookie reads the network namespace's cookie (SO_NETNS_COOKIE, Linux
// 5.14): unlike its inode, Linux never gives a gone namespace's cookie to
// another. do runs the read inside the namespace (Handle.Do), or nil for
// the caller's own. 0 with an error where the kernel lacks it.
func Cookie(do func(func() error) error) (uint64, error) {
	if do == nil {
		do = func(fn func() error) error { return fn() }
	}
	var cookie uint64
	err := do(func() error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		cookie, err = unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("network namespace cookie: %w", err)
	}
	return cookie, nil
}
