package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/version"
	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/ui"
)

// runAll is --netns all for --once and --json: every namespace's
// snapshot, in one object (one per line when streaming).
func runAll(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	dashboard := !cfg.once && !cfg.json // Run made --once of a stdout that is no terminal
	opts := fleetOptions(cfg)
	if dashboard {
		// The dashboard's filter narrows the tables of the namespace
		// entered; the Namespaces pane and its findings count everything.
		opts.Filter = nil
	}
	fl, err := watch.NewFleet(opts)
	if err != nil {
		return err
	}
	defer fl.Close()
	if dashboard {
		src, err := loadOpeners(cfg.ebpf)
		if err != nil {
			return err
		}
		defer src.Close()
		return runFleetDashboard(ctx, cfg, fleetPanes{fl, cfg, src})
	}
	interval, build := cfg.interval, version.Get().Build()
	for n := 0; cfg.once && n < 1 || !cfg.once && (cfg.count == 0 || n < cfg.count); n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(interval):
			}
		}
		if err := fl.Refresh(stderr); err != nil {
			return err
		}
		start := time.Now()
		snaps, findings := fl.Poll(stderr)
		if len(snaps) == 0 {
			return errors.New("no network namespace could be read")
		}
		if cfg.json {
			if err := writeFleetJSON(stdout, start, interval, !cfg.once, snaps, findings, build); err != nil {
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
func writeFleetJSON(w io.Writer, t time.Time, interval time.Duration, stream bool, snaps []*tcpinfo.Snapshot, findings [][]diagnose.Finding, build string) error {
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
		if err := writeJSON(&b, snap, findings[i], build); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // writeJSON ends its line
	}
	b.WriteString("]}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// fleetOptions is what a fleet takes of the command line.
func fleetOptions(cfg config) watch.Options {
	return watch.Options{Source: cfg.source, Top: cfg.top, Once: cfg.once, Processes: cfg.processes, Filter: cfg.filter}
}

// fleetPanes is a fleet as the dashboard's Namespaces pane sees it.
type fleetPanes struct {
	fl      *watch.Fleet
	cfg     config
	openers openerSource // for the namespace entered
}

// Overview is the Namespaces pane's poll: every namespace, triaged.
func (p fleetPanes) Overview() ([]ui.NamespaceRow, error) {
	fl := p.fl
	fl.Lock()
	defer fl.Unlock()
	if err := fl.Refresh(io.Discard); err != nil {
		return nil, err
	}
	snaps, findings := fl.Poll(io.Discard)
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
func (p fleetPanes) Watch(netns string) (ui.Watch, error) {
	fl := p.fl
	fl.Lock()
	defer fl.Unlock()
	var m *watch.Member
	for _, x := range fl.Members() {
		if x.Watched.ID() == netns {
			m = x
		}
	}
	if m == nil {
		return ui.Watch{}, fmt.Errorf("network namespace %s is gone", netns)
	}
	if m.Dash == nil {
		col, err := tcpinfo.NewCollector(p.openers.options(tcpinfo.Options{Source: p.cfg.source, Top: p.cfg.top,
			Namespace: m.Watched.CollectorNamespace(), Cgroups: fl.Cgroups(), RememberOwners: true, WatchCloses: true}, m.Watched))
		if err != nil {
			return ui.Watch{}, err
		}
		m.Dash = col
	}
	w := ui.Watch{Source: m.Dash, Tuner: p.cfg.tuneFiles.system(m.Watched), Netns: m.Watched.String(), Where: m.Watched.Describe()}
	if p.cfg.processes {
		w.Owners = m.Watched.OwnersReader()
	}
	return w, nil
}
