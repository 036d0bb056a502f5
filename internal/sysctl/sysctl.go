// Package sysctl reads /proc/sys files whole. The kernel's bitmap sysctls
// (ip_local_reserved_ports) answer end-of-file to any read at an offset
// above 0, so a value is only whole when it arrives in one read(): Go's
// os.ReadFile, which starts with 512 bytes, cuts such a value short.
package sysctl

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/tcpdash/tcpdash/internal/procfs"
)

// MaxSize is the buffer a value is read into. A read that fills it may
// have been cut, so it is refused rather than trusted.
const MaxSize = 64 << 10

// ReadFile reads the sysctl file at path in one read(). The error wraps
// the cause, so errors.Is(err, fs.ErrNotExist) still tells an absent key.
// It tries 256 bytes first, as nearly every value fits them, and reads
// again into a page, then MaxSize, when the buffer fills: a snapshot reads
// a dozen sysctls, and 64 KiB for each was most of what it allocated
// besides the sockets; a page for each was a page fault each (a --once
// runs without the garbage collector, so no buffer is used twice).
func ReadFile(path string) ([]byte, error) {
	for _, size := range []int{256, 4 << 10, MaxSize} {
		b, err := readOnce(path, size)
		if err != nil || len(b) < size {
			return b, err
		}
	}
	return nil, fmt.Errorf("read %s: the value fills the %d-byte buffer and may be cut: %w", path, MaxSize, fs.ErrInvalid)
}

// readOnce reads path in one read() into size bytes.
func readOnce(path string, size int) ([]byte, error) {
	f, err := procfs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, size)
	n, err := f.Read(buf)
	if err != nil && !errors.Is(err, io.EOF) { // an empty value is EOF at once
		return nil, err
	}
	return buf[:n:n], nil
}

// Read reads key (net.ipv4.tcp_tw_reuse, or net/ipv4/tcp_tw_reuse) under
// root, normally /proc/sys, with trailing newlines removed.
func Read(root, key string) (string, error) {
	b, err := ReadFile(filepath.Join(root, Path(key)))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// Path turns a dotted key into its path below a sysctl root.
func Path(key string) string { return strings.ReplaceAll(key, ".", "/") }
