package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/internal/recording"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/internal/version"
	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

type recordConfig struct {
	config
	out      string
	duration time.Duration
}

func parseRecordFlags(args []string) (recordConfig, error) {
	cfg := recordConfig{config: config{interval: time.Second, top: 50, processes: true}}
	fs := flag.NewFlagSet("tcpdash record", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.out, "o", "", "")
	fs.DurationVar(&cfg.interval, "interval", cfg.interval, "")
	fs.IntVar(&cfg.count, "count", 0, "")
	fs.DurationVar(&cfg.duration, "duration", 0, "")
	fs.IntVar(&cfg.top, "top", cfg.top, "")
	fs.BoolVar(&cfg.processes, "processes", true, "")
	registerNetns(fs, &cfg.netns)
	registerFilter(fs, &cfg.filter)
	registerEBPF(fs, &cfg.ebpf)
	fs.BoolVar(&cfg.health, "health", false, "")
	if err := parseSet(fs, args, cmdRecord); err != nil {
		return cfg, err
	}
	bad := func(format string, a ...any) (recordConfig, error) {
		return cfg, usageFor(cmdRecord, format, a...)
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q: name the file with -o FILE", fs.Arg(0))
	case cfg.out == "":
		return bad("no file: name the recording with -o FILE")
	case watch.CheckInterval(cfg.interval) != nil:
		return bad("--interval %s", watch.CheckInterval(cfg.interval))
	case cfg.count < 0:
		return bad("--count %d: use 0 (no limit) or a positive number", cfg.count)
	case cfg.duration < 0:
		return bad("--duration %s: use a positive Go duration such as 10m", cfg.duration)
	case cfg.top < 1 || cfg.top > 1000:
		return bad("--top %d: use a number from 1 to 1000", cfg.top)
	case cfg.netns.all:
		return bad("--netns all: record one namespace at a time (name it, or run one recorder per namespace)")
	}
	return cfg, nil
}

// runRecord writes snapshots to a new file until --count, --duration or an
// interrupt, which all end it cleanly.
func runRecord(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseRecordFlags(args)
	if err != nil {
		return helpOr(err, cmdRecord, stdout)
	}
	wg, err := OpenWatching(cfg.netns, cfg.ebpf, tcpinfo.Options{Top: cfg.top, RememberOwners: true, WatchCloses: true, Health: cfg.health})
	if err != nil {
		return err
	}
	defer wg.Close()
	w, col := wg.NS, wg.Col

	f, err := createNew("-o", cfg.out)
	if err != nil {
		return err
	}
	h := recordHeader(cfg, w)
	rw, err := recording.NewWriter(f, h)
	if err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", cfg.out, err)
	}
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	fmt.Fprintf(stderr, "tcpdash: recording to %s every %s (Ctrl-C stops)\n", termsafe.String(cfg.out), cfg.interval)
	rec := &snapshotRecorder{w: rw, last: h.Sysctls, build: h.Tcpdash}
	record := rec.record
	onTerminal := isTerminal(stderr)
	if onTerminal {
		// On a terminal, one line that says how far it has come. The file
		// grows in steps (deflate's buffer, a member a minute): the JSON
		// recorded grows with every snapshot.
		start := time.Now()
		record = func(snap *tcpinfo.Snapshot, findings []diagnose.Finding, settings []tuning.Setting) error {
			if err := rec.record(snap, findings, settings); err != nil {
				return err
			}
			size := int64(0)
			if fi, err := f.Stat(); err == nil {
				size = fi.Size()
			}
			fmt.Fprintf(stderr, "\rtcpdash: %s snapshots, %s KiB of JSON, %s KiB on disk, %s ", humanize.Int(rec.n),
				humanize.Int(int(rec.json>>10)), humanize.Int(int(size>>10)), time.Since(start).Round(time.Second))
			return nil
		}
	}
	err = w.Stream(ctx, col, streamOptions(cfg.config), record)
	if onTerminal {
		fmt.Fprintln(stderr) // the progress line stays
	}
	if cerr := rw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record %s: %w", cfg.out, err)
	}
	fmt.Fprintf(stderr, "tcpdash: recorded %d snapshots to %s\n", rec.n, termsafe.String(cfg.out))
	return nil
}

// createNew creates path for writing, refusing an existing file (tcpdash
// never overwrites one) and a symlink: with O_CREAT, O_EXCL fails on any
// name already there, a symlink included, without following it, so a
// shared directory such as /tmp is safe too. flag names the path in errors.
func createNew(flag, path string) (*os.File, error) {
	// 0600: a recording holds every process's command line, which a /proc
	// mounted with hidepid keeps from other users; share it on purpose.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s %s: it is a symlink: name a new file (tcpdash never writes through one)", flag, termsafe.String(path))
		}
		return nil, fmt.Errorf("%s %s: the file exists: choose a new name (tcpdash never overwrites a file)", flag, termsafe.String(path))
	case err != nil:
		return nil, fmt.Errorf("%s %s: %w", flag, termsafe.String(path), err)
	}
	return f, nil
}

// recordHeader says where and how the recording is made; what cannot be
// read is left empty rather than failing the recording.
func recordHeader(cfg recordConfig, w *watch.Namespace) recording.Header {
	// Always named, tcpdash's own namespace too: a recording made under ip
	// netns exec, or in a container, says where it was made.
	h := recording.Header{Start: time.Now(), IntervalMS: cfg.interval.Milliseconds(), Tcpdash: version.Get().Build(),
		Netns: w.String()}
	h.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	h.Sysctls = sysctlValues(w.Settings())
	if cfg.filter != nil {
		h.Filter = cfg.filter.String()
	}
	if pr, err := tcpinfo.ParsePortRange([]byte(h.Sysctls["net.ipv4.ip_local_port_range"]), nil); err == nil {
		h.PortRange = [2]int{int(pr.Low), int(pr.High)}
	}
	return h
}

// sysctlValues maps each sysctl the kernel has to its value.
func sysctlValues(settings []tuning.Setting) map[string]string {
	m := make(map[string]string, len(settings))
	for _, s := range settings {
		if s.Exists {
			m[s.Key] = s.Value
		}
	}
	return m
}

// snapshotRecorder writes each snapshot as its --json line, after the
// sysctls that changed since the last one (tcpdash tune's changes or
// anyone's) as events.
type snapshotRecorder struct {
	w     *recording.Writer
	n     int
	json  int64 // bytes of snapshots recorded, before compression
	last  map[string]string
	line  bytes.Buffer
	build string // the header's
}

func (r *snapshotRecorder) record(snap *tcpinfo.Snapshot, findings []diagnose.Finding, settings []tuning.Setting) error {
	now := sysctlValues(settings)
	if len(now) == 0 {
		now = r.last // unreadable this poll: no change to report
	}
	for _, k := range slices.Sorted(maps.Keys(now)) {
		if old := r.last[k]; old != now[k] {
			if err := r.w.Event(recording.Event{Time: snap.Time, Kind: "sysctl", Name: k, Old: old, New: now[k]}); err != nil {
				return err
			}
		}
	}
	r.last = now
	r.line.Reset()
	if err := writeJSON(&r.line, snap, findings, r.build); err != nil {
		return err
	}
	if err := r.w.Snapshot(snap.Time, r.line.Bytes()); err != nil {
		return err
	}
	r.n++
	r.json += int64(r.line.Len())
	return nil
}
