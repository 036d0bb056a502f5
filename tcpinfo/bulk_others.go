//go:build !linux

package tcpinfo

func adviseHuge([]byte) {}
