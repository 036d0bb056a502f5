//go:build linux

package tcpinfo

import "golang.org/x/sys/unix"

// readlink reads a link into buf without allocating a string for it.
func readlink(path string, buf []byte) (int, error) { return unix.Readlink(path, buf) }
