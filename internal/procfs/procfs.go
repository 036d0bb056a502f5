// Package procfs opens the kernel's pseudo-files (/proc, /proc/sys) with
// plain system calls. os.Open hands every file to Go's network poller, and
// procfs files accept it: each open then costs two fcntl and an
// epoll_ctl, and each close another epoll_ctl, four calls more than open,
// read and close for a file that never blocks. A snapshot reads some twenty such
// files, and the process walk thousands.
package procfs

import (
	"errors"
	"io"
	"io/fs"
	"slices"

	"golang.org/x/sys/unix"
)

// File is an open procfs file, read with read(2) and closed with close(2).
// Unlike an *os.File it has no finalizer: its opener closes it.
type File struct {
	fd   int
	path string
}

// Open opens path for reading. Its errors are *fs.PathError, so
// errors.Is(err, fs.ErrNotExist) tells an absent file.
func Open(path string) (*File, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return &File{fd: fd, path: path}, nil
	}
}

// Read reads into b; 0 bytes and io.EOF at the end.
func (f *File) Read(b []byte) (int, error) {
	if f.fd < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrClosed}
	}
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(f.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Close closes the file; a second Close does nothing.
func (f *File) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}

// ErrTooLarge is the error of ReadFile for a file over its limit.
var ErrTooLarge = errors.New("larger than the limit")

// ReadFile reads the file at path whole, refusing one longer than limit
// bytes (the bound on what a file from outside may cost). It starts with
// 512 bytes and doubles, as os.ReadFile does: procfs files report no size.
// (io.ReadAll grows by a quarter: netstat's 4 KiB took seven reads and
// seven sizes of buffer, each size class a fresh span in a new process.)
func ReadFile(path string, limit int) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 0, 512)
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, cap(b)) // doubles: at most twice the limit is held
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > limit {
			return nil, &fs.PathError{Op: "read", Path: path, Err: ErrTooLarge}
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
