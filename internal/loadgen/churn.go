package loadgen

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ClosingServer listens on at and, for every connection, waits for the
// client's FIN and then closes: the client closes first and is left in
// TIME_WAIT, as behind a client that opens a connection per request.
func ClosingServer(t *testing.T, at netip.AddrPort) {
	t.Helper()
	serve(t, at, func(fd int) {
		go func() {
			var b [1]byte
			unix.Read(fd, b[:])
			unix.Close(fd)
		}()
	})
}

// serve listens on at and hands every accepted connection to handle,
// until the test ends.
func serve(t *testing.T, at netip.AddrPort, handle func(fd int)) {
	t.Helper()
	stop, err := Serve(at, handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
}

// Serve listens on at and hands every accepted connection to handle until
// stop is called.
func Serve(at netip.AddrPort, handle func(fd int)) (stop func(), err error) {
	ln, err := listen(at, false)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			fd, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
			if err != nil {
				return
			}
			handle(fd)
		}
	}()
	return func() { unix.Close(ln) }, nil
}

// Churn connects to to at rate connections a second, closing each at once,
// until connect() fails with EADDRNOTAVAIL or ctx ends. It returns when
// that happened, or the zero time, and how many connections succeeded.
func Churn(ctx context.Context, to netip.AddrPort, rate int) (failedAt time.Time, n int, err error) {
	err = atRate(ctx, rate, func() (bool, error) {
		err := connectAndClose(to)
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			failedAt = time.Now()
			return false, nil
		}
		if err == nil {
			n++
		}
		return true, err
	})
	return failedAt, n, err
}

// atRate calls fn rate times a second until it says stop, fails, or ctx
// ends.
func atRate(ctx context.Context, rate int, fn func() (bool, error)) error {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if more, err := fn(); err != nil || !more {
			return err
		}
	}
}

// connectAndClose makes one connection to to and closes it at once.
func connectAndClose(to netip.AddrPort) error {
	fd, err := unix.Socket(family(to), unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Connect(fd, sockaddr(to))
}

// StuckServer listens on at with an accept queue of one and never accepts,
// then keeps connecting to it until ctx ends: the queue fills, and every
// further handshake the kernel completes is counted in ListenOverflows and
// dropped, as behind a server too slow to accept.
func StuckServer(ctx context.Context, t *testing.T, at netip.AddrPort) {
	t.Helper()
	ln, err := listen(at, false)
	if err == nil {
		err = unix.Listen(ln, 1)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(ln) })
	go func() {
		var d net.Dialer
		for ctx.Err() == nil {
			dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			c, err := d.DialContext(dctx, "tcp", at.String())
			cancel()
			if err == nil {
				// Held open so the queue stays full.
				context.AfterFunc(ctx, func() { c.Close() })
			}
		}
	}()
}

// ChurnThrough is Churn that goes on when ports run out, as a load test's
// client does: it connects at rate a second until ctx ends, and returns
// when connect() first failed with EADDRNOTAVAIL (the zero time if never)
// and how many attempts failed so.
func ChurnThrough(ctx context.Context, to netip.AddrPort, rate int) (firstFailure time.Time, failures int, err error) {
	err = atRate(ctx, rate, func() (bool, error) {
		err := connectAndClose(to)
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			if failures == 0 {
				firstFailure = time.Now()
			}
			failures++
			return true, nil
		}
		return true, err
	})
	return firstFailure, failures, err
}
