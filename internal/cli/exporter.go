package cli

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

	"github.com/tcpdash/tcpdash/internal/exporter"
	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/version"
	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// defaultExporterAddress is tcpdash's own port, as node_exporter has 9100.
const defaultExporterAddress = ":9478"

type exporterConfig struct {
	listen, webConfig string
	top               int
	timeout           time.Duration
	processes         bool
	netns             netnsChoice
	filter            *filter.Filter
	ebpf              ebpfMode
	health            bool
}

func parseExporterFlags(args []string) (exporterConfig, error) {
	cfg := exporterConfig{listen: defaultExporterAddress, top: 10, timeout: 10 * time.Second, processes: true}
	fs := flag.NewFlagSet("tcpdash exporter", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.listen, "listen", cfg.listen, "")
	fs.StringVar(&cfg.webConfig, "web.config.file", "", "")
	fs.IntVar(&cfg.top, "top", cfg.top, "")
	fs.DurationVar(&cfg.timeout, "timeout", cfg.timeout, "")
	fs.BoolVar(&cfg.processes, "processes", true, "")
	registerNetns(fs, &cfg.netns)
	registerFilter(fs, &cfg.filter)
	registerEBPF(fs, &cfg.ebpf)
	fs.BoolVar(&cfg.health, "health", false, "")
	if err := parseSet(fs, args, cmdExporter); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, usageFor(cmdExporter, "unexpected argument %q: the exporter takes only flags", fs.Arg(0))
	case cfg.top < 1 || cfg.top > 1000:
		return cfg, usageFor(cmdExporter, "--top %d: use a number from 1 to 1000", cfg.top)
	case cfg.timeout <= 0:
		return cfg, usageFor(cmdExporter, "--timeout %s: use a positive Go duration such as 10s", cfg.timeout)
	}
	return cfg, nil
}

// runExporter serves /metrics until ctx ends (SIGTERM, SIGINT), then
// shuts the server down gracefully. It never writes a sysctl: it holds no
// tuning.System at all.
func runExporter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseExporterFlags(args)
	if err != nil {
		return helpOr(err, cmdExporter, stdout)
	}
	// A bad TLS or auth file is said before anything listens or opens.
	if cfg.webConfig != "" {
		if err := web.Validate(cfg.webConfig); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", cfg.webConfig, err)
		}
	}
	opts, closeTargets, err := exporterTargets(cfg)
	if err != nil {
		return err
	}
	defer closeTargets()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	opts.Timeout, opts.Version, opts.Logger, opts.Filter = cfg.timeout, buildVersion(), logger, cfg.filter
	reg := prometheus.NewRegistry()
	reg.MustRegister(exporter.New(opts))

	mux := http.NewServeMux()
	// A series that fails costs itself, not the scrape; what failed is
	// logged here, never sent to the client.
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError, Timeout: cfg.timeout + 2*time.Second}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "tcpdash exporter: metrics at /metrics")
	})
	server := exporter.NewServer(mux, cfg.timeout)
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", cfg.listen, err)
	}
	fmt.Fprintf(stderr, "tcpdash: exporter listening on %s\n", ln.Addr())
	serveErr := make(chan error, 1)
	go func() {
		serveErr <- web.Serve(ln, server, &web.FlagConfig{WebListenAddresses: &[]string{cfg.listen}, WebConfigFile: &cfg.webConfig}, logger)
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

// exporterTargets opens the namespaces to export, as exporter options
// (Targets, and with all the labels and bounds): the one --netns names,
// or, with all, every namespace, found anew at each scrape.
func exporterTargets(cfg exporterConfig) (exporter.Options, func(), error) {
	if !cfg.netns.all {
		w, err := openWatched(cfg.netns)
		if err != nil {
			return exporter.Options{}, nil, err
		}
		src, err := loadOpeners(cfg.ebpf)
		if err != nil {
			w.Close()
			return exporter.Options{}, nil, err
		}
		col, err := w.Collector(src.options(tcpinfo.Options{Top: cfg.top, RememberOwners: true, WatchCloses: true, Health: cfg.health}, w))
		if err != nil {
			src.Close()
			w.Close()
			return exporter.Options{}, nil, err
		}
		t := exporter.Target{Netns: w.NS.ID(), Name: w.String(), Source: col}
		if cfg.processes {
			t.Owners = w.OwnersReader()
		}
		targets := func() ([]exporter.Target, error) { return []exporter.Target{t}, nil }
		return exporter.Options{Targets: targets}, func() { col.Close(); src.Close(); w.Close() }, nil
	}
	fl, err := watch.NewFleet(watch.Options{Top: cfg.top, Processes: cfg.processes, Filter: cfg.filter})
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
				out = append(out, exporter.Target{Netns: snap.Netns, Name: termsafeNames(snap), Cookie: cookieLabel(m.Cookie), Source: polled{snap},
					Findings: m.Findings, Diagnosed: true})
			}
		}
		return out, nil
	}
	return exporter.Options{Targets: targets, Labelled: true, MaxTargets: watch.MaxMembers, Skipped: fl.Skipped}, fl.Close, nil
}

// termsafeNames is a namespace's name as the single-namespace label has
// it: its best name and its id.
func termsafeNames(s *tcpinfo.Snapshot) string {
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

// buildVersion names this build in one word: the version, and the commit
// when known (v0.4.0+0123456789ab).
func buildVersion() string {
	v := version.Get()
	if c := v.Short(); c != "" {
		return v.Version + "+" + c
	}
	return v.Version
}
