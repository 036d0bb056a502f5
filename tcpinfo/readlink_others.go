//go:build !linux

package tcpinfo

import "os"

func readlink(path string, buf []byte) (int, error) {
	s, err := os.Readlink(path)
	return copy(buf, s), err
}
