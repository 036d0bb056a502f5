package tcpinfo

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/procfs"
)

// Options configure a Collector. The zero value polls the live kernel.
type Options struct {
	// Source forces a source; empty picks netlink, falling back to procfs
	// when the kernel has no socket-diag support.
	Source Source
	// Top bounds every table of a snapshot; 0 means 10.
	Top int
	// ProcRoot and SysctlRoot default to /proc and /proc/sys.
	ProcRoot, SysctlRoot string
	// Namespace is the network namespace to watch; nil is tcpdash's own.
	Namespace Namespace
	// Cgroups names the cgroups sockets come from; nil leaves them ids.
	Cgroups CgroupResolver
	// RememberOwners carries the process and cgroup seen holding a
	// connection over to its TIME_WAIT, across snapshots (for streams:
	// one snapshot cannot see the past).
	RememberOwners bool
	// WatchCloses listens to the kernel's destroy notifications beside the
	// dumps, to count every close per destination (Snapshot.Closes). For
	// streams and dashboards: a single snapshot has no time to listen.
	WatchCloses bool
	// Conntrack reads the namespace's connection-tracking table each
	// snapshot (Snapshot.Conntrack); nil leaves it out.
	Conntrack ConntrackReader
	// Health asks the kernel for each socket's tcp_info (roughly doubling
	// what a dump copies) and sums it per destination (Snapshot.Health).
	Health bool
	// Openers names the openers of the namespace's connections (the eBPF
	// source); OpenersNote says why there is none, for the snapshot.
	Openers     OpenerIndex
	OpenersNote string
	// OneShot says the collector takes one snapshot and its process exits:
	// its largest tables come from memory backed by huge pages, never
	// given back (Aggregator.OneShot). Not for a fleet: each namespace
	// would hold huge pages of its own.
	OneShot bool
}

// A CgroupResolver maps cgroup ids to paths and names
// (*cgroups.Resolver is the real one).
type CgroupResolver interface {
	Resolve(id uint64) (path, name string, ok bool)
}

// A Namespace is a network namespace held open for watching
// (*namespaces.Handle is the real one).
type Namespace interface {
	// NetNSFD refers to the namespace, to create netlink sockets in it.
	NetNSFD() int
	// Do runs fn on a thread inside it: /proc/sys resolves there, and
	// the thread's /proc/PID/task/TID/net shows it.
	Do(fn func() error) error
}

// A dumper streams sockets; *Conn is the real one.
type dumper interface {
	Dump(Family, StateSet, func(*Socket)) error
	DumpProgram(Family, StateSet, []byte, func(*Socket)) error
	Close() error
}

// A Collector takes snapshots. It is not safe for concurrent use.
type Collector struct {
	opts Options
	conn dumper // nil when reading /proc
	// families are the dumps of a snapshot on netlink: both families in
	// one walk of the kernel's tables, or, on a kernel that refuses that,
	// IPv4 then IPv6.
	families []Family
	// program is compiledFor's program, kept while the filter stays (a
	// dashboard polls one filter for many seconds); programRefused says
	// the kernel refused one (EINVAL), so filters are evaluated here.
	compiledFor    *filter.Filter
	program        []byte
	programRefused bool
	note           string
	agg            *Aggregator
	// now and counters are the clock and the counter reader; tests give
	// a slow dump its own clock.
	now      func() time.Time
	counters func() (Counters, error)
	// zones names interfaces by index, for link-local addresses.
	zones map[uint32]string
	// closes reads the destroy notifications into book; closesErr says
	// why they are not read, when asked for.
	closes    *closeWatch
	closesErr string
	book      *closeBook
	closeBuf  []closeEvent
	// procRates follows each process's CLOSE_WAIT from walk to walk.
	procRates procRates
	// healthPrev is the last snapshot's tcp_info samples, by cookie, and
	// when: the destinations' rates are measured against it.
	healthPrev map[uint64]sockSample
	healthAt   time.Time
	// ctPrev is the last table read, for its rates.
	ctPrev *Conntrack
	ctAt   time.Time
}

// NewCollector opens the socket source.
func NewCollector(opts Options) (*Collector, error) {
	return newCollector(opts, func() (dumper, error) {
		if opts.Namespace != nil {
			return DialIn(opts.Namespace.NetNSFD())
		}
		return Dial()
	})
}

func newCollector(opts Options, dial func() (dumper, error)) (*Collector, error) {
	if opts.Top == 0 {
		opts.Top = 10
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.SysctlRoot == "" {
		opts.SysctlRoot = filepath.Join(opts.ProcRoot, "sys")
	}
	c := &Collector{opts: opts, agg: NewAggregator(PortRange{}), now: time.Now,
		counters: func() (Counters, error) { return ReadCounters(opts.ProcRoot) }}
	if opts.OneShot {
		c.agg.OneShot()
	}
	if ns := opts.Namespace; ns != nil {
		c.counters = func() (c Counters, err error) {
			err = ns.Do(func() (err error) { c, err = ReadCountersAt(threadProcDir()); return err })
			return c, err
		}
	}
	switch opts.Source {
	case SourceProcfs:
		c.note = "procfs requested"
		return c, nil
	case "", SourceNetlink:
	default:
		return nil, fmt.Errorf("tcpinfo: unknown source %q", opts.Source)
	}
	conn, err := dial()
	if err == nil {
		if c.families, err = probe(conn); err != nil {
			conn.Close()
		}
	}
	switch {
	case err == nil:
		c.conn = conn
		if w, ok := conn.(interface{ WantInfo(bool) }); ok && opts.Health {
			w.WantInfo(true)
		}
		if opts.WatchCloses {
			c.listenCloses()
		}
	case opts.Source == "" && unsupported(err):
		c.note = "netlink sock_diag unavailable (" + err.Error() + "); reading /proc/net/tcp"
	default:
		return nil, err
	}
	return c, nil
}

// probe asks for a dump of no state, to learn which dumps the kernel
// serves: one of both families, else one a family; a kernel without
// tcp_diag accepts the socket but rejects every dump. With no state asked
// for, the kernel walks neither its listeners' table nor its established
// one (a probe of the listeners walked every listening bucket), yet
// refuses a request or a protocol it cannot serve as it would any dump.
func probe(conn dumper) ([]Family, error) {
	none := func(*Socket) {}
	if conn.Dump(BothFamilies, 0, none) == nil {
		return []Family{BothFamilies}, nil
	}
	if err := conn.Dump(IPv4, 0, none); err != nil {
		return nil, err
	}
	return []Family{IPv4, IPv6}, nil
}

// unsupported reports whether err means the kernel lacks socket diag.
func unsupported(err error) bool {
	return errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOENT) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EAFNOSUPPORT)
}

// Source says where sockets come from, and why if not netlink.
func (c *Collector) Source() (Source, string) {
	if c.conn != nil {
		return SourceNetlink, ""
	}
	return SourceProcfs, c.note
}

// listenCloses subscribes to the destroy notifications in the watched
// namespace; a failure (no root) is said in every snapshot.
func (c *Collector) listenCloses() {
	fd := 0
	if c.opts.Namespace != nil {
		fd = c.opts.Namespace.NetNSFD()
	}
	w, err := watchCloses(fd)
	if err != nil {
		c.closesErr = err.Error()
		return
	}
	c.closes, c.book = w, newCloseBook(w.start)
}

// foldCloses counts the closes since the last snapshot and puts them on
// snap's rows.
func (c *Collector) foldCloses(snap *Snapshot) {
	if c.closes == nil {
		if c.closesErr != "" {
			snap.Closes.Err = c.closesErr
		}
		return
	}
	now := time.Now()
	var lost uint64
	var err error
	c.closeBuf, lost, err = c.closes.take(c.closeBuf)
	c.book.fold(c.closeBuf, snap.PortRange, c.agg.listening)
	c.book.forget(now.Sub(c.book.start))
	c.book.annotate(snap, now)
	snap.Closes = c.book.stats(now)
	snap.Closes.Lost = lost
	if err != nil {
		snap.Closes.Err = err.Error()
	}
	if cap(c.closeBuf) > 1<<16 {
		c.closeBuf = nil // a burst's storage is not kept
	}
}

// readConntrack puts the table on snap, with its rates since the last
// read; a namespace without tracking has none (absent, not zero).
func (c *Collector) readConntrack(snap *Snapshot) {
	if c.opts.Conntrack == nil {
		return
	}
	t, err := c.opts.Conntrack.Read()
	if err != nil {
		c.ctPrev = nil
		return
	}
	now := time.Now()
	if p := c.ctPrev; p != nil {
		if dt := now.Sub(c.ctAt).Seconds(); dt > 0 {
			rate := func(n, was uint64) float64 { return float64(n-min(n, was)) / dt }
			t.DropPerS, t.EarlyDropPerS = rate(t.Drop, p.Drop), rate(t.EarlyDrop, p.EarlyDrop)
			t.InsertFailedPerS, t.InvalidPerS, t.RatesKnown = rate(t.InsertFailed, p.InsertFailed), rate(t.Invalid, p.Invalid), true
		}
	}
	c.ctPrev, c.ctAt = &t, now
	snap.Conntrack = &t
}

// destinationEvents puts what the event source saw of each destination
// (failed connects, resets) on its pressure rows and endpoint rows.
func destinationEvents(snap *Snapshot, idx OpenerIndex) {
	of := func(remote netip.AddrPort) *DestinationEvents {
		d, _ := idx.Destination(remote)
		return &d
	}
	for i := range snap.PortPressure {
		snap.PortPressure[i].Events = of(snap.PortPressure[i].Remote)
	}
	for i := range snap.TopRemoteEndpoints {
		snap.TopRemoteEndpoints[i].Events = of(snap.TopRemoteEndpoints[i].Endpoint)
	}
}

// Close releases the netlink sockets.
func (c *Collector) Close() error {
	if c.closes != nil {
		c.closes.Close()
	}
	if cl, ok := c.opts.Conntrack.(interface{ Close() error }); ok {
		cl.Close()
	}
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// Counters reads the namespace's counters alone: a fraction of a
// millisecond, where a dump walks the host's whole socket hash (shared by
// every namespace) even for a namespace with no sockets. Watching many
// namespaces, callers triage with it and dump those whose counters moved.
func (c *Collector) Counters() (Counters, error) { return c.counters() }

// Collect takes one snapshot, its tables built for q.
func (c *Collector) Collect(q Query) (*Snapshot, error) {
	var ports PortRange
	var maxTW int
	var reuse TimeWaitReuse
	err := c.inNamespace(func() (err error) {
		if ports, err = ReadPortRange(c.opts.SysctlRoot); err != nil {
			return err
		}
		if maxTW, err = readSysctlInt(c.opts.SysctlRoot, "net/ipv4/tcp_max_tw_buckets"); err != nil {
			return err
		}
		reuse, err = readTimeWaitReuse(c.opts.SysctlRoot)
		return err
	})
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{MaxTimeWaitBuckets: maxTW, TimeWaitReuse: reuse}
	snap.Source, snap.SourceNote = c.Source()

	// The counters are read at the instant Time names, before the dump:
	// Δcounter/Δtime between two snapshots is then exact, however long
	// the dump between them takes (hundreds of ms at 300k sockets).
	before := c.now()
	if snap.Counters, err = c.counters(); err != nil {
		return nil, err
	}
	after := c.now()
	snap.Time = before.Add(after.Sub(before) / 2)

	if c.opts.RememberOwners {
		c.agg.RememberOwners(snap.Time)
	}
	if q.Openers == nil {
		q.Openers = c.opts.Openers
	}
	c.agg.Reset(ports, q)
	if q.Filter == nil {
		cn := snap.Counters
		c.agg.Reserve(int(cn.InUse + cn.InUse6))
	}
	clear(c.zones) // interfaces come and go; names are looked up again
	if err := c.dump(q.Filter, ports, c.agg.Add, c.agg.Listening); err != nil {
		return nil, err
	}
	c.agg.Fill(snap, c.opts.Top)
	if c.opts.Health && c.conn != nil {
		var dt time.Duration
		if !c.healthAt.IsZero() {
			dt = snap.Time.Sub(c.healthAt)
		}
		// The services' rates are over the same sockets, by cookie: the
		// destinations' samples (every socket's) serve both.
		snap.Health = c.agg.health.fill(c.opts.Top, c.healthPrev, dt)
		snap.HealthByCgroup = c.agg.byCgroup.fill(c.opts.Top, c.healthPrev, dt)
		c.healthPrev = c.agg.health.samples(c.healthPrev)
		snap.HealthOn, c.healthAt = true, snap.Time
	}
	c.foldCloses(snap)
	c.readConntrack(snap)
	if q.Openers == nil {
		snap.Attribution.Openers.Note = c.opts.OpenersNote
	} else {
		destinationEvents(snap, q.Openers)
	}
	if q.Owners != nil {
		c.procRates.update(snap.Processes, q.Owners.Time)
	}
	if q.Filter != nil {
		snap.Filter = q.Filter.String()
	}
	if c.opts.Cgroups != nil {
		for i, h := range snap.HealthByCgroup {
			_, snap.HealthByCgroup[i].CgroupName, _ = c.opts.Cgroups.Resolve(h.Cgroup)
		}
		for i := range snap.Cgroups {
			snap.Cgroups[i].Path, snap.Cgroups[i].Name, _ = c.opts.Cgroups.Resolve(snap.Cgroups[i].ID)
		}
		for i, p := range snap.Processes {
			if p.Cgroup != 0 {
				_, snap.Processes[i].CgroupName, _ = c.opts.Cgroups.Resolve(p.Cgroup)
			}
		}
		for i, g := range snap.PortPressure {
			if g.OpenerCgroup != 0 {
				_, snap.PortPressure[i].OpenerCgroupName, _ = c.opts.Cgroups.Resolve(g.OpenerCgroup)
			}
		}
	}
	if snap.Attribution.Enabled {
		snap.Attribution.Remembered = c.agg.Remembered()
	}
	snap.Dump = c.now().Sub(after)
	return snap, nil
}

// dump streams the sockets f selects (nil: all) to fn. On netlink the
// kernel filters, running f's program; from /proc, and on a kernel that
// refuses the program, f is evaluated here.
//
// ports is the ephemeral range, for autobound as ss reads it from outside.
//
// listening, if not nil, is told every port listened on, those f leaves
// out included: a server's socket inside the ephemeral range is told from
// a client's by its listener (counted as a client, each of its peers was a
// destination group of its own). Where f is evaluated here every listener
// passes by anyway; where the kernel filters, the listening hash (a few
// sockets) is read first.
func (c *Collector) dump(f *filter.Filter, ports PortRange, fn func(*Socket), listening func(port uint16)) error {
	states, program, match, err := c.plan(f)
	if err != nil {
		return err
	}
	if listening != nil && c.conn != nil && f != nil && (program != nil || states&StatesOf(Listen) == 0) {
		if err := c.eachListener(listening); err != nil {
			return err
		}
	}
	if match != nil {
		all := fn
		var e filter.Entry // one for the dump, not one a socket
		fn = func(s *Socket) {
			if listening != nil && s.State == Listen {
				listening(s.Local.Port())
			}
			e = entryOf(s)
			e.Autobound = ports.Autobound(s.Local.Port())
			if match.Matches(&e) {
				all(s)
			}
		}
	}
	families := []Family{IPv4, IPv6}
	if c.conn != nil {
		families = c.families
	}
	for i, family := range families {
		if c.conn != nil {
			add := fn
			if family != IPv4 {
				add = func(s *Socket) {
					if s.Interface != 0 && s.Family == IPv6 {
						c.addZones(s)
					}
					fn(s)
				}
			}
			err := c.conn.DumpProgram(family, states, program, add)
			if errors.Is(err, unix.EINVAL) && program != nil && i == 0 && f.Kernel() == "" {
				// An older kernel without an op (S_EQ came in 4.16,
				// cgroups in 5.x): evaluate here from now on.
				c.programRefused = true
				return c.dump(f, ports, fn, listening)
			}
			if err != nil {
				return err
			}
			continue
		}
		name := "net/tcp"
		if family == IPv6 {
			name = "net/tcp6"
		}
		// The watched namespace's own tables, through the thread that
		// entered it, as the counters are read: the process's /proc/net
		// shows the namespace tcpdash started in.
		read := func() error { return parseProcFile(filepath.Join(c.opts.ProcRoot, name), family, fn) }
		if ns := c.opts.Namespace; ns != nil {
			read = func() error {
				return ns.Do(func() error { return parseProcFile(filepath.Join(threadProcDir(), name), family, fn) })
			}
		}
		if err := read(); err != nil {
			return err
		}
	}
	return nil
}

// eachListener calls fn with the port of every listener: on netlink the
// listening hash alone, a few sockets; from /proc a whole read.
func (c *Collector) eachListener(fn func(port uint16)) error {
	note := func(s *Socket) {
		if s.State == Listen {
			fn(s.Local.Port())
		}
	}
	if c.conn == nil {
		return c.dump(nil, PortRange{}, note, nil)
	}
	for _, family := range c.families {
		if err := c.conn.DumpProgram(family, StatesOf(Listen), nil, note); err != nil {
			return err
		}
	}
	return nil
}

// plan decides how f is applied: the states and program to send the
// kernel, and the filter to evaluate here, if any.
func (c *Collector) plan(f *filter.Filter) (states StateSet, program []byte, match *filter.Filter, err error) {
	if f == nil {
		return AnyState, nil, nil, nil
	}
	states = StateSet(f.States()) & AnyState
	if c.conn == nil || c.programRefused {
		if need := f.Kernel(); need != "" {
			return 0, nil, nil, fmt.Errorf("filter %q: %s needs netlink sock_diag: /proc/net/tcp does not say", f, need)
		}
		return states, nil, f, nil
	}
	if f.Autobound() {
		match = f // checked again here, as ss does
	}
	if c.compiledFor != f {
		if c.program, err = f.Bytecode(); err != nil {
			c.compiledFor = nil
			return 0, nil, nil, err
		}
		c.compiledFor = f
	}
	program = c.program
	return states, program, match, nil
}

// entryOf is what a filter sees of s.
func entryOf(s *Socket) filter.Entry {
	family := uint8(unix.AF_INET)
	if s.Family == IPv6 {
		family = unix.AF_INET6
	}
	return filter.Entry{Family: family, State: uint8(s.State), Src: s.Local, Dst: s.Remote, Cgroup: s.Cgroup}
}

func parseProcFile(path string, family Family, fn func(*Socket)) error {
	f, err := procfs.Open(path)
	if family == IPv6 && errors.Is(err, os.ErrNotExist) {
		return nil // IPv6 disabled
	}
	if err != nil {
		return fmt.Errorf("tcpinfo: %w", err)
	}
	defer f.Close()
	return ParseProcNet(f, family, fn)
}

// threadProcDir is /proc/PID/task/TID of the calling thread: inside a
// Namespace's Do, its net/ shows that namespace (/proc/net follows the
// thread-group leader's).
func threadProcDir() string {
	return fmt.Sprintf("/proc/%d/task/%d", os.Getpid(), unix.Gettid())
}

// inNamespace runs fn where /proc/sys and interface names are the watched
// namespace's.
func (c *Collector) inNamespace(fn func() error) error {
	if c.opts.Namespace == nil {
		return fn()
	}
	return c.opts.Namespace.Do(fn)
}

// addZones gives link-local addresses the zone of the socket's interface
// (fe80::2%eth1): the same address on two links is two peers, and each
// link has its own ports to them.
func (c *Collector) addZones(s *Socket) {
	l, r := s.Local.Addr(), s.Remote.Addr()
	if !l.IsLinkLocalUnicast() && !r.IsLinkLocalUnicast() {
		return
	}
	zone, ok := c.zones[s.Interface]
	if !ok {
		zone = strconv.FormatUint(uint64(s.Interface), 10) // an index with no name left
		_ = c.inNamespace(func() error {
			if ifi, err := net.InterfaceByIndex(int(s.Interface)); err == nil {
				zone = SafeZone(ifi.Name)
			}
			return nil
		})
		if c.zones == nil {
			c.zones = make(map[uint32]string)
		}
		c.zones[s.Interface] = zone
	}
	if l.IsLinkLocalUnicast() {
		s.Local = netip.AddrPortFrom(l.WithZone(zone), s.Local.Port())
	}
	if r.IsLinkLocalUnicast() {
		s.Remote = netip.AddrPortFrom(r.WithZone(zone), s.Remote.Port())
	}
}
