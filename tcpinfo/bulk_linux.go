//go:build linux

package tcpinfo

import "golang.org/x/sys/unix"

// adviseHuge asks the kernel to back b with huge pages; where it will
// not (transparent huge pages off), b's pages are small, as any others.
func adviseHuge(b []byte) { _ = unix.Madvise(b, unix.MADV_HUGEPAGE) }
