package tcpinfo

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// slowKernel is a kernel whose counter rises at a steady rate on a fake
// clock, and whose dumps take a different, long time each: the case where
// stamping the time on one side of the dump and reading the counters on
// the other skews every rate.
type slowKernel struct {
	clock time.Time
	rate  float64 // ActiveOpens per second
	start time.Time
	dumps []time.Duration
	n     int
}

func (k *slowKernel) now() time.Time { return k.clock }

func (k *slowKernel) counters() (Counters, error) {
	k.clock = k.clock.Add(100 * time.Microsecond) // reading takes a moment too
	return Counters{ActiveOpens: uint64(k.rate * k.clock.Sub(k.start).Seconds())}, nil
}

func (k *slowKernel) DumpProgram(f Family, s StateSet, _ []byte, fn func(*Socket)) error {
	return k.Dump(f, s, fn)
}

func (k *slowKernel) Dump(f Family, _ StateSet, fn func(*Socket)) error {
	if f != IPv6 { // once a snapshot: both families, or IPv4 then IPv6
		k.clock = k.clock.Add(k.dumps[k.n%len(k.dumps)])
		k.n++
	}
	return nil
}

func (k *slowKernel) Close() error { return nil }

// TestRatesOverSlowDumps: Δcounter/Δtime between snapshots equals the
// kernel's rate exactly, whatever each dump takes.
func TestRatesOverSlowDumps(t *testing.T) {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	k := &slowKernel{clock: start, start: start, rate: 5000,
		dumps: []time.Duration{185 * time.Millisecond, 313 * time.Millisecond, 20 * time.Millisecond, 250 * time.Millisecond}}
	c, err := newCollector(Options{SysctlRoot: fakeSysctls(t)}, func() (dumper, error) { return k, nil })
	if err != nil {
		t.Fatal(err)
	}
	c.now, c.counters = k.now, k.counters
	var prev *Snapshot
	for i := range 8 {
		s, err := c.Collect(Query{})
		if err != nil {
			t.Fatal(err)
		}
		k.clock = k.clock.Add(time.Second - s.Dump) // the poller's sleep
		if prev != nil {
			dt := s.Time.Sub(prev.Time).Seconds()
			got := float64(s.Counters.ActiveOpens-prev.Counters.ActiveOpens) / dt
			// Counters are whole numbers: within one count over the interval.
			if d := got - k.rate; d > 1/dt || d < -1/dt {
				t.Errorf("interval %d: %.1f opens/s over %.3fs, the kernel's rate is %.0f", i, got, dt, k.rate)
			}
		}
		prev = s
	}
}

// fakeSysctls lays out the sysctls a Collector reads.
func fakeSysctls(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, v := range map[string]string{"ip_local_port_range": "32768\t60999\n", "tcp_max_tw_buckets": "131072\n"} {
		p := filepath.Join(root, "net/ipv4", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// BenchmarkOwnerMemory measures the cookie → owner memory per socket and
// the cost of remembering one: go test ./tcpinfo -bench OwnerMemory.
func BenchmarkOwnerMemory(b *testing.B) {
	const sockets = 200_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := newOwnerMemory()
	m.begin(time.Unix(1000, 0))
	s := Socket{State: Established, Cgroup: 7}
	for i := range sockets {
		s.Cookie = uint64(i + 1)
		m.note(&s, 4242)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSocket := float64(after.HeapAlloc-before.HeapAlloc) / sockets
	for i := 0; b.Loop(); i++ {
		s.Cookie = uint64(i%sockets + 1)
		m.note(&s, 4242)
	}
	b.ReportMetric(perSocket, "heap-bytes/socket")
	runtime.KeepAlive(m)
}
