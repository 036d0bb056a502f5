//go:build !linux

package tcpinfo

import (
	"fmt"
	"runtime"
)

type closeWatch struct{}

func watchCloses(int) (*closeWatch, error) {
	return nil, fmt.Errorf("destroy notifications are not supported on %s", runtime.GOOS)
}

func (*closeWatch) take(buf []closeEvent) ([]closeEvent, uint64, error) { return buf[:0], 0, nil }

func (*closeWatch) Close() error { return nil }
