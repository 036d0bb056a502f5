package exporter

import (
	"errors"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// fakeSource is a namespace with TIME_WAIT to one destination and a full
// listener; it counts its collections, and can be slow or fail.
type fakeSource struct {
	calls atomic.Int32
	delay time.Duration
	err   error
	used  atomic.Int32 // TIME_WAIT to the destination; 0 means 300
}

func (f *fakeSource) Collect(tcpinfo.Query) (*tcpinfo.Snapshot, error) {
	f.calls.Add(1)
	time.Sleep(f.delay)
	if f.err != nil {
		return nil, f.err
	}
	ports, _ := tcpinfo.ParsePortRange([]byte("40000 40999"), nil)
	a := tcpinfo.NewAggregator(ports)
	a.Reset(ports, tcpinfo.Query{})
	n := int(f.used.Load())
	if n == 0 {
		n = 300
	}
	for i := range n {
		a.Add(&tcpinfo.Socket{Family: tcpinfo.IPv4, State: tcpinfo.TimeWait, Expires: 50 * time.Second,
			Local: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), uint16(40000+i)), Remote: netip.MustParseAddrPort("10.0.0.5:3306")})
	}
	a.Add(&tcpinfo.Socket{Family: tcpinfo.IPv4, State: tcpinfo.Listen, RecvQ: 5, SendQ: 5, Local: netip.MustParseAddrPort("0.0.0.0:9000")})
	s := &tcpinfo.Snapshot{Time: time.Now()}
	a.Fill(s, 10)
	return s, nil
}

func targets(srcs ...*fakeSource) func() ([]Target, error) {
	return func() ([]Target, error) {
		var t []Target
		for i, s := range srcs {
			t = append(t, Target{Netns: "net:[" + string(rune('1'+i)) + "]", Name: "ns" + string(rune('1'+i)), Source: s})
		}
		return t, nil
	}
}

func TestMetrics(t *testing.T) {
	e := New(Options{Targets: targets(&fakeSource{}), Version: "v1.2.3"})
	want := `
# HELP tcpdash_port_pressure_used_ports Ephemeral ports a destination group uses.
# TYPE tcpdash_port_pressure_used_ports gauge
tcpdash_port_pressure_used_ports{local_addr="10.0.0.9",remote_addr="10.0.0.5",remote_port="3306"} 300
# HELP tcpdash_up 1 if the last collection worked, 0 if it failed or timed out.
# TYPE tcpdash_up gauge
tcpdash_up 1
# HELP tcpdash_listener_accept_queue Connections waiting for accept() on a listener.
# TYPE tcpdash_listener_accept_queue gauge
tcpdash_listener_accept_queue{addr="0.0.0.0",port="9000"} 5
`
	if err := testutil.CollectAndCompare(e, strings.NewReader(want), "tcpdash_up", "tcpdash_port_pressure_used_ports", "tcpdash_listener_accept_queue"); err != nil {
		t.Error(err)
	}
	// Every state, zeros included, in node_exporter's spelling.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(Options{Targets: targets(&fakeSource{})}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, mf := range mfs {
		names[mf.GetName()] = len(mf.GetMetric())
	}
	for name, n := range map[string]int{"tcpdash_sockets": 12, "tcpdash_port_pressure_ratio": 1, "tcpdash_port_pressure_time_wait_ports": 1,
		"tcpdash_port_pressure_capacity_ports": 1, "tcpdash_port_pressure_max_ratio": 1, "tcpdash_listener_backlog": 1,
		"tcpdash_tcpext_tw_total": 1, "tcpdash_tcpext_listen_overflows_total": 1, "tcpdash_dump_duration_seconds": 1,
		"tcpdash_build_info": 1, "tcpdash_up": 1} {
		if names[name] != n {
			t.Errorf("%s: %d series, want %d (all: %v)", name, names[name], n, names)
		}
	}
}

// TestFailureIsUpZero: a failing collection is tcpdash_up 0, not a crash
// or a failed scrape; so is one that outlasts the timeout.
func TestFailureIsUpZero(t *testing.T) {
	for name, src := range map[string]*fakeSource{
		"error":   {err: errors.New("netlink: no such namespace")},
		"timeout": {delay: 300 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			e := New(Options{Targets: targets(src), Timeout: 50 * time.Millisecond})
			if got := testutil.ToFloat64(prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
				c := make(chan prometheus.Metric, 100)
				e.Collect(c)
				close(c)
				for m := range c {
					if strings.Contains(m.Desc().String(), `"tcpdash_up"`) {
						ch <- m
					}
				}
			})); got != 0 {
				t.Errorf("tcpdash_up %v, want 0", got)
			}
		})
	}
}

// TestConcurrentScrapesShareOneCollection: scrapes that arrive while a
// collection runs wait for it instead of starting their own.
func TestConcurrentScrapesShareOneCollection(t *testing.T) {
	src := &fakeSource{delay: 200 * time.Millisecond}
	e := New(Options{Targets: targets(src)})
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			ch := make(chan prometheus.Metric, 1000)
			e.Collect(ch)
		})
	}
	wg.Wait()
	if n := src.calls.Load(); n != 1 {
		t.Errorf("5 concurrent scrapes made %d collections, want 1", n)
	}
}

// TestLabelledNamespaces: with several namespaces every series carries
// netns and netns_name, and no series collides.
func TestLabelledNamespaces(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(Options{Targets: targets(&fakeSource{}, &fakeSource{}), Labelled: true}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tcpdash_sockets" {
			continue
		}
		if len(mf.GetMetric()) != 24 {
			t.Errorf("%d tcpdash_sockets series for two namespaces, want 24", len(mf.GetMetric()))
		}
		for _, m := range mf.GetMetric() {
			var netns, name bool
			for _, l := range m.GetLabel() {
				netns = netns || l.GetName() == "netns"
				name = name || l.GetName() == "netns_name"
			}
			if !netns || !name {
				t.Errorf("series %v lacks netns labels", m.GetLabel())
			}
		}
	}
}

// TestFilterInfo: with --filter, tcpdash_filter_info says which one, and
// the fake source is asked for it; without, the series is absent.
func TestFilterInfo(t *testing.T) {
	f, err := filter.Parse("state time-wait dport = :3306")
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP tcpdash_filter_info The --filter expression every socket series is over (absent: all sockets).
# TYPE tcpdash_filter_info gauge
tcpdash_filter_info{filter="state time-wait dport = :3306"} 1
`
	e := New(Options{Targets: targets(&fakeSource{}), Filter: f})
	if err := testutil.CollectAndCompare(e, strings.NewReader(want), "tcpdash_filter_info"); err != nil {
		t.Error(err)
	}
	if n, _ := testutil.GatherAndCount(gatherer(New(Options{Targets: targets(&fakeSource{})})), "tcpdash_filter_info"); n != 0 {
		t.Errorf("without a filter: %d tcpdash_filter_info series", n)
	}
}

func gatherer(c prometheus.Collector) prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return reg
}

// TestGoneNamespacesForgotten: a namespace that is no longer a target (its
// pod went away) leaves nothing behind, or a node's churn would grow the
// exporter's memory for ever.
func TestGoneNamespacesForgotten(t *testing.T) {
	var n atomic.Int32
	n.Store(3)
	all := targets(&fakeSource{}, &fakeSource{}, &fakeSource{})
	e := New(Options{Labelled: true, Timeout: time.Second, MinInterval: -1, Targets: func() ([]Target, error) {
		ts, err := all()
		return ts[:n.Load()], err
	}})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e)
	for _, want := range []int{3, 1, 2} {
		n.Store(int32(want))
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
		e.mu.Lock()
		kept := len(e.prev) + len(e.owners)
		e.mu.Unlock()
		if kept > 2*want {
			t.Errorf("%d namespaces left: %d entries kept, want at most %d", want, kept, 2*want)
		}
	}
}

// TestHostileLabels: a namespace, cgroup or process name that is not UTF-8
// or holds escape codes costs its own label an escape, not the scrape.
func TestHostileLabels(t *testing.T) {
	const hostile = "\xff\x1b]2;PWN\a"
	e := New(Options{Labelled: true, Targets: func() ([]Target, error) {
		return []Target{{Netns: "net:[1]", Name: hostile, Source: &fakeSource{}}}, nil
	}})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("the scrape failed: %v", err)
	}
	n := 0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "netns_name" {
					n++
					if got, want := l.GetValue(), `\xff\x1b]2;PWN\x07`; got != want {
						t.Fatalf("netns_name %q, want %q", got, want)
					}
				}
			}
		}
	}
	if n < 12 {
		t.Errorf("%d series carry the namespace's name, want every socket series", n)
	}
}

// TestFreshCollectionShared: scrapes in a loop share the last collection
// while it is fresh, so one client cannot keep a core busy.
func TestFreshCollectionShared(t *testing.T) {
	for _, tc := range []struct {
		min  time.Duration
		want int32
	}{{time.Hour, 1}, {-1, 3}} {
		src := &fakeSource{}
		g := gatherer(New(Options{Targets: targets(src), MinInterval: tc.min}))
		for range 3 {
			if _, err := g.Gather(); err != nil {
				t.Fatal(err)
			}
		}
		if n := src.calls.Load(); n != tc.want {
			t.Errorf("MinInterval %v: 3 scrapes made %d collections, want %d", tc.min, n, tc.want)
		}
	}
}

// TestExhaustionOnEveryScrape: the forecast is defined on every scrape, so
// an alert's for: holds: +Inf while the group does not grow, seconds while
// it grows, 0 with tcpdash_port_pressure_exhausted 1 once it is out of
// ports and can grow no more.
func TestExhaustionOnEveryScrape(t *testing.T) {
	src := &fakeSource{}
	g := gatherer(New(Options{Targets: targets(src), MinInterval: -1}))
	value := func(name string) float64 {
		t.Helper()
		mfs, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no %s", name)
		return 0
	}
	if v := value("tcpdash_port_pressure_exhaustion_seconds"); !math.IsInf(v, 1) {
		t.Errorf("first scrape: %v, want +Inf (no growth known)", v)
	}
	src.used.Store(600)
	if v := value("tcpdash_port_pressure_exhaustion_seconds"); v <= 0 || math.IsInf(v, 1) {
		t.Errorf("growing: %v, want a time", v)
	}
	src.used.Store(1000)
	if v := value("tcpdash_port_pressure_exhaustion_seconds"); v != 0 {
		t.Errorf("out of ports: %v, want 0", v)
	}
	for range 2 { // at the cap it no longer grows: still 0, still exhausted
		if v := value("tcpdash_port_pressure_exhaustion_seconds"); v != 0 {
			t.Errorf("out of ports, not growing: %v, want 0", v)
		}
		if v := value("tcpdash_port_pressure_exhausted"); v != 1 {
			t.Errorf("tcpdash_port_pressure_exhausted %v, want 1", v)
		}
	}
	src.used.Store(500)
	if v := value("tcpdash_port_pressure_exhausted"); v != 0 {
		t.Errorf("recovered: exhausted %v, want 0", v)
	}
}

// TestMaxTargets: past MaxTargets namespaces are left out and counted, so
// a user who can create namespaces cannot grow the scrape without end.
func TestMaxTargets(t *testing.T) {
	g := gatherer(New(Options{Targets: targets(&fakeSource{}, &fakeSource{}, &fakeSource{}), Labelled: true, MaxTargets: 2}))
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	names := map[string]bool{}
	for _, mf := range mfs {
		if m := mf.GetMetric(); len(m) == 1 && m[0].GetGauge() != nil {
			got[mf.GetName()] = m[0].GetGauge().GetValue()
		}
		if mf.GetName() == "tcpdash_sockets" {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "netns_name" {
						names[l.GetValue()] = true
					}
				}
			}
		}
	}
	if got["tcpdash_namespaces"] != 2 || got["tcpdash_namespaces_skipped"] != 1 || len(names) != 2 {
		t.Errorf("namespaces %v, skipped %v, exported %v; want 2, 1 and two names", got["tcpdash_namespaces"], got["tcpdash_namespaces_skipped"], names)
	}
}

// TestDiagnosedTargets: a target its caller diagnosed (a fleet, at its
// poll) is exported with those findings, not diagnosed again.
func TestDiagnosedTargets(t *testing.T) {
	e := New(Options{Targets: func() ([]Target, error) {
		return []Target{{Netns: "net:[1]", Name: "ns1", Source: &fakeSource{}, Diagnosed: true,
			Findings: []diagnose.Finding{{Kind: "from_the_fleet", Severity: diagnose.Critical, Subject: "x"}}}}, nil
	}})
	want := `
# HELP tcpdash_findings Findings now, by severity and kind.
# TYPE tcpdash_findings gauge
tcpdash_findings{kind="from_the_fleet",severity="critical"} 1
`
	if err := testutil.CollectAndCompare(e, strings.NewReader(want), "tcpdash_findings"); err != nil {
		t.Error(err)
	}
}
