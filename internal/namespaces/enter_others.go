//go:build !linux

package namespaces

import (
	"fmt"
	"runtime"
)

// A Handle holds a namespace open; only Linux has network namespaces.
type Handle struct{}

// Enter is unsupported off Linux.
func Enter(ns Namespace) (*Handle, error) {
	return nil, fmt.Errorf("network namespaces are unsupported on %s", runtime.GOOS)
}

func (h *Handle) Namespace() Namespace     { return Namespace{} }
func (h *Handle) NetNSFD() int             { return -1 }
func (h *Handle) Do(fn func() error) error { return fn() }
func (h *Handle) Close() error             { return nil }

// Cookie is unsupported off Linux.
func Cookie(do func(func() error) error) (uint64, error) {
	return 0, fmt.Errorf("network namespaces are unsupported on %s", runtime.GOOS)
}
