package watch

import (
	"context"
	"time"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// StreamOptions say how Stream polls.
type StreamOptions struct {
	Interval  time.Duration
	Count     int  // snapshots to take; 0: until ctx ends
	Processes bool // name the processes holding sockets
	Filter    *filter.Filter
}

// Stream polls col, a collector on w, on the schedule until ctx ends or
// Count snapshots are taken, and hands each to emit with its findings and
// the sysctls in force: what --json prints and what a recorder records.
func (w *Namespace) Stream(ctx context.Context, col *tcpinfo.Collector, opts StreamOptions,
	emit func(*tcpinfo.Snapshot, []diagnose.Finding, []tuning.Setting) error) error {
	var owners *tcpinfo.Owners
	var prev *tcpinfo.Snapshot
	interval := opts.Interval
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := 0; opts.Count == 0 || n < opts.Count; n++ {
		if n > 0 {
			// The schedule stays on its grid: a late poll does not push
			// every later one back.
			next = next.Add(interval)
			if now := time.Now(); next.Before(now) {
				next = now
			}
			timer.Reset(time.Until(next))
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		}
		if opts.Processes && owners.Stale(time.Now(), interval) {
			// Without owners the snapshot is still right, only anonymous.
			if o, err := w.OwnersReader()(); err == nil {
				owners = o
			}
		}
		snap, err := col.Collect(tcpinfo.Query{Owners: owners, Filter: opts.Filter})
		if err != nil {
			return err
		}
		snap.Interval = interval
		w.Label(snap)
		settings := w.Settings()
		if err := emit(snap, diagnose.Diagnose(snap, prev, settings), settings); err != nil {
			return err
		}
		prev = snap
		interval = Schedule{Interval: opts.Interval}.Next(snap.Dump)
	}
	return nil
}
