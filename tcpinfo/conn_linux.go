//go:build linux

package tcpinfo

import (
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// recvBufferSize is the userspace buffer for one datagram. The kernel
// sizes dump datagrams by the largest buffer it has seen, capped at 32 KiB,
// so this both avoids a peek per read and keeps datagrams large.
const recvBufferSize = 64 << 10

// A Conn is a NETLINK_SOCK_DIAG socket for dumping TCP sockets. A Conn
// runs one dump at a time.
type Conn struct {
	c     *netlink.Conn
	dedup cookieWindow
	sock  Socket
}

// Dial opens a sock_diag netlink socket. It needs no privileges.
func Dial() (*Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, &netlink.Config{MessageBufferSize: recvBufferSize})
	if err != nil {
		return nil, fmt.Errorf("tcpinfo: dial sock_diag: %w", err)
	}
	return newConn(c), nil
}

// newConn wraps a netlink connection; tests pass an nltest fake.
func newConn(c *netlink.Conn) *Conn { return &Conn{c: c} }

// Close closes the socket.
func (c *Conn) Close() error { return c.c.Close() }

// Dump streams the TCP sockets of family whose state is in states to fn.
// The *Socket is reused for every call: fn must copy what it keeps.
//
// A dump is not an atomic snapshot: the kernel resumes it by hash position
// between datagrams, so under churn a socket can be reported twice. Dump
// drops such repeats by cookie.
func (c *Conn) Dump(family Family, states StateSet, fn func(*Socket)) error {
	req, _ := request{family: family, states: states}.MarshalBinary()
	m, err := c.c.Send(netlink.Message{
		Header: netlink.Header{
			Type:  sockDiagByFamily,
			Flags: netlink.Request | netlink.Dump,
		},
		Data: req,
	})
	if err != nil {
		return fmt.Errorf("tcpinfo: request %s dump: %w", family, err)
	}
	c.dedup.reset()
	for msg, err := range c.c.ReceiveIter() {
		if err != nil {
			return fmt.Errorf("tcpinfo: %s dump: %w", family, err)
		}
		if msg.Header.Sequence != m.Header.Sequence || msg.Header.Type != sockDiagByFamily {
			continue // a straggler from an abandoned dump
		}
		if err := c.sock.UnmarshalBinary(msg.Data); err != nil {
			return err
		}
		if c.dedup.seen(c.sock.Cookie) {
			continue
		}
		fn(&c.sock)
	}
	return nil
}
