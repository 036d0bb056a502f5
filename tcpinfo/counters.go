package tcpinfo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/prometheus/procfs"
)

// Counters are the kernel's cheap TCP counters, read on every poll. The
// sockstat values are gauges; the rest count up from boot (per namespace).
type Counters struct {
	// /proc/net/sockstat and sockstat6.
	InUse  uint64 `json:"inuse"`
	InUse6 uint64 `json:"inuse6"`
	Orphan uint64 `json:"orphan"`
	// TWSockets counts TIME_WAIT plus FIN_WAIT2 minisockets: what
	// tcp_max_tw_buckets limits.
	TWSockets uint64 `json:"tw"`
	Alloc     uint64 `json:"alloc"`
	// Mem is the memory TCP sockets hold, in pages: what tcp_mem bounds.
	Mem uint64 `json:"mem"`

	// /proc/net/snmp, Tcp:.
	CurrEstab    uint64 `json:"CurrEstab"`
	ActiveOpens  uint64 `json:"ActiveOpens"`
	PassiveOpens uint64 `json:"PassiveOpens"`
	AttemptFails uint64 `json:"AttemptFails"`
	EstabResets  uint64 `json:"EstabResets"`
	OutSegs      uint64 `json:"OutSegs"`
	RetransSegs  uint64 `json:"RetransSegs"`
	InErrs       uint64 `json:"InErrs"`
	OutRsts      uint64 `json:"OutRsts"`

	// /proc/net/netstat, TcpExt:.
	TW                  uint64 `json:"TW"`
	TWRecycled          uint64 `json:"TWRecycled"`
	TWKilled            uint64 `json:"TWKilled"`
	TCPTimeWaitOverflow uint64 `json:"TCPTimeWaitOverflow"`
	ListenOverflows     uint64 `json:"ListenOverflows"`
	ListenDrops         uint64 `json:"ListenDrops"`
	// The counters that name a cause, as nstat spells them.
	TCPSynRetrans        uint64 `json:"TCPSynRetrans"`
	TCPTimeouts          uint64 `json:"TCPTimeouts"`
	TCPAbortOnData       uint64 `json:"TCPAbortOnData"`
	TCPAbortOnClose      uint64 `json:"TCPAbortOnClose"`
	TCPAbortOnMemory     uint64 `json:"TCPAbortOnMemory"`
	TCPAbortOnTimeout    uint64 `json:"TCPAbortOnTimeout"`
	TCPAbortOnLinger     uint64 `json:"TCPAbortOnLinger"`
	SyncookiesSent       uint64 `json:"SyncookiesSent"`
	SyncookiesRecv       uint64 `json:"SyncookiesRecv"`
	SyncookiesFailed     uint64 `json:"SyncookiesFailed"`
	TCPReqQFullDrop      uint64 `json:"TCPReqQFullDrop"`
	TCPReqQFullDoCookies uint64 `json:"TCPReqQFullDoCookies"`
	TCPMemoryPressures   uint64 `json:"TCPMemoryPressures"`
	PruneCalled          uint64 `json:"PruneCalled"`
	RcvPruned            uint64 `json:"RcvPruned"`
	TCPBacklogDrop       uint64 `json:"TCPBacklogDrop"`
}

// ReadCounters reads the counters of the caller's network namespace from
// a procfs mount such as /proc.
func ReadCounters(procRoot string) (Counters, error) {
	return ReadCountersAt(filepath.Join(procRoot, strconv.Itoa(os.Getpid())))
}

// ReadCountersAt reads the counters of the network namespace that
// procDir's net/ shows: procDir is /proc/PID of a process in it, or
// /proc/PID/task/TID of a thread that entered it.
func ReadCountersAt(procDir string) (Counters, error) {
	var c Counters
	// procfs reads sockstat from <fs>/net/ and snmp from <fs>/<pid>/net/:
	// procDir is both an FS and, one level up, a process.
	pfs, err := procfs.NewFS(procDir)
	if err != nil {
		return c, fmt.Errorf("tcpinfo: %w", err)
	}
	ss, err := pfs.NetSockstat()
	if err != nil {
		return c, fmt.Errorf("tcpinfo: sockstat: %w", err)
	}
	for _, p := range ss.Protocols {
		if p.Protocol == "TCP" {
			c.InUse = uint64(p.InUse)
			c.Orphan = deref(p.Orphan)
			c.TWSockets = deref(p.TW)
			c.Alloc = deref(p.Alloc)
			c.Mem = deref(p.Mem)
		}
	}
	// sockstat6 is absent when IPv6 is disabled; that is zero sockets.
	if ss6, err := pfs.NetSockstat6(); err == nil {
		for _, p := range ss6.Protocols {
			if p.Protocol == "TCP6" {
				c.InUse6 = uint64(p.InUse)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return c, fmt.Errorf("tcpinfo: sockstat6: %w", err)
	}

	parent, err := procfs.NewFS(filepath.Dir(procDir))
	if err != nil {
		return c, fmt.Errorf("tcpinfo: %w", err)
	}
	id, err := strconv.Atoi(filepath.Base(procDir))
	if err != nil {
		return c, fmt.Errorf("tcpinfo: %s is not a /proc/PID directory", procDir)
	}
	self, err := parent.Proc(id)
	if err != nil {
		return c, fmt.Errorf("tcpinfo: %w", err)
	}
	snmp, err := self.Snmp()
	if err != nil {
		return c, fmt.Errorf("tcpinfo: snmp: %w", err)
	}
	t := snmp.Tcp
	c.CurrEstab, c.ActiveOpens, c.PassiveOpens = deref(t.CurrEstab), deref(t.ActiveOpens), deref(t.PassiveOpens)
	c.AttemptFails, c.EstabResets = deref(t.AttemptFails), deref(t.EstabResets)
	c.OutSegs, c.RetransSegs, c.InErrs, c.OutRsts = deref(t.OutSegs), deref(t.RetransSegs), deref(t.InErrs), deref(t.OutRsts)

	ns, err := self.Netstat()
	if err != nil {
		return c, fmt.Errorf("tcpinfo: netstat: %w", err)
	}
	x := ns.TcpExt
	c.TW, c.TWRecycled, c.TWKilled = deref(x.TW), deref(x.TWRecycled), deref(x.TWKilled)
	c.TCPTimeWaitOverflow = deref(x.TCPTimeWaitOverflow)
	c.ListenOverflows, c.ListenDrops = deref(x.ListenOverflows), deref(x.ListenDrops)
	c.TCPSynRetrans, c.TCPTimeouts = deref(x.TCPSynRetrans), deref(x.TCPTimeouts)
	c.TCPAbortOnData, c.TCPAbortOnClose, c.TCPAbortOnMemory = deref(x.TCPAbortOnData), deref(x.TCPAbortOnClose), deref(x.TCPAbortOnMemory)
	c.TCPAbortOnTimeout, c.TCPAbortOnLinger = deref(x.TCPAbortOnTimeout), deref(x.TCPAbortOnLinger)
	c.SyncookiesSent, c.SyncookiesRecv, c.SyncookiesFailed = deref(x.SyncookiesSent), deref(x.SyncookiesRecv), deref(x.SyncookiesFailed)
	c.TCPReqQFullDrop, c.TCPReqQFullDoCookies = deref(x.TCPReqQFullDrop), deref(x.TCPReqQFullDoCookies)
	c.TCPMemoryPressures, c.PruneCalled, c.RcvPruned = deref(x.TCPMemoryPressures), deref(x.PruneCalled), deref(x.RcvPruned)
	c.TCPBacklogDrop = deref(x.TCPBacklogDrop)
	return c, nil
}

func deref[T int | float64](p *T) uint64 {
	if p == nil || *p < 0 {
		return 0
	}
	return uint64(*p)
}

// A CounterDef is one kernel counter that only rises, as nstat spells it:
// whether any rise is trouble, whether the counters pane always shows it
// (the others show there while they rise), and how to read it. RisingCounters is the one list the pane and the report read.
type CounterDef struct {
	Name    string
	Trouble bool // any rise is bad news
	Pane    bool // the dashboard's counters pane shows it
	Value   func(Counters) uint64
}

// RisingCounters lists the counters that only rise, in the order people
// read them: opens, TIME_WAIT, then the ones that mean trouble.
func RisingCounters() []CounterDef {
	return []CounterDef{
		{"ActiveOpens", false, true, func(c Counters) uint64 { return c.ActiveOpens }},
		{"PassiveOpens", false, true, func(c Counters) uint64 { return c.PassiveOpens }},
		{"TW", false, true, func(c Counters) uint64 { return c.TW }},
		{"TWRecycled", false, true, func(c Counters) uint64 { return c.TWRecycled }},
		{"TWKilled", false, false, func(c Counters) uint64 { return c.TWKilled }},
		{"TCPTimeWaitOverflow", true, true, func(c Counters) uint64 { return c.TCPTimeWaitOverflow }},
		{"ListenOverflows", true, true, func(c Counters) uint64 { return c.ListenOverflows }},
		{"ListenDrops", true, true, func(c Counters) uint64 { return c.ListenDrops }},
		{"AttemptFails", true, true, func(c Counters) uint64 { return c.AttemptFails }},
		{"EstabResets", false, true, func(c Counters) uint64 { return c.EstabResets }},
		{"RetransSegs", false, false, func(c Counters) uint64 { return c.RetransSegs }},
		{"OutRsts", false, false, func(c Counters) uint64 { return c.OutRsts }},
		{"InErrs", true, false, func(c Counters) uint64 { return c.InErrs }},
		{"TCPSynRetrans", false, false, func(c Counters) uint64 { return c.TCPSynRetrans }},
		{"TCPTimeouts", false, false, func(c Counters) uint64 { return c.TCPTimeouts }},
		{"TCPAbortOnData", false, false, func(c Counters) uint64 { return c.TCPAbortOnData }},
		{"TCPAbortOnClose", false, false, func(c Counters) uint64 { return c.TCPAbortOnClose }},
		{"TCPAbortOnMemory", true, false, func(c Counters) uint64 { return c.TCPAbortOnMemory }},
		{"TCPAbortOnTimeout", false, false, func(c Counters) uint64 { return c.TCPAbortOnTimeout }},
		{"TCPAbortOnLinger", false, false, func(c Counters) uint64 { return c.TCPAbortOnLinger }},
		{"SyncookiesSent", true, false, func(c Counters) uint64 { return c.SyncookiesSent }},
		{"SyncookiesRecv", false, false, func(c Counters) uint64 { return c.SyncookiesRecv }},
		{"SyncookiesFailed", true, false, func(c Counters) uint64 { return c.SyncookiesFailed }},
		{"TCPReqQFullDrop", true, false, func(c Counters) uint64 { return c.TCPReqQFullDrop }},
		{"TCPReqQFullDoCookies", true, false, func(c Counters) uint64 { return c.TCPReqQFullDoCookies }},
		{"TCPMemoryPressures", true, false, func(c Counters) uint64 { return c.TCPMemoryPressures }},
		{"PruneCalled", true, false, func(c Counters) uint64 { return c.PruneCalled }},
		{"RcvPruned", true, false, func(c Counters) uint64 { return c.RcvPruned }},
		{"TCPBacklogDrop", true, false, func(c Counters) uint64 { return c.TCPBacklogDrop }},
	}
}
