//go:build !linux

package tcpinfo

import (
	"fmt"
	"runtime"
)

// A Conn is a NETLINK_SOCK_DIAG socket; it exists only on Linux.
type Conn struct{}

// Dial reports that inet_diag is Linux-only.
func Dial() (*Conn, error) {
	return nil, fmt.Errorf("tcpinfo: inet_diag is not supported on %s", runtime.GOOS)
}

// DialIn reports that inet_diag is Linux-only.
func DialIn(int) (*Conn, error) { return Dial() }

// Close does nothing.
func (c *Conn) Close() error { return nil }

// Dump reports that inet_diag is Linux-only.
func (c *Conn) Dump(Family, StateSet, func(*Socket)) error {
	return fmt.Errorf("tcpinfo: inet_diag is not supported on %s", runtime.GOOS)
}

// DumpProgram reports that inet_diag is Linux-only.
func (c *Conn) DumpProgram(Family, StateSet, []byte, func(*Socket)) error { return c.Dump(0, 0, nil) }
