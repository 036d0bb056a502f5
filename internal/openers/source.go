// Package openers names the process that opened each TCP connection, from
// the kernel's sock:inet_sock_set_state tracepoint, with eBPF: at connect()
// the caller is the current task, so a connection that lives a millisecond
// is named as well as one that lives an hour, and its TIME_WAIT (which no
// process holds) finds its opener by its addresses. It needs root, BTF
// and a kernel with raw tracepoints and ring buffers (5.8); it attaches no
// kprobe. Without it, tcpdash names owners from its /proc walk.
package openers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/tcpinfo"
)

// Bounds on what the source holds.
const (
	// Generation is how long an opener is kept: a connection's TIME_WAIT
	// lasts 60 s after it closes, and openers are kept one to two
	// generations. A longer-lived connection is named by the /proc walk
	// while it is open, and remembered from there.
	Generation = 2 * time.Minute
	// MaxOpeners bounds the openers kept per generation; past it, new
	// ones are counted in Stats.Dropped.
	MaxOpeners = 1 << 20
	// maxDestinations bounds the destinations whose failures are counted.
	maxDestinations = 1 << 16
	// pendingEntries bounds the connect()s in flight the kernel keeps
	// (an LRU map: the oldest give way).
	pendingEntries = 1 << 16
	// ringSize is the ring buffer between the kernel and the reader: 88
	// bytes an event with its header, 47,000 connects between two reads.
	ringSize = 4 << 20
	// readEvery is how often the reader drains the ring: the program
	// does not wake it for each event (a wakeup cost more than the event).
	readEvery = 100 * time.Millisecond
)

// Stats says what the source saw and missed.
type Stats struct {
	// Connects counts the connections named; Failed and Resets the
	// failed connects and resets seen.
	Connects, Failed, Resets uint64
	// Lost counts events the ring buffer had no room for (the kernel
	// side); Dropped, openers past MaxOpeners (this side).
	Lost, Dropped uint64
}

// A Source holds the program, its attachment and what it has told.
type Source struct {
	link    *os.File // the raw tracepoint's attachment, while open
	prog    *ebpf.Program
	pending *ebpf.Map
	events  *ebpf.Map
	stats   *ebpf.Map
	rd      *ringbuf.Reader
	done    chan struct{}

	mu      sync.RWMutex
	cur     map[key]tcpinfo.Opener
	old     map[key]tcpinfo.Opener
	rotated time.Time
	dests   map[destKey]*tcpinfo.DestinationEvents
	st      Stats
}

// key is a connection: its namespace, and its local and remote ends.
type key struct {
	netns         uint64
	local, remote netip.AddrPort
}

type destKey struct {
	netns  uint64
	remote netip.AddrPort
}

// loadErr says what could not be made, and why. Refused for want of a
// privilege, it names the capabilities instead of passing on
// cilium/ebpf's hint about RLIMIT_MEMLOCK, which Load has already raised:
// root in a user namespace (a rootless container, tcpload --netns) has
// neither in the host's.
func loadErr(what string, err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%s: %w (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN, in the host's user namespace)", what, unix.EPERM)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Load assembles the program for the running kernel, loads and attaches
// it, and starts reading its events. The error says why it could not.
func Load() (*Source, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("eBPF needs root")
	}
	o, err := kernelOffsets()
	if err != nil {
		return nil, err
	}
	// Kernels before 5.11 charge maps to RLIMIT_MEMLOCK. Raised here, not
	// with cilium/ebpf's rlimit package, whose init probes the kernel with
	// a bpf() call at every start of tcpdash, eBPF or not.
	_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY})
	s := &Source{done: make(chan struct{}), cur: map[key]tcpinfo.Opener{}, old: map[key]tcpinfo.Opener{},
		rotated: time.Now(), dests: map[destKey]*tcpinfo.DestinationEvents{}}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	if s.pending, err = ebpf.NewMap(&ebpf.MapSpec{Name: "tcpdash_pending", Type: ebpf.LRUHash, KeySize: 8, ValueSize: pendingSize, MaxEntries: pendingEntries}); err != nil {
		return nil, loadErr("eBPF map", err)
	}
	if s.events, err = ebpf.NewMap(&ebpf.MapSpec{Name: "tcpdash_events", Type: ebpf.RingBuf, MaxEntries: ringSize}); err != nil {
		return nil, loadErr("eBPF ring buffer (Linux 5.8)", err)
	}
	if s.stats, err = ebpf.NewMap(&ebpf.MapSpec{Name: "tcpdash_stats", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1}); err != nil {
		return nil, loadErr("eBPF map", err)
	}
	s.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "tcpdash_openers",
		Type:         ebpf.RawTracepoint,
		Instructions: program(o, s.pending.FD(), s.events.FD(), s.stats.FD()),
		// The program reads kernel memory (bpf_probe_read_kernel), which
		// the kernel offers GPL-compatible programs only.
		License: "GPL",
	})
	if err != nil {
		return nil, loadErr("eBPF program", err)
	}
	if s.link, err = attachRawTracepoint("inet_sock_set_state", s.prog); err != nil {
		return nil, loadErr("attach to the inet_sock_set_state tracepoint", err)
	}
	if s.rd, err = ringbuf.NewReader(s.events); err != nil {
		return nil, fmt.Errorf("eBPF ring buffer: %w", err)
	}
	go s.read()
	ok = true
	return s, nil
}

// read decodes events until the reader is closed.
func (s *Source) read() {
	defer close(s.done)
	var rec ringbuf.Record
	s.rd.SetDeadline(time.Now().Add(readEvery))
	for {
		if err := s.rd.ReadInto(&rec); errors.Is(err, os.ErrDeadlineExceeded) {
			s.rd.SetDeadline(time.Now().Add(readEvery))
			continue
		} else if err != nil {
			return // closed
		}
		if len(rec.RawSample) < eventSize {
			continue
		}
		s.note(rec.RawSample)
	}
}

// note folds one event in.
func (s *Source) note(b []byte) {
	netns := binary.NativeEndian.Uint64(b[evNetns:])
	family := binary.NativeEndian.Uint16(b[evFamily:])
	var local, remote netip.Addr
	switch family {
	case 2:
		local, remote = netip.AddrFrom4([4]byte(b[evSaddr:])), netip.AddrFrom4([4]byte(b[evDaddr:]))
	case afInet6:
		// As the dump decodes them: a v4-mapped address is its IPv4.
		local, remote = netip.AddrFrom16([16]byte(b[evSaddr:])).Unmap(), netip.AddrFrom16([16]byte(b[evDaddr:])).Unmap()
	default:
		return
	}
	k := key{netns: netns,
		local:  netip.AddrPortFrom(local, binary.NativeEndian.Uint16(b[evSport:])),
		remote: netip.AddrPortFrom(remote, binary.BigEndian.Uint16(b[evDport:]))}
	o := tcpinfo.Opener{PID: int(binary.NativeEndian.Uint32(b[evTgid:])), Cgroup: binary.NativeEndian.Uint64(b[evCgroup:]),
		Command: commString(b[evComm : evComm+16])}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch b[evKind] {
	case kindConnected:
		s.st.Connects++
		if now := time.Now(); now.Sub(s.rotated) > Generation/2 {
			s.old, s.cur, s.rotated = s.cur, make(map[key]tcpinfo.Opener, len(s.cur)), now
		}
		if len(s.cur) >= MaxOpeners {
			s.st.Dropped++
			return
		}
		s.cur[k] = o
	case kindFailed, kindReset:
		d := s.dests[destKey{netns, k.remote}]
		if d == nil {
			if len(s.dests) >= maxDestinations {
				s.st.Dropped++
				return
			}
			d = &tcpinfo.DestinationEvents{}
			s.dests[destKey{netns, k.remote}] = d
		}
		if b[evKind] == kindFailed {
			s.st.Failed++
			d.Failed++
		} else {
			s.st.Resets++
			d.Resets++
		}
	}
}

// commString is a task's comm: NUL-terminated in 16 bytes.
func commString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Stats says what the source has seen and missed so far.
func (s *Source) Stats() Stats {
	s.mu.RLock()
	st := s.st
	s.mu.RUnlock()
	var lost uint64
	if s.stats.Lookup(uint32(0), &lost) == nil {
		st.Lost = lost
	}
	return st
}

// In is the source's view of one network namespace, by its cookie
// (SO_NETNS_COOKIE): what a collector of that namespace looks openers up
// in.
func (s *Source) In(netnsCookie uint64) tcpinfo.OpenerIndex { return view{s, netnsCookie} }

type view struct {
	s     *Source
	netns uint64
}

// Opener is the process that opened the connection from local to remote.
func (v view) Opener(local, remote netip.AddrPort) (tcpinfo.Opener, bool) {
	k := key{v.netns, local, remote}
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	if o, ok := v.s.cur[k]; ok {
		return o, true
	}
	o, ok := v.s.old[k]
	return o, ok
}

// Destination is what the source saw of connections to remote.
func (v view) Destination(remote netip.AddrPort) (tcpinfo.DestinationEvents, bool) {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	d := v.s.dests[destKey{v.netns, remote}]
	if d == nil {
		return tcpinfo.DestinationEvents{}, false
	}
	return *d, true
}

// Source names the source and what it has missed, for the snapshot.
func (v view) Source() tcpinfo.OpenerSource {
	st := v.s.Stats()
	return tcpinfo.OpenerSource{Name: "ebpf", Connects: st.Connects, Lost: st.Lost, Dropped: st.Dropped}
}

// Close detaches the program and frees everything.
func (s *Source) Close() error {
	s.close()
	return nil
}

func (s *Source) close() {
	if s.link != nil {
		s.link.Close()
	}
	if s.rd != nil {
		s.rd.Close()
		<-s.done
	}
	if s.prog != nil {
		s.prog.Close()
	}
	for _, m := range []*ebpf.Map{s.pending, s.events, s.stats} {
		if m != nil {
			m.Close()
		}
	}
}
