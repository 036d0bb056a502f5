// Package conntrack reads the netfilter connection-tracking table of a
// network namespace over ctnetlink (github.com/ti-mo/conntrack): how full
// it is and what it dropped. A full table drops new connections where
// nothing in ss shows it; /proc/net/stat/nf_conntrack, which
// node_exporter reads, is not built by default kernels.
package conntrack

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	ct "github.com/ti-mo/conntrack"

	"github.com/mdlayher/netlink"

	"github.com/tcpdash/tcpdash/internal/sysctl"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// A Reader reads one namespace's table.
type Reader struct {
	netnsFD int
	do      func(func() error) error
	c       *ct.Conn // kept between polls; dialed again after an error
}

// New reads the table of the namespace netnsFD refers to (0: the
// caller's); do runs a function inside it (nil: here), where /proc/sys
// shows the namespace's count and limit.
func New(netnsFD int, do func(func() error) error) *Reader {
	if do == nil {
		do = func(fn func() error) error { return fn() }
	}
	return &Reader{netnsFD: netnsFD, do: do}
}

// ErrAbsent says the namespace tracks no connections: the kernel has no
// conntrack, or ctnetlink is not there.
var ErrAbsent = errors.New("no connection tracking")

// Read returns the table's count and limit (from /proc/sys, as conntrack
// -C counts; ctnetlink's global-statistics request goes unanswered on
// some kernels) and its statistics over ctnetlink, summed over CPUs.
func (r *Reader) Read() (tcpinfo.Conntrack, error) {
	var out tcpinfo.Conntrack
	err := r.do(func() (err error) {
		if out.Count, err = readUint("/proc/sys/net/netfilter/nf_conntrack_count"); err != nil {
			return err
		}
		out.Max, err = readUint("/proc/sys/net/netfilter/nf_conntrack_max")
		return err
	})
	if err != nil {
		return tcpinfo.Conntrack{}, fmt.Errorf("%w: %w", ErrAbsent, err)
	}
	if r.c == nil {
		if r.c, err = ct.Dial(&netlink.Config{NetNS: r.netnsFD}); err != nil {
			return out, fmt.Errorf("ctnetlink: %w", err)
		}
	}
	cpus, err := r.c.Stats()
	if err != nil {
		r.Close()
		return out, fmt.Errorf("conntrack statistics: %w", err)
	}
	for _, s := range cpus {
		out.Found += uint64(s.Found)
		out.Invalid += uint64(s.Invalid)
		out.Insert += uint64(s.Insert)
		out.InsertFailed += uint64(s.InsertFailed)
		out.Drop += uint64(s.Drop)
		out.EarlyDrop += uint64(s.EarlyDrop)
		out.Error += uint64(s.Error)
		out.SearchRestart += uint64(s.SearchRestart)
	}
	return out, nil
}

func readUint(path string) (uint64, error) {
	b, err := sysctl.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// Close releases the ctnetlink socket.
func (r *Reader) Close() error {
	if r.c == nil {
		return nil
	}
	err := r.c.Close()
	r.c = nil
	return err
}
