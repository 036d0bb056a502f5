// Package exportercmd is tcpdash-exporter, the Prometheus exporter: the
// one command that links the Prometheus client and exporter-toolkit,
// kept out of tcpdash so that tcpdash's start-up does not pay for their
// package init. Its flags are tcpdash exporter's, from internal/cli.
package exportercmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/tcpdash/tcpdash/internal/cli"
	"github.com/tcpdash/tcpdash/internal/exporter"
	"github.com/tcpdash/tcpdash/internal/version"
	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// Run serves /metrics until ctx ends (SIGTERM, SIGINT), then shuts the
// server down gracefully. It never writes a sysctl: it holds no
// tuning.System at all.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && cli.IsVersion(args[0]) { // as node_exporter --version
		return cli.PrintVersion(args, stdout)
	}
	cfg, err := cli.ParseExporterFlags(args, stdout)
	if err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	// A bad TLS or auth file is said before anything listens or opens.
	if cfg.WebConfig != "" {
		if err := web.Validate(cfg.WebConfig); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", cfg.WebConfig, err)
		}
	}
	opts, closeTargets, err := targets(cfg)
	if err != nil {
		return err
	}
	defer closeTargets()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	opts.Timeout, opts.Version, opts.Logger, opts.Filter = cfg.Timeout, version.Get().Build(), logger, cfg.Filter
	reg := prometheus.NewRegistry()
	reg.MustRegister(exporter.New(opts))

	mux := http.NewServeMux()
	// A series that fails costs itself, not the scrape; what failed is
	// logged here, never sent to the client.
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError, Timeout: cfg.Timeout + 2*time.Second}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "tcpdash exporter: metrics at /metrics")
	})
	server := exporter.NewServer(mux, cfg.Timeout)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", cfg.Listen, err)
	}
	fmt.Fprintf(stderr, "tcpdash: exporter listening on %s\n", ln.Addr())
	serveErr := make(chan error, 1)
	go func() {
		serveErr <- web.Serve(ln, server, &web.FlagConfig{WebListenAddresses: &[]string{cfg.Listen}, WebConfigFile: &cfg.WebConfig}, logger)
	}()
	select {
	case err := <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return server.Shutdown(shutdown)
	}
}

// targets opens the namespaces to export, as exporter options (Targets,
// and with all the labels and bounds): the one --netns names, or, with
// all, every namespace, found anew at each scrape.
func targets(cfg cli.ExporterConfig) (exporter.Options, func(), error) {
	if !cfg.Netns.All() {
		wg, err := cli.OpenWatching(cfg.Netns, cfg.EBPF, tcpinfo.Options{Top: cfg.Top, RememberOwners: true, WatchCloses: true, Health: cfg.Health})
		if err != nil {
			return exporter.Options{}, nil, err
		}
		t := exporter.Target{Netns: wg.NS.NS.ID(), Name: wg.NS.String(), Source: wg.Col}
		if cfg.Processes {
			t.Owners = wg.NS.OwnersReader()
		}
		targets := func() ([]exporter.Target, error) { return []exporter.Target{t}, nil }
		return exporter.Options{Targets: targets}, wg.Close, nil
	}
	fl, err := watch.NewFleet(watch.Options{Top: cfg.Top, Processes: cfg.Processes, Filter: cfg.Filter})
	if err != nil {
		return exporter.Options{}, nil, err
	}
	// A scrape is one poll of the fleet, with its triage: counters first,
	// a dump only of the namespaces that moved (each dump walks the host's
	// whole socket hash) and of the quiet ones due for a refresh, one
	// /proc walk for every namespace. A quiet namespace is exported from
	// its last snapshot, whose time says how old it is.
	targets := func() ([]exporter.Target, error) {
		fl.Lock()
		defer fl.Unlock()
		if err := fl.Refresh(io.Discard); err != nil {
			return nil, err
		}
		var out []exporter.Target
		fl.Poll(io.Discard)
		for _, m := range fl.Members() {
			if snap := m.Prev; snap != nil {
				// The fleet diagnosed it when it dumped it: not again here.
				out = append(out, exporter.Target{Netns: snap.Netns, Name: namesLabel(snap), Cookie: cookieLabel(m.Cookie), Source: polled{snap},
					Findings: m.Findings, Diagnosed: true})
			}
		}
		return out, nil
	}
	return exporter.Options{Targets: targets, Labelled: true, MaxTargets: watch.MaxMembers, Skipped: fl.Skipped}, fl.Close, nil
}

// namesLabel is a namespace's name as the single-namespace label has it:
// its best name and its id.
func namesLabel(s *tcpinfo.Snapshot) string {
	if len(s.Names) == 0 {
		return s.Netns
	}
	return s.Names[0] + " " + s.Netns
}

// cookieLabel is a namespace cookie as a label value; empty if unknown.
func cookieLabel(c uint64) string {
	if c == 0 {
		return ""
	}
	return strconv.FormatUint(c, 10)
}

// polled is a snapshot the fleet has taken already, as an exporter source.
type polled struct{ snap *tcpinfo.Snapshot }

func (p polled) Collect(tcpinfo.Query) (*tcpinfo.Snapshot, error) { return p.snap, nil }
