package tcpinfo

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tcpdash/tcpdash/internal/procfs"
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
//
// The files are read and parsed here rather than by prometheus/procfs:
// its package init compiled regexps on every start of tcpdash (about 2
// ms, a tenth of a --once on an empty namespace), for four small files.
func ReadCountersAt(procDir string) (Counters, error) {
	var c Counters
	net := filepath.Join(procDir, "net")
	b, err := procfs.ReadFile(filepath.Join(net, "sockstat"), maxProcFile)
	if err != nil {
		return c, fmt.Errorf("tcpinfo: sockstat: %w", err)
	}
	if err := c.parseSockstat(b); err != nil {
		return c, fmt.Errorf("tcpinfo: sockstat: %w", err)
	}
	// sockstat6 is absent when IPv6 is disabled; that is zero sockets.
	if b, err := procfs.ReadFile(filepath.Join(net, "sockstat6"), maxProcFile); err == nil {
		if err := c.parseSockstat(b); err != nil {
			return c, fmt.Errorf("tcpinfo: sockstat6: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return c, fmt.Errorf("tcpinfo: sockstat6: %w", err)
	}
	for _, name := range []string{"snmp", "netstat"} {
		b, err := procfs.ReadFile(filepath.Join(net, name), maxProcFile)
		if err != nil {
			return c, fmt.Errorf("tcpinfo: %s: %w", name, err)
		}
		if err := c.parseTables(b); err != nil {
			return c, fmt.Errorf("tcpinfo: %s: %w", name, err)
		}
	}
	return c, nil
}

// maxProcFile bounds what a counters file may cost: netstat, the
// largest, is some 4 KiB.
const maxProcFile = 1 << 20

// parseSockstat reads sockstat's or sockstat6's lines, "TCP: inuse 5
// orphan 0 tw 2 ...", into c: only the TCP and TCP6 lines.
func (c *Counters) parseSockstat(b []byte) error {
	for n, line := range bytes.Split(b, []byte("\n")) {
		proto, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || (string(proto) != "TCP" && string(proto) != "TCP6") {
			continue
		}
		f := bytes.Fields(rest)
		if len(f)%2 != 0 {
			return fmt.Errorf("line %d: %d fields, want name and value pairs", n+1, len(f))
		}
		for i := 0; i < len(f); i += 2 {
			v, err := counterValue(f[i+1])
			if err != nil {
				return fmt.Errorf("line %d: %s: %w", n+1, f[i], err)
			}
			switch key := string(f[i]); {
			case string(proto) == "TCP6":
				if key == "inuse" {
					c.InUse6 = v
				}
			case key == "inuse":
				c.InUse = v
			case key == "orphan":
				c.Orphan = v
			case key == "tw":
				c.TWSockets = v
			case key == "alloc":
				c.Alloc = v
			case key == "mem":
				c.Mem = v
			}
		}
	}
	return nil
}

// parseTables reads snmp's or netstat's tables, each a line of names and
// a line of values under one prefix ("Tcp: RtoAlgorithm RtoMin ..." then
// "Tcp: 1 200 ..."), into c: the Tcp and TcpExt ones.
func (c *Counters) parseTables(b []byte) error {
	lines := bytes.Split(b, []byte("\n"))
	for n := 0; n+1 < len(lines); n++ {
		prefix, names, ok := bytes.Cut(lines[n], []byte(":"))
		if !ok || (string(prefix) != "Tcp" && string(prefix) != "TcpExt") {
			continue
		}
		prefix2, values, ok := bytes.Cut(lines[n+1], []byte(":"))
		if !ok || !bytes.Equal(prefix, prefix2) {
			return fmt.Errorf("line %d: %s's names are not followed by its values", n+1, prefix)
		}
		nf, vf := bytes.Fields(names), bytes.Fields(values)
		if len(nf) != len(vf) {
			return fmt.Errorf("line %d: %d names and %d values", n+2, len(nf), len(vf))
		}
		for i, name := range nf {
			v, err := counterValue(vf[i])
			if err != nil {
				return fmt.Errorf("line %d: %s: %w", n+2, name, err)
			}
			if p := c.field(string(prefix), string(name)); p != nil {
				*p = v
			}
		}
		n++
	}
	return nil
}

// counterValue reads a counter: a negative one (snmp's MaxConn is -1,
// no limit) is zero.
func counterValue(b []byte) (uint64, error) {
	if len(b) > 0 && b[0] == '-' {
		if _, err := strconv.ParseInt(string(b), 10, 64); err != nil {
			return 0, err
		}
		return 0, nil
	}
	return strconv.ParseUint(string(b), 10, 64)
}

// field is the counter a table's prefix and name set, or nil for one
// tcpdash does not keep.
func (c *Counters) field(prefix, name string) *uint64 {
	if prefix == "Tcp" {
		switch name {
		case "CurrEstab":
			return &c.CurrEstab
		case "ActiveOpens":
			return &c.ActiveOpens
		case "PassiveOpens":
			return &c.PassiveOpens
		case "AttemptFails":
			return &c.AttemptFails
		case "EstabResets":
			return &c.EstabResets
		case "OutSegs":
			return &c.OutSegs
		case "RetransSegs":
			return &c.RetransSegs
		case "InErrs":
			return &c.InErrs
		case "OutRsts":
			return &c.OutRsts
		}
		return nil
	}
	switch name {
	case "TW":
		return &c.TW
	case "TWRecycled":
		return &c.TWRecycled
	case "TWKilled":
		return &c.TWKilled
	case "TCPTimeWaitOverflow":
		return &c.TCPTimeWaitOverflow
	case "ListenOverflows":
		return &c.ListenOverflows
	case "ListenDrops":
		return &c.ListenDrops
	case "TCPSynRetrans":
		return &c.TCPSynRetrans
	case "TCPTimeouts":
		return &c.TCPTimeouts
	case "TCPAbortOnData":
		return &c.TCPAbortOnData
	case "TCPAbortOnClose":
		return &c.TCPAbortOnClose
	case "TCPAbortOnMemory":
		return &c.TCPAbortOnMemory
	case "TCPAbortOnTimeout":
		return &c.TCPAbortOnTimeout
	case "TCPAbortOnLinger":
		return &c.TCPAbortOnLinger
	case "SyncookiesSent":
		return &c.SyncookiesSent
	case "SyncookiesRecv":
		return &c.SyncookiesRecv
	case "SyncookiesFailed":
		return &c.SyncookiesFailed
	case "TCPReqQFullDrop":
		return &c.TCPReqQFullDrop
	case "TCPReqQFullDoCookies":
		return &c.TCPReqQFullDoCookies
	case "TCPMemoryPressures":
		return &c.TCPMemoryPressures
	case "PruneCalled":
		return &c.PruneCalled
	case "RcvPruned":
		return &c.RcvPruned
	case "TCPBacklogDrop":
		return &c.TCPBacklogDrop
	}
	return nil
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
