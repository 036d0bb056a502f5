//go:build linux

package tcpinfo

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The sock_diag multicast groups of TCP destroy notifications
// (SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET6_TCP_DESTROY): a group n is bit
// n-1 of the subscription.
const (
	groupTCPDestroy  = 1
	groupTCP6Destroy = 3
)

// closeBuffer is the socket buffer asked for the notifications: each is
// about 100 bytes, so 8 MiB holds 80,000 closes between two reads.
const closeBuffer = 8 << 20

// maxPendingCloses bounds the events held between two polls; past it they
// are counted in Lost.
const maxPendingCloses = 1 << 20

// A closeWatch reads the kernel's TCP destroy notifications, the groups
// `ss -E` listens to, in one network namespace. The kernel sends one for
// every full socket it frees: a connection closed, reset or failed. A
// TIME_WAIT that expires sends none (its connection was counted when it
// closed). Root is needed (CAP_NET_ADMIN in the namespace's owner).
type closeWatch struct {
	c     *netlink.Conn
	start time.Time

	mu      sync.Mutex
	pending []closeEvent
	lost    uint64
	err     error
	done    chan struct{}
}

// watchCloses subscribes to the destroy notifications in the namespace
// netnsFD refers to (0: the caller's).
func watchCloses(netnsFD int) (*closeWatch, error) {
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, &netlink.Config{
		NetNS:  netnsFD,
		Groups: 1<<(groupTCPDestroy-1) | 1<<(groupTCP6Destroy-1),
	})
	if err != nil {
		return nil, fmt.Errorf("destroy notifications: %w", err)
	}
	// Past net.core.rmem_max, as root may: a burst of closes between
	// two reads must not overflow.
	if raw, err := c.SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, closeBuffer) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, closeBuffer)
			}
		})
	}
	w := &closeWatch{c: c, start: time.Now(), done: make(chan struct{})}
	go w.read()
	return w, nil
}

// read receives notifications until the socket is closed.
func (w *closeWatch) read() {
	defer close(w.done)
	var s Socket
	for {
		msgs, err := w.c.Receive()
		at := time.Since(w.start)
		if errors.Is(err, unix.ENOBUFS) {
			w.mu.Lock()
			w.lost++
			w.mu.Unlock()
			continue
		}
		if err != nil {
			if !errors.Is(err, os.ErrClosed) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, unix.EBADF) {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
			return
		}
		w.mu.Lock()
		for _, m := range msgs {
			if m.Header.Type != sockDiagByFamily || s.UnmarshalBinary(m.Data) != nil {
				continue
			}
			if len(w.pending) >= maxPendingCloses {
				w.lost++
				continue
			}
			w.pending = append(w.pending, closeEvent{local: s.Local, remote: s.Remote, at: at})
		}
		w.mu.Unlock()
	}
}

// take hands over the events since the last take, into buf's storage, and
// what went wrong: the reader's error, and how many times notifications
// were lost.
func (w *closeWatch) take(buf []closeEvent) ([]closeEvent, uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf = append(buf[:0], w.pending...)
	w.pending = w.pending[:0]
	return buf, w.lost, w.err
}

// Close stops reading.
func (w *closeWatch) Close() error {
	err := w.c.Close()
	<-w.done
	return err
}
