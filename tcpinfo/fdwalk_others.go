//go:build !linux

package tcpinfo

import (
	"os"
	"path/filepath"
)

type fdWalker struct{}

func (w *fdWalker) sockets(path string, fn func(inode uint32)) (int, error) {
	d, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if link, err := os.Readlink(filepath.Join(path, n)); err == nil {
			if inode, ok := socketInode([]byte(link)); ok {
				fn(inode)
			}
		}
	}
	return len(names), nil
}

func (w *fdWalker) readlink(path string) (string, error) { return os.Readlink(path) }
