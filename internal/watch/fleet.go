package watch

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/namespaces"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// Options say how a Fleet watches its namespaces.
type Options struct {
	Source    tcpinfo.Source
	Top       int
	Once      bool // one snapshot each: dump every namespace, remember no owners
	Processes bool // name the processes holding sockets
	Filter    *filter.Filter
	Max       int // namespaces held open at most; 0: MaxMembers
}

// MaxMembers bounds the namespaces a fleet holds open: each holds a
// namespace descriptor and a netlink socket, and a user who can create
// namespaces must not drive tcpdash to its descriptor limit.
const MaxMembers = 1000

// Skipped is how many namespaces the last Refresh left out, past the
// bound.
func (fl *Fleet) Skipped() int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.skipped
}

// Lock and Unlock keep callers from different goroutines (a dashboard's
// panes, an exporter's scrapes) from polling at once.
func (fl *Fleet) Lock()   { fl.mu.Lock() }
func (fl *Fleet) Unlock() { fl.mu.Unlock() }

// Members are the namespaces of the last Refresh, in order. Do not keep
// them past the next.
func (fl *Fleet) Members() []*Member {
	out := make([]*Member, 0, len(fl.order))
	for _, inode := range fl.order {
		out = append(out, fl.members[inode])
	}
	return out
}

// Cgroups is the fleet's one cgroup resolver: ids are host-wide.
func (fl *Fleet) Cgroups() tcpinfo.CgroupResolver { return fl.cgroups }

// OwnersIn is the last /proc walk's owners in the namespace id, or nil.
func (fl *Fleet) OwnersIn(id string) *tcpinfo.Owners { return fl.ownersOf[id] }

// A Member is one namespace of --netns all, held open while watched.
type Member struct {
	Watched *Namespace
	Col     *tcpinfo.Collector
	// dash is the collector the dashboard polls when it watches this
	// namespace: its own socket, so the Namespaces pane's polls never
	// share one with it.
	Dash     *tcpinfo.Collector
	Prev     *tcpinfo.Snapshot
	Findings []diagnose.Finding // of Prev
	Settings []tuning.Setting
	// cookie is the namespace's SO_NETNS_COOKIE, 0 if the kernel has none:
	// Linux reuses a gone namespace's inode, never its cookie.
	Cookie uint64
}

func (m *Member) Close() {
	m.Col.Close()
	if m.Dash != nil {
		m.Dash.Close()
	}
	m.Watched.Close()
}

// A Fleet is every network namespace on the host, kept in step with the
// namespaces that come and go.
type Fleet struct {
	mu      sync.Mutex // the dashboard asks from its own goroutines
	opts    Options
	cgroups tcpinfo.CgroupResolver // one for all: cgroup ids are host-wide
	finder  *namespaces.Finder
	self    uint64
	members map[uint64]*Member
	order   []uint64
	skipped int // namespaces past MaxMembers at the last Refresh
	// One /proc walk names the owners in every namespace.
	owners   *tcpinfo.Owners // any of ownersOf, for its time and cost
	ownersOf map[string]*tcpinfo.Owners
}

// readOwners walks /proc once for every namespace's owners.
func (fl *Fleet) readOwners(stderr io.Writer) {
	ids := make([]string, 0, len(fl.order))
	for _, inode := range fl.order {
		ids = append(ids, fl.members[inode].Watched.ID())
	}
	all, err := tcpinfo.ReadOwnersAll("/proc", ids)
	if err != nil {
		fmt.Fprintf(stderr, "tcpdash: warning: cannot attribute sockets to processes: %s\n", termsafe.Error(err))
		return
	}
	fl.ownersOf = all
	for _, o := range all {
		fl.owners = o
		break
	}
}

func NewFleet(opts Options) (*Fleet, error) {
	f := namespaces.NewFinder()
	self, err := f.Self()
	if err != nil {
		return nil, fmt.Errorf("own network namespace: %w", err)
	}
	return &Fleet{opts: opts, finder: f, self: self.Inode, members: map[uint64]*Member{}, cgroups: CgroupResolver()}, nil
}

// Refresh opens the namespaces that appeared and closes the handles of
// those that went away: an open handle keeps a namespace alive.
func (fl *Fleet) Refresh(stderr io.Writer) error {
	all, err := fl.finder.All()
	if err != nil {
		return err
	}
	// Those gone first: their places are free for new ones.
	seen := make(map[uint64]bool, len(all))
	for _, ns := range all {
		seen[ns.Inode] = true
	}
	for inode, m := range fl.members {
		if !seen[inode] {
			m.Close()
			delete(fl.members, inode)
		}
	}
	fl.order, fl.skipped = fl.order[:0], 0
	for _, ns := range all {
		m, ok := fl.members[ns.Inode]
		switch {
		case ok:
			m.Watched.NS = ns // names change as processes come and go
		case len(fl.members) >= cmp.Or(fl.opts.Max, MaxMembers):
			fl.skipped++ // counted, not opened: each costs descriptors
			continue
		default:
			if m, err = fl.open(ns); err != nil {
				// It may have gone in between; the others go on.
				fmt.Fprintf(stderr, "tcpdash: warning: %s: %s\n", termsafe.String(ns.String()), termsafe.Error(err))
				continue
			}
			fl.members[ns.Inode] = m
			fl.owners = nil // a new namespace: walk /proc for its owners now
		}
		fl.order = append(fl.order, ns.Inode)
	}
	return nil
}

func (fl *Fleet) open(ns namespaces.Namespace) (*Member, error) {
	w := &Namespace{NS: ns}
	if ns.Inode != fl.self {
		h, err := namespaces.Enter(ns)
		if err != nil {
			return nil, err
		}
		w.Handle = h
	}
	col, err := tcpinfo.NewCollector(tcpinfo.Options{Source: fl.opts.Source, Top: fl.opts.Top,
		Namespace: w.CollectorNamespace(), Cgroups: fl.cgroups, RememberOwners: !fl.opts.Once})
	if err != nil {
		w.Close()
		return nil, err
	}
	return &Member{Watched: w, Col: col, Settings: w.Settings(), Cookie: w.Cookie()}, nil
}

func (fl *Fleet) Close() {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	for _, m := range fl.members {
		m.Close()
	}
}

// Quiet namespaces are refreshed, oldest first, once their snapshot is
// refreshEvery old, but only as far as refreshBudget of dumping a poll
// allows: the rest wait for the next poll, so that refreshes spread out
// instead of all coming due at once.
const (
	// fleetOwnersAge is how often the host-wide /proc walk runs for a
	// fleet at most: it serves every namespace, which are dumped on
	// this schedule when quiet anyway.
	fleetOwnersAge = 5 * time.Second
	refreshEvery   = 5 * time.Second
	refreshBudget  = 100 * time.Millisecond
	firstBudget    = 500 * time.Millisecond
)

// moved reports whether m's namespace changed since its last snapshot, by
// its counters (inuse, tw, orphans, and the opens, resets and overflows
// since boot). A dump walks the host's whole socket hash, so 50 empty
// namespaces cost as much as 50 dumps of every socket on the host; the
// counters cost a read.
func (m *Member) moved() bool {
	if m.Prev == nil {
		return true
	}
	c, err := m.Col.Counters()
	if err != nil {
		return true
	}
	p := m.Prev.Counters
	return c.InUse != p.InUse || c.InUse6 != p.InUse6 || c.TWSockets != p.TWSockets || c.Orphan != p.Orphan ||
		c.ActiveOpens != p.ActiveOpens || c.PassiveOpens != p.PassiveOpens || c.EstabResets != p.EstabResets ||
		c.AttemptFails != p.AttemptFails || c.ListenOverflows != p.ListenOverflows || c.CurrEstab != p.CurrEstab
}

// Poll snapshots every namespace that moved, and the quiet ones due for a
// refresh as far as the budget goes; the others keep their last snapshot,
// whose time says when it was taken. --once dumps them all.
func (fl *Fleet) Poll(stderr io.Writer) ([]*tcpinfo.Snapshot, [][]diagnose.Finding) {
	now := time.Now()
	if fl.opts.Processes && fl.owners.Stale(now, fleetOwnersAge) {
		fl.readOwners(stderr)
	}
	// Which to dump: those that moved, then the stalest quiet ones.
	dump := map[*Member]bool{}
	var fresh, due []*Member
	for _, inode := range fl.order {
		m := fl.members[inode]
		switch {
		case fl.opts.Once:
			dump[m] = true
		case m.Prev == nil:
			fresh = append(fresh, m)
		case m.moved():
			dump[m] = true
		case now.Sub(m.Prev.Time) >= refreshEvery:
			due = append(due, m)
		}
	}
	slices.SortFunc(due, func(a, b *Member) int { return a.Prev.Time.Compare(b.Prev.Time) })
	var spent time.Duration
	collect := func(m *Member) {
		snap, err := m.Col.Collect(tcpinfo.Query{Owners: fl.ownersOf[m.Watched.ID()], Filter: fl.opts.Filter})
		if err != nil {
			fmt.Fprintf(stderr, "tcpdash: warning: %s: %s\n", termsafe.String(m.Watched.String()), termsafe.Error(err))
			return
		}
		spent += snap.Dump
		m.Watched.LabelAlways(snap)
		m.Findings = diagnose.Diagnose(snap, m.Prev, m.Settings)
		m.Prev = snap
	}
	for _, inode := range fl.order {
		if m := fl.members[inode]; dump[m] {
			collect(m)
		}
	}
	// Namespaces never dumped come in as far as firstBudget goes, so that
	// a fleet of hundreds answers its first poll (an exporter's scrape) in
	// time; the rest come at the next.
	for i, m := range fresh {
		if i > 0 && spent >= firstBudget {
			break
		}
		collect(m)
	}
	for _, m := range due {
		if spent >= refreshBudget {
			break
		}
		collect(m)
	}
	var snaps []*tcpinfo.Snapshot
	var findings [][]diagnose.Finding
	for _, inode := range fl.order {
		if m := fl.members[inode]; m.Prev != nil {
			snaps = append(snaps, m.Prev)
			findings = append(findings, m.Findings)
		}
	}
	return snaps, findings
}
