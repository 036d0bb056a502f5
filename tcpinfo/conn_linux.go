//go:build linux

package tcpinfo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// recvBufferSize is the buffer for one datagram. The kernel sizes dump
// datagrams by the largest read buffer it has seen, capped at 32 KiB, so a
// datagram that fills this buffer was truncated.
const recvBufferSize = 64 << 10

// A Conn is a NETLINK_SOCK_DIAG socket for dumping TCP sockets. A Conn
// runs one dump at a time.
type Conn struct {
	c     *netlink.Conn
	raw   syscall.RawConn // nil for test fakes
	buf   []byte
	dedup cookieWindow
	sock  Socket
	info  bool
}

// WantInfo makes later dumps ask for each socket's tcp_info.
func (c *Conn) WantInfo(on bool) { c.info = on }

// Dial opens a sock_diag netlink socket. It needs no privileges.
func Dial() (*Conn, error) { return DialIn(0) }

// DialIn opens a sock_diag netlink socket inside the network namespace
// that netnsFD refers to (0: the caller's). The socket stays bound to that
// namespace: its dumps report the namespace's sockets.
func DialIn(netnsFD int) (*Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, &netlink.Config{NetNS: netnsFD})
	if err != nil {
		return nil, fmt.Errorf("tcpinfo: dial sock_diag: %w", err)
	}
	return newConn(c), nil
}

// newConn wraps a netlink connection; tests pass an nltest fake, which has
// no raw connection and is read through ReceiveIter instead.
func newConn(c *netlink.Conn) *Conn {
	conn := &Conn{c: c}
	if raw, err := c.SyscallConn(); err == nil {
		conn.raw, conn.buf = raw, make([]byte, recvBufferSize)
	}
	return conn
}

// Close closes the socket.
func (c *Conn) Close() error { return c.c.Close() }

// Dump streams the TCP sockets of family whose state is in states to fn.
// The *Socket is reused for every call: fn must copy what it keeps.
//
// A dump is not an atomic snapshot: the kernel resumes it by hash position
// between datagrams, so under churn a socket can be reported twice. Dump
// drops such repeats by cookie.
func (c *Conn) Dump(family Family, states StateSet, fn func(*Socket)) error {
	return c.DumpProgram(family, states, nil, fn)
}

// DumpProgram is Dump with a filter program (package filter compiles
// them) that the kernel runs on each socket: only the sockets it accepts
// are copied. The kernel answers a program it refuses with EINVAL.
//
// family BothFamilies dumps IPv4 and IPv6 in one walk of the kernel's
// tables, at about half the kernel's cost of a dump of each.
func (c *Conn) DumpProgram(family Family, states StateSet, program []byte, fn func(*Socket)) error {
	r := request{family: family, states: states, program: program, info: c.info}
	req, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	sent, err := c.c.Send(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(r.msgType()),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: req,
	})
	if err != nil {
		return fmt.Errorf("tcpinfo: request %s dump: %w", family, err)
	}
	c.dedup.reset()
	handle := c.handler(sent.Header.Sequence, sent.Header.Type, fn)
	if c.raw == nil {
		for m, err := range c.c.ReceiveIter() {
			if err != nil {
				return fmt.Errorf("tcpinfo: %s dump: %w", family, err)
			}
			if err := handle(m); err != nil {
				return err
			}
		}
		return nil
	}
	if err := c.receive(handle); err != nil {
		return fmt.Errorf("tcpinfo: %s dump: %w", family, err)
	}
	return nil
}

// handler decodes the messages of dump seq, of type typ, and passes their
// sockets, less repeats, to fn.
func (c *Conn) handler(seq uint32, typ netlink.HeaderType, fn func(*Socket)) func(netlink.Message) error {
	return func(m netlink.Message) error {
		if m.Header.Sequence != seq || m.Header.Type != typ {
			return nil // a straggler from an abandoned dump
		}
		if err := c.sock.UnmarshalBinary(m.Data); err != nil {
			return err
		}
		if !c.dedup.seen(c.sock.Cookie) {
			fn(&c.sock)
		}
		return nil
	}
}

// receive reads the datagrams of a dump into one reused buffer until
// NLMSG_DONE. netlink.Conn.ReceiveIter would copy each datagram and start
// a goroutine per read; on a dump of 200,000 sockets that is a tenth of
// tcpdash's CPU time and most of its garbage. The socket and the message
// framing stay the library's.
func (c *Conn) receive(handle func(netlink.Message) error) error {
	for {
		var n int
		var rerr error
		err := c.raw.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), c.buf)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if n == len(c.buf) {
			return errors.New("receive: datagram truncated")
		}
		done, err := forEachMessage(c.buf[:n], handle)
		if err != nil || done {
			return err
		}
	}
}

// forEachMessage splits a datagram into netlink messages and passes each
// data message to handle. It reports whether the dump is done, and turns
// NLMSG_ERROR into an error that wraps its errno.
func forEachMessage(b []byte, handle func(netlink.Message) error) (done bool, err error) {
	for len(b) > 0 {
		if len(b) < 16 {
			return false, fmt.Errorf("%w: %d bytes left, want a 16-byte header", errShortDatagram, len(b))
		}
		size := int(binary.NativeEndian.Uint32(b))
		aligned := (size + 3) &^ 3
		if size < 16 || aligned > len(b) {
			return false, fmt.Errorf("%w: message of %d bytes in %d", errShortDatagram, size, len(b))
		}
		// The header by hand: netlink.Message.UnmarshalBinary checks again
		// what is checked above, in a call per socket.
		m := netlink.Message{
			Header: netlink.Header{
				Length:   uint32(size),
				Type:     netlink.HeaderType(binary.NativeEndian.Uint16(b[4:6])),
				Flags:    netlink.HeaderFlags(binary.NativeEndian.Uint16(b[6:8])),
				Sequence: binary.NativeEndian.Uint32(b[8:12]),
				PID:      binary.NativeEndian.Uint32(b[12:16]),
			},
			Data: b[16:size],
		}
		b = b[aligned:]
		switch m.Header.Type {
		case netlink.Error, netlink.Done:
			// Both carry an int32 errno first; 0 is success (an ack).
			if len(m.Data) >= 4 {
				if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
					return false, unix.Errno(errno)
				}
			}
			if m.Header.Type == netlink.Done {
				return true, nil
			}
		default:
			if err := handle(m); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

var errShortDatagram = errors.New("short netlink datagram")
