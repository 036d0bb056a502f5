//go:build linux

package tcpinfo

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// An fdWalker lists a process's socket inodes with getdents and readlinkat
// into reused buffers: a busy host has hundreds of thousands of open
// files, and a string per file would be most of the walk's cost.
type fdWalker struct {
	dents [32 << 10]byte
	link  [64]byte
}

// sockets calls fn with the inode of every socket open in the process
// whose fd directory is path, and returns how many files it has open. It
// reports an error only if the directory cannot be opened.
func (w *fdWalker) sockets(path string, fn func(inode uint32)) (files int, err error) {
	dir, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(dir)
	for {
		n, err := unix.Getdents(dir, w.dents[:])
		if err != nil || n <= 0 {
			return files, nil
		}
		for b := w.dents[:n]; len(b) >= 19; {
			// struct linux_dirent64: ino u64, off u64, reclen u16, type u8, name.
			reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
			if reclen < 19 || reclen > len(b) {
				break
			}
			name := b[19:reclen] // NUL-terminated, as readlinkat wants
			if name[0] != '.' {
				files++
				if inode, ok := w.socket(dir, &name[0]); ok {
					fn(inode)
				}
			}
			b = b[reclen:]
		}
	}
}

// readlink reads a link, such as /proc/<pid>/ns/net, into the buffer.
func (w *fdWalker) readlink(path string) (string, error) {
	n, err := unix.Readlink(path, w.link[:])
	if err != nil {
		return "", err
	}
	return string(w.link[:n]), nil
}

func (w *fdWalker) socket(dir int, name *byte) (uint32, bool) {
	r, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dir), uintptr(unsafe.Pointer(name)),
		uintptr(unsafe.Pointer(&w.link[0])), uintptr(len(w.link)), 0, 0)
	if errno != 0 {
		return 0, false
	}
	return socketInode(w.link[:r])
}
