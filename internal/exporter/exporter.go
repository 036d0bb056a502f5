// Package exporter serves tcpdash's snapshots to Prometheus: socket states,
// port pressure per destination with its forecast, listeners, cgroups,
// findings and the kernel counters node_exporter leaves out. It collects
// once per scrape (concurrent scrapes share one collection), never writes
// a sysctl, and reports a failed collection as tcpdash_up 0.
//
// Metric names are a contract users build alerts on: add, don't rename.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// A Source gives one namespace's snapshots; *tcpinfo.Collector is one.
type Source interface {
	Collect(tcpinfo.Query) (*tcpinfo.Snapshot, error)
}

// A Target is one namespace to export. With several, every series gets
// netns and netns_name labels.
type Target struct {
	Netns, Name string
	// Cookie is the namespace's SO_NETNS_COOKIE ("" if unknown): the
	// netns_cookie label tells apart two namespaces that had one inode.
	Cookie string
	Source Source
	// Owners reads who holds which socket; nil leaves processes out.
	Owners func() (*tcpinfo.Owners, error)
	// Findings, when Diagnosed, are the snapshot's findings as the caller
	// drew them (a fleet does at each poll, with the settings in force);
	// otherwise the exporter draws them.
	Findings  []diagnose.Finding
	Diagnosed bool
}

// Options configure an Exporter.
type Options struct {
	// Targets lists the namespaces at each scrape (namespaces come and go).
	Targets func() ([]Target, error)
	// Labelled adds netns and netns_name to every series (--netns all).
	Labelled bool
	// MaxTargets bounds the namespaces exported (0: no bound); the rest
	// are counted in tcpdash_namespaces_skipped, with those Skipped says
	// were left out before (a fleet's own bound).
	MaxTargets int
	Skipped    func() int
	// Timeout bounds a collection; a scrape that waits longer gets
	// tcpdash_up 0.
	Timeout time.Duration
	// MinInterval is the least time between two collections (default a
	// second, or four times what one costs); scrapes in between share the
	// last one. Negative: every scrape collects.
	MinInterval time.Duration
	Version     string
	Logger      *slog.Logger
	// Filter, when set, selects the sockets every socket metric counts
	// (--filter); the kernel's counters stay whole.
	Filter *filter.Filter
}

// An Exporter is a prometheus.Collector over tcpdash's snapshots.
type Exporter struct {
	opts Options

	mu       sync.Mutex
	inflight *collection
	last     *collection                  // the newest that ended
	prev     map[string]*tcpinfo.Snapshot // for growth between scrapes
	owners   map[string]*tcpinfo.Owners
}

// A collection is one scrape's snapshots, shared by the scrapes that
// arrive while it runs.
type collection struct {
	done    chan struct{}
	snaps   []labelled
	skipped int // targets past MaxTargets
	err     error
	// When it ended and what it cost, once done is closed.
	ended time.Time
	took  time.Duration
}

type labelled struct {
	target   Target
	snap     *tcpinfo.Snapshot
	prev     *tcpinfo.Snapshot
	findings []diagnose.Finding
}

// New returns an Exporter.
func New(opts Options) *Exporter {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MinInterval == 0 {
		opts.MinInterval = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Exporter{opts: opts, prev: map[string]*tcpinfo.Snapshot{}, owners: map[string]*tcpinfo.Owners{}}
}

// Describe sends nothing: the series depend on what the kernel holds (an
// unchecked collector).
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect takes (or joins) one collection and sends its series.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	c := e.collection()
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.Timeout)
	defer cancel()
	up, dump := 1.0, 0.0
	select {
	case <-c.done:
		if c.err != nil {
			e.opts.Logger.Error("collection failed", "err", c.err)
			up = 0
		}
	case <-ctx.Done():
		e.opts.Logger.Error("collection timed out", "timeout", e.opts.Timeout)
		up = 0
	}
	send(ch, descUp, prometheus.GaugeValue, up)
	send(ch, descBuild, prometheus.GaugeValue, 1, e.opts.Version)
	if f := e.opts.Filter; f != nil {
		send(ch, descFilter, prometheus.GaugeValue, 1, f.String())
	}
	if up == 0 {
		return
	}
	for _, l := range c.snaps {
		dump += l.snap.Dump.Seconds()
		e.series(ch, l)
	}
	send(ch, descDump, prometheus.GaugeValue, dump)
	if e.opts.Labelled {
		send(ch, descNamespaces, prometheus.GaugeValue, float64(len(c.snaps)))
		send(ch, descSkipped, prometheus.GaugeValue, float64(c.skipped))
	}
}

// send sends one series, its label values made safe first: a label that is
// not UTF-8 makes client_golang fail the whole scrape, and cgroup, process
// and interface names are chosen by whoever creates them. Invalid bytes and
// control characters become escapes (termsafe's, as on the screen). A
// series that still fails is left out, never the scrape.
func send(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	for i, l := range labels {
		if !utf8.ValidString(l) || !termsafe.Printable(l) {
			labels[i] = termsafe.String(l)
		}
	}
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return
	}
	ch <- m
}

// collection starts a collection, or returns the one under way, or the
// last one while it is fresh: a client scraping in a loop gets the same
// numbers again instead of keeping a core busy. Fresh is the poll
// schedule's own rule (tcpinfo.Stretch): a second, or four times what
// collecting costs.
func (e *Exporter) collection() *collection {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.inflight; c != nil {
		return c
	}
	if c := e.last; c != nil && e.opts.MinInterval > 0 && time.Since(c.ended) < (watch.Schedule{Interval: e.opts.MinInterval}).Next(c.took) {
		return c
	}
	c := &collection{done: make(chan struct{})}
	e.inflight = c
	go func() {
		start := time.Now()
		c.snaps, c.skipped, c.err = e.collect()
		e.mu.Lock()
		c.ended, c.took = time.Now(), time.Since(start)
		e.inflight, e.last = nil, c
		e.mu.Unlock()
		close(c.done)
	}()
	return c
}

// collect snapshots every target. One collection runs at a time, so the
// previous snapshots and owners need no lock of their own beyond mu.
func (e *Exporter) collect() ([]labelled, int, error) {
	targets, err := e.opts.Targets()
	if err != nil {
		return nil, 0, err
	}
	skipped := 0
	if m := e.opts.MaxTargets; m > 0 && len(targets) > m {
		skipped, targets = len(targets)-m, targets[:m]
	}
	if e.opts.Skipped != nil {
		skipped += e.opts.Skipped()
	}
	var out []labelled
	var errs []error
	now := time.Now()
	for _, t := range targets {
		e.mu.Lock()
		owners, prev := e.owners[t.Netns], e.prev[t.Netns]
		e.mu.Unlock()
		if t.Owners != nil && owners.Stale(now, 0) {
			if o, err := t.Owners(); err == nil {
				owners = o
			}
		}
		snap, err := t.Source.Collect(tcpinfo.Query{Owners: owners, Filter: e.opts.Filter})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Name, err))
			continue
		}
		e.mu.Lock()
		e.owners[t.Netns], e.prev[t.Netns] = owners, snap
		e.mu.Unlock()
		findings := t.Findings
		if !t.Diagnosed {
			findings = diagnose.Diagnose(snap, prev, nil)
		}
		out = append(out, labelled{target: t, snap: snap, prev: prev, findings: findings})
	}
	// Namespaces come and go (a pod's, with the pod): forget the ones gone,
	// or a node's churn would keep a snapshot of each for ever.
	e.mu.Lock()
	for netns := range e.prev {
		if !slices.ContainsFunc(targets, func(t Target) bool { return t.Netns == netns }) {
			delete(e.prev, netns)
			delete(e.owners, netns)
		}
	}
	e.mu.Unlock()
	if len(out) == 0 && len(errs) > 0 {
		return nil, skipped, errors.Join(errs...)
	}
	return out, skipped, nil
}

var (
	descUp    = prometheus.NewDesc("tcpdash_up", "1 if the last collection worked, 0 if it failed or timed out.", nil, nil)
	descBuild = prometheus.NewDesc("tcpdash_build_info", "tcpdash's version.", []string{"version"}, nil)
	descDump  = prometheus.NewDesc("tcpdash_dump_duration_seconds", "How long reading and aggregating the sockets took.", nil, nil)
	// Only with several namespaces (--netns all).
	descNamespaces = prometheus.NewDesc("tcpdash_namespaces", "Network namespaces exported.", nil, nil)
	descSkipped    = prometheus.NewDesc("tcpdash_namespaces_skipped", "Network namespaces left out, past the bound of 1,000 a fleet holds open.", nil, nil)
	// Only with --filter: the socket series count what it selects.
	descFilter = prometheus.NewDesc("tcpdash_filter_info", "The --filter expression every socket series is over (absent: all sockets).", []string{"filter"}, nil)
)

// desc builds a descriptor with the netns labels when the exporter has
// several namespaces.
func (e *Exporter) desc(name, help string, labels ...string) *prometheus.Desc {
	if e.opts.Labelled {
		labels = append(labels, "netns", "netns_name", "netns_cookie")
	}
	return prometheus.NewDesc(name, help, labels, nil)
}

// series sends one namespace's series.
func (e *Exporter) series(ch chan<- prometheus.Metric, l labelled) {
	s := l.snap
	extra := func(v ...string) []string {
		if e.opts.Labelled {
			v = append(v, l.target.Netns, l.target.Name, l.target.Cookie)
		}
		return v
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		send(ch, d, prometheus.GaugeValue, v, extra(labels...)...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		send(ch, d, prometheus.CounterValue, float64(v), extra(labels...)...)
	}

	sockets := e.desc("tcpdash_sockets", "TCP sockets by state (node_exporter's spelling), zeros included.", "state")
	for _, st := range tcpinfo.AllStates() {
		gauge(sockets, float64(s.States[st]), stateName(st))
	}

	ratio := e.desc("tcpdash_port_pressure_ratio", "Share of the ephemeral port range a destination group uses, TIME_WAIT included: at 1, connect() fails with EADDRNOTAVAIL.", "local_addr", "remote_addr", "remote_port")
	used := e.desc("tcpdash_port_pressure_used_ports", "Ephemeral ports a destination group uses.", "local_addr", "remote_addr", "remote_port")
	tw := e.desc("tcpdash_port_pressure_time_wait_ports", "Of those, ports held by TIME_WAIT.", "local_addr", "remote_addr", "remote_port")
	exhaust := e.desc("tcpdash_port_pressure_exhaustion_seconds", "Seconds until the group runs out of ports at the rate it takes them (since the last scrape; on the first, from the kernel's TIME_WAIT timers), its TIME_WAIT ports coming free as their timers say, as the finding forecasts it: 0 while it is out of ports, +Inf while it does not run out at that rate.", "local_addr", "remote_addr", "remote_port")
	exhausted := e.desc("tcpdash_port_pressure_exhausted", "1 while the group holds every port it has (all but half a percent; TIME_WAIT ports connect() takes over do not count): connect() to it fails now with EADDRNOTAVAIL.", "local_addr", "remote_addr", "remote_port")
	closesTo := e.desc("tcpdash_port_pressure_closes_total", "Connections of a destination group that closed since tcpdash began to listen (the port-pressure rows only; rate() it for closes per second).", "local_addr", "remote_addr", "remote_port")
	prevGroups := map[[2]string]tcpinfo.PressureGroup{}
	if l.prev != nil {
		for _, g := range l.prev.PortPressure {
			prevGroups[[2]string{g.Local.String(), g.Remote.String()}] = g
		}
	}
	for _, g := range s.PortPressure {
		lv := []string{g.Local.String(), g.Remote.Addr().String(), strconv.Itoa(int(g.Remote.Port()))}
		gauge(ratio, g.Ratio, lv...)
		gauge(used, float64(g.Used), lv...)
		gauge(tw, float64(g.TimeWait), lv...)
		gauge(exhaust, exhaustionSeconds(g, prevGroups, l), lv...)
		gauge(exhausted, boolValue(g.Exhausted()), lv...)
		if s.Closes.Watching {
			counter(closesTo, g.Closes, lv...)
		}
	}
	rtt := e.desc("tcpdash_destination_rtt_seconds", "Round-trip time of a destination's connections (--health, the top destinations): p50 and p99 of their smoothed RTTs, and the lowest seen.", "remote_addr", "remote_port", "quantile")
	retrans := e.desc("tcpdash_destination_retransmits_per_second", "Segments a destination's connections retransmit a second (--health), between two collections.", "remote_addr", "remote_port")
	share := e.desc("tcpdash_destination_retransmit_ratio", "Share of a destination's segments retransmitted over its connections' lives (--health).", "remote_addr", "remote_port")
	for _, h := range s.Health {
		lv := []string{h.Remote.Addr().String(), strconv.Itoa(int(h.Remote.Port()))}
		gauge(rtt, h.RTTP50.Seconds(), append(lv, "0.5")...)
		gauge(rtt, h.RTTP99.Seconds(), append(lv, "0.99")...)
		gauge(rtt, h.MinRTT.Seconds(), append(lv, "min")...)
		gauge(share, h.RetransPct()/100, lv...)
		if h.RatesKnown {
			gauge(retrans, h.RetransPerS, lv...)
		}
	}
	if t := s.Conntrack; t != nil {
		gauge(e.desc("tcpdash_conntrack_entries", "Entries in the namespace's connection-tracking table."), float64(t.Count))
		gauge(e.desc("tcpdash_conntrack_max_entries", "net.netfilter.nf_conntrack_max: past it, new connections are dropped."), float64(t.Max))
		ctStat := e.desc("tcpdash_conntrack_stat_total", "The table's statistics summed over CPUs, as conntrack -S names them.", "stat")
		for _, kv := range []struct {
			name string
			v    uint64
		}{{"found", t.Found}, {"invalid", t.Invalid}, {"insert", t.Insert}, {"insert_failed", t.InsertFailed},
			{"drop", t.Drop}, {"early_drop", t.EarlyDrop}, {"error", t.Error}, {"search_restart", t.SearchRestart}} {
			counter(ctStat, kv.v, kv.name)
		}
	}
	if c := s.Closes; c.Watching {
		counter(e.desc("tcpdash_closes_total", "Connections the kernel destroyed since tcpdash began to listen to its destroy notifications: every close, reset or failed connect, including connections born and gone between scrapes."), c.Total)
		counter(e.desc("tcpdash_close_notifications_lost_total", "Times the kernel dropped destroy notifications (tcpdash's socket buffer was full): each is at least one close not counted."), c.Lost)
	}
	gauge(e.desc("tcpdash_port_pressure_capacity_ports", "Usable ephemeral ports per destination group: the range less the reserved ports and the ports listened on in it."), float64(s.GroupCapacity()))
	gauge(e.desc("tcpdash_port_pressure_max_ratio", "The fullest destination group's ratio."), s.FullestRatio())

	cg := e.desc("tcpdash_cgroup_sockets", "Sockets by the cgroup that created them, by state (the top cgroups).", "cgroup", "state")
	for _, c := range s.Cgroups {
		name := c.Path
		if name == "" {
			name = strconv.FormatUint(c.ID, 10)
		}
		for _, st := range tcpinfo.AllStates() {
			if n := c.States[st]; n > 0 {
				gauge(cg, float64(n), name, stateName(st))
			}
		}
	}

	aq := e.desc("tcpdash_listener_accept_queue", "Connections waiting for accept() on a listener.", "addr", "port")
	bl := e.desc("tcpdash_listener_backlog", "The most a listener's accept queue holds.", "addr", "port")
	// Listeners sharing an address and port (SO_REUSEPORT) are one series.
	type queue struct{ accept, backlog int }
	queues := map[[2]string]queue{}
	for _, ln := range s.Listeners {
		k := [2]string{ln.Local.Addr().String(), strconv.Itoa(int(ln.Local.Port()))}
		q := queues[k]
		q.accept, q.backlog = q.accept+ln.AcceptQueue, q.backlog+ln.Backlog
		queues[k] = q
	}
	for k, q := range queues {
		gauge(aq, float64(q.accept), k[0], k[1])
		gauge(bl, float64(q.backlog), k[0], k[1])
	}

	fd := e.desc("tcpdash_findings", "Findings now, by severity and kind.", "severity", "kind")
	counts := map[[2]string]int{}
	for _, f := range l.findings {
		counts[[2]string{f.Severity.String(), f.Kind}]++
	}
	for k, n := range counts {
		gauge(fd, float64(n), k[0], k[1])
	}
	// One series per finding, so an alert can name what it is about.
	fi := e.desc("tcpdash_finding", "A finding now, with its subject (a destination, a port, a process): always 1.", "severity", "kind", "subject")
	seen := map[[3]string]bool{}
	for _, f := range l.findings {
		k := [3]string{f.Severity.String(), f.Kind, f.Subject}
		if !seen[k] {
			seen[k] = true
			gauge(fi, 1, k[:]...)
		}
	}

	c := s.Counters
	gauge(e.desc("tcpdash_time_wait_sockets", "TIME_WAIT and FIN_WAIT2 minisockets (sockstat tw): what tcp_max_tw_buckets limits."), float64(c.TWSockets))
	if s.MaxTimeWaitBuckets > 0 {
		gauge(e.desc("tcpdash_time_wait_max_sockets", "net.ipv4.tcp_max_tw_buckets: beyond it, closes skip TIME_WAIT."), float64(s.MaxTimeWaitBuckets))
	}
	// Every rising counter once more, by its nstat name: one family, its
	// cardinality fixed by the list.
	tcpCounter := e.desc("tcpdash_tcp_netstat_total", "The kernel's TCP counters (Tcp and TcpExt, as nstat names them), since boot.", "counter")
	for _, d := range tcpinfo.RisingCounters() {
		counter(tcpCounter, d.Value(c), d.Name)
	}
	gauge(e.desc("tcpdash_tcp_memory_pages", "Memory TCP sockets hold, in pages (sockstat mem): what net.ipv4.tcp_mem bounds."), float64(c.Mem))
	counter(e.desc("tcpdash_tcpext_tw_total", "TcpExt TW: sockets that entered TIME_WAIT."), c.TW)
	counter(e.desc("tcpdash_tcpext_tw_recycled_total", "TcpExt TWRecycled: TIME_WAIT reused by tcp_tw_reuse."), c.TWRecycled)
	counter(e.desc("tcpdash_tcpext_tw_killed_total", "TcpExt TWKilled."), c.TWKilled)
	counter(e.desc("tcpdash_tcpext_time_wait_overflow_total", "TcpExt TCPTimeWaitOverflow: closes that skipped TIME_WAIT, tcp_max_tw_buckets being full."), c.TCPTimeWaitOverflow)
	counter(e.desc("tcpdash_tcpext_listen_overflows_total", "TcpExt ListenOverflows: connections dropped by full accept queues."), c.ListenOverflows)
	counter(e.desc("tcpdash_tcpext_listen_drops_total", "TcpExt ListenDrops."), c.ListenDrops)
}

// exhaustionSeconds forecasts when g runs out of ports, at the rate it took
// them since the last scrape. It is defined on every scrape, so an alert's
// for: holds while the trouble lasts: 0 once the group is out of ports (its
// growth stops there, but connect() fails), +Inf while it does not run out
// at that rate.
func exhaustionSeconds(g tcpinfo.PressureGroup, prev map[[2]string]tcpinfo.PressureGroup, l labelled) float64 {
	var then *tcpinfo.PressureGroup
	var dt float64
	if p, ok := prev[[2]string{g.Local.String(), g.Remote.String()}]; ok && l.prev != nil {
		then, dt = &p, l.snap.Time.Sub(l.prev.Time).Seconds()
	}
	// The finding's own model: the screen and the alert agree.
	left := diagnose.RatesOf(g, then, dt).Left
	if left < 0 {
		return math.Inf(1)
	}
	return left.Seconds()
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// stateName is node_exporter's spelling of a state: established, time_wait.
func stateName(st tcpinfo.State) string { return strings.ToLower(st.String()) }
