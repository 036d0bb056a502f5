package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/tcpdash/tcpdash/internal/watch"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/namespaces"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
	"github.com/tcpdash/tcpdash/ui"
)

// A member is one namespace of --netns all, held open while watched.
type member struct {
	w   *watch.Namespace
	col *tcpinfo.Collector
	// dash is the collector the dashboard polls when it watches this
	// namespace: its own socket, so the Namespaces pane's polls never
	// share one with it.
	dash     *tcpinfo.Collector
	prev     *tcpinfo.Snapshot
	findings []diagnose.Finding // of prev
	settings []tuning.Setting
	// cookie is the namespace's SO_NETNS_COOKIE, 0 if the kernel has none:
	// Linux reuses a gone namespace's inode, never its cookie.
	cookie uint64
}

func (m *member) Close() {
	m.col.Close()
	if m.dash != nil {
		m.dash.Close()
	}
	m.w.Close()
}

// A fleet is every network namespace on the host, kept in step with the
// namespaces that come and go.
type fleet struct {
	mu      sync.Mutex // the dashboard asks from its own goroutines
	cfg     config
	cgroups tcpinfo.CgroupResolver // one for all: cgroup ids are host-wide
	finder  *namespaces.Finder
	self    uint64
	members map[uint64]*member
	order   []uint64
	// One /proc walk names the owners in every namespace.
	owners   *tcpinfo.Owners // any of ownersOf, for its time and cost
	ownersOf map[string]*tcpinfo.Owners
}

// readOwners walks /proc once for every namespace's owners.
func (fl *fleet) readOwners(stderr io.Writer) {
	ids := make([]string, 0, len(fl.order))
	for _, inode := range fl.order {
		ids = append(ids, fl.members[inode].w.NS.ID())
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

func newFleet(cfg config) (*fleet, error) {
	f := namespaces.NewFinder()
	self, err := f.Self()
	if err != nil {
		return nil, fmt.Errorf("own network namespace: %w", err)
	}
	return &fleet{cfg: cfg, finder: f, self: self.Inode, members: map[uint64]*member{}, cgroups: watch.CgroupResolver()}, nil
}

// refresh opens the namespaces that appeared and closes the handles of
// those that went away: an open handle keeps a namespace alive.
func (fl *fleet) refresh(stderr io.Writer) error {
	all, err := fl.finder.All()
	if err != nil {
		return err
	}
	seen := map[uint64]bool{}
	fl.order = fl.order[:0]
	for _, ns := range all {
		seen[ns.Inode] = true
		m, ok := fl.members[ns.Inode]
		if !ok {
			if m, err = fl.open(ns); err != nil {
				// It may have gone in between; the others go on.
				fmt.Fprintf(stderr, "tcpdash: warning: %s: %s\n", termsafe.String(ns.String()), termsafe.Error(err))
				continue
			}
			fl.members[ns.Inode] = m
			fl.owners = nil // a new namespace: walk /proc for its owners now
		} else {
			m.w.NS = ns // names change as processes come and go
		}
		fl.order = append(fl.order, ns.Inode)
	}
	for inode, m := range fl.members {
		if !seen[inode] {
			m.Close()
			delete(fl.members, inode)
		}
	}
	return nil
}

func (fl *fleet) open(ns namespaces.Namespace) (*member, error) {
	w := &watch.Namespace{NS: ns}
	if ns.Inode != fl.self {
		h, err := namespaces.Enter(ns)
		if err != nil {
			return nil, err
		}
		w.Handle = h
	}
	col, err := tcpinfo.NewCollector(tcpinfo.Options{Source: fl.cfg.source, Top: fl.cfg.top,
		Namespace: w.CollectorNamespace(), Cgroups: fl.cgroups, RememberOwners: !fl.cfg.once})
	if err != nil {
		w.Close()
		return nil, err
	}
	return &member{w: w, col: col, settings: w.Settings(), cookie: w.Cookie()}, nil
}

func (fl *fleet) Close() {
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
	refreshEvery  = 5 * time.Second
	refreshBudget = 100 * time.Millisecond
	firstBudget   = 500 * time.Millisecond
)

// moved reports whether m's namespace changed since its last snapshot, by
// its counters (inuse, tw, orphans, and the opens, resets and overflows
// since boot). A dump walks the host's whole socket hash, so 50 empty
// namespaces cost as much as 50 dumps of every socket on the host; the
// counters cost a read.
func (m *member) moved() bool {
	if m.prev == nil {
		return true
	}
	c, err := m.col.Counters()
	if err != nil {
		return true
	}
	p := m.prev.Counters
	return c.InUse != p.InUse || c.InUse6 != p.InUse6 || c.TWSockets != p.TWSockets || c.Orphan != p.Orphan ||
		c.ActiveOpens != p.ActiveOpens || c.PassiveOpens != p.PassiveOpens || c.EstabResets != p.EstabResets ||
		c.AttemptFails != p.AttemptFails || c.ListenOverflows != p.ListenOverflows || c.CurrEstab != p.CurrEstab
}

// poll snapshots every namespace that moved, and the quiet ones due for a
// refresh as far as the budget goes; the others keep their last snapshot,
// whose time says when it was taken. --once dumps them all.
func (fl *fleet) poll(stderr io.Writer) ([]*tcpinfo.Snapshot, [][]diagnose.Finding) {
	now := time.Now()
	if fl.cfg.processes && fl.owners.Stale(now) {
		fl.readOwners(stderr)
	}
	// Which to dump: those that moved, then the stalest quiet ones.
	dump := map[*member]bool{}
	var fresh, due []*member
	for _, inode := range fl.order {
		m := fl.members[inode]
		switch {
		case fl.cfg.once:
			dump[m] = true
		case m.prev == nil:
			fresh = append(fresh, m)
		case m.moved():
			dump[m] = true
		case now.Sub(m.prev.Time) >= refreshEvery:
			due = append(due, m)
		}
	}
	slices.SortFunc(due, func(a, b *member) int { return a.prev.Time.Compare(b.prev.Time) })
	var spent time.Duration
	collect := func(m *member) {
		snap, err := m.col.Collect(tcpinfo.Query{Owners: fl.ownersOf[m.w.NS.ID()], Filter: fl.cfg.filter})
		if err != nil {
			fmt.Fprintf(stderr, "tcpdash: warning: %s: %s\n", termsafe.String(m.w.String()), termsafe.Error(err))
			return
		}
		spent += snap.Dump
		m.w.LabelAlways(snap)
		m.findings = diagnose.Diagnose(snap, m.prev, m.settings)
		m.prev = snap
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
		if m := fl.members[inode]; m.prev != nil {
			snaps = append(snaps, m.prev)
			findings = append(findings, m.findings)
		}
	}
	return snaps, findings
}

// runAll is --netns all for --once and --json: every namespace's
// snapshot, in one object (one per line when streaming).
func runAll(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	dashboard := !cfg.once && !cfg.json && isTerminal(stdout)
	if !cfg.once && !cfg.json && !dashboard {
		fmt.Fprintln(stderr, "tcpdash: stdout is not a terminal: printing one snapshot (use --once to say so, --json for JSON)")
		cfg.once = true
	}
	fl, err := newFleet(cfg)
	if err != nil {
		return err
	}
	defer fl.Close()
	if dashboard {
		return runFleetDashboard(ctx, cfg, fl)
	}
	interval := cfg.interval
	for n := 0; cfg.once && n < 1 || !cfg.once && (cfg.count == 0 || n < cfg.count); n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(interval):
			}
		}
		if err := fl.refresh(stderr); err != nil {
			return err
		}
		start := time.Now()
		snaps, findings := fl.poll(stderr)
		if len(snaps) == 0 {
			return errors.New("no network namespace could be read")
		}
		if cfg.json {
			if err := writeFleetJSON(stdout, start, interval, !cfg.once, snaps, findings); err != nil {
				return err
			}
		} else {
			for i, snap := range snaps {
				if i > 0 {
					fmt.Fprintln(stdout)
				}
				if err := writeReport(stdout, snap, findings[i]); err != nil {
					return err
				}
			}
		}
		// A fleet is polled in full: stretch by the time it took.
		interval = watch.Schedule{Interval: cfg.interval}.Next(time.Since(start))
	}
	return nil
}

// writeFleetJSON writes one object: {"time", "interval_ms" (streams),
// "namespaces": [snapshot objects, each with netns, names and findings]}.
func writeFleetJSON(w io.Writer, t time.Time, interval time.Duration, stream bool, snaps []*tcpinfo.Snapshot, findings [][]diagnose.Finding) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"time":%q,`, t.Format(time.RFC3339Nano))
	if stream {
		fmt.Fprintf(&b, `"interval_ms":%d,`, interval.Milliseconds())
	}
	b.WriteString(`"namespaces":[`)
	for i, snap := range snaps {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeJSON(&b, snap, findings[i]); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // writeJSON ends its line
	}
	b.WriteString("]}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// Overview is the Namespaces pane's poll: every namespace, triaged.
func (fl *fleet) Overview() ([]ui.NamespaceRow, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if err := fl.refresh(io.Discard); err != nil {
		return nil, err
	}
	snaps, findings := fl.poll(io.Discard)
	rows := make([]ui.NamespaceRow, 0, len(snaps))
	for i, s := range snaps {
		r := ui.NamespaceRow{Netns: s.Netns, Names: slices.Clone(s.Names), Snap: s}
		if len(findings[i]) > 0 {
			r.Worst = &findings[i][0]
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// Watch hands the dashboard one namespace: its own collector, a tuner
// acting on it, and its owners.
func (fl *fleet) Watch(netns string) (ui.Watch, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	var m *member
	for _, x := range fl.members {
		if x.w.NS.ID() == netns {
			m = x
		}
	}
	if m == nil {
		return ui.Watch{}, fmt.Errorf("network namespace %s is gone", netns)
	}
	if m.dash == nil {
		col, err := tcpinfo.NewCollector(tcpinfo.Options{Source: fl.cfg.source, Top: fl.cfg.top,
			Namespace: m.w.CollectorNamespace(), Cgroups: fl.cgroups, RememberOwners: true})
		if err != nil {
			return ui.Watch{}, err
		}
		m.dash = col
	}
	w := ui.Watch{Source: m.dash, Tuner: fl.cfg.tuneFiles.system(m.w), Netns: m.w.String(), Where: m.w.Describe()}
	if fl.cfg.processes {
		w.Owners = m.w.OwnersReader()
	}
	return w, nil
}
