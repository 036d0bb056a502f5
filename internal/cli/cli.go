package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/filter"
	"github.com/tcpdash/tcpdash/internal/jsonw"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/internal/version"
	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// usageError is a mistake on the command line: exit status 2. A wrong
// value is one line and a pointer to --help, so the error stays on screen;
// an unknown flag prints the flags (usage), since the user does not know
// them.
type usageError struct {
	msg   string
	cmd   string
	usage string // printed after msg; empty: only the pointer to --help
}

func (e usageError) Error() string { return e.msg }

// usageFor is the one way a usage error is made: one line about what was
// wrong, for the command it concerns.
func usageFor(cmd, format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...), cmd: cmd}
}

func usagef(format string, args ...any) error { return usageFor(cmdMain, format, args...) }

// hinted is an error with advice on what to do about it.
type hinted struct {
	err  error
	hint string
}

func (h hinted) Error() string { return h.err.Error() }
func (h hinted) Unwrap() error { return h.err }

type config struct {
	once, json bool
	processes  bool
	interval   time.Duration
	count      int
	top        int
	source     tcpinfo.Source
	netns      NetnsChoice
	ebpf       EBPFMode
	health     bool
	// filter selects the sockets every count is over (--filter).
	filter *filter.Filter
	tuneFiles
}

// tuneFiles are the tuning flags the dashboard and tcpdash tune share.
type tuneFiles struct {
	readOnly, noUndo          bool
	file, stateFile, auditLog string
}

func (t *tuneFiles) register(fs *flag.FlagSet) {
	fs.BoolVar(&t.readOnly, "read-only", false, "")
	fs.BoolVar(&t.noUndo, "no-undo", false, "")
	fs.StringVar(&t.file, "file", tuning.DefaultPersistPath, "")
	fs.StringVar(&t.stateFile, "state-file", defaultStateFile, "")
	fs.StringVar(&t.auditLog, "audit-log", defaultAuditLog, "")
}

// The defaults of --state-file and --audit-log (the man page's FILES).
const (
	defaultStateFile = "/var/lib/tcpdash/last-batch.json"
	defaultAuditLog  = "/var/log/tcpdash/audit.log"
)

// system tunes the watched namespace.
func (t tuneFiles) system(w *watch.Namespace) *tuning.System {
	o := tuning.Options{StateFile: w.StateFile(t.stateFile, defaultStateFile), AuditLog: t.auditLog,
		NoUndo: t.noUndo, Netns: w.NS.ID(), NetnsCookie: w.Cookie(), User: userName(), InNamespace: w.InNamespace()}
	if w.Handle != nil {
		o.Elsewhere = w.String()
	}
	return tuning.New(o)
}

func parseFlags(args []string) (config, error) {
	cfg := config{interval: time.Second, top: 10, processes: true}
	fs := flag.NewFlagSet("tcpdash", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.BoolVar(&cfg.once, "once", false, "")
	fs.BoolVar(&cfg.json, "json", false, "")
	fs.BoolVar(&cfg.processes, "processes", true, "")
	fs.DurationVar(&cfg.interval, "interval", cfg.interval, "")
	fs.IntVar(&cfg.count, "count", 0, "")
	fs.IntVar(&cfg.top, "top", cfg.top, "")
	source := fs.String("source", "auto", "")
	registerNetns(fs, &cfg.netns)
	registerFilter(fs, &cfg.filter)
	registerEBPF(fs, &cfg.ebpf)
	fs.BoolVar(&cfg.health, "health", false, "")
	cfg.tuneFiles.register(fs)
	if err := parseSet(fs, args, cmdMain); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, usagef("unexpected argument %q: tcpdash takes only flags", fs.Arg(0))
	}
	switch {
	case watch.CheckInterval(cfg.interval) != nil:
		return cfg, usagef("--interval %s", watch.CheckInterval(cfg.interval))
	case cfg.count < 0:
		return cfg, usagef("--count %d: use 0 (no limit) or a positive number", cfg.count)
	case cfg.count > 0 && !cfg.json:
		return cfg, usagef("--count goes with --json: add --json, or use --once for one snapshot")
	case cfg.top < 1 || cfg.top > 1000:
		return cfg, usagef("--top %d: use a number from 1 to 1000", cfg.top)
	}
	switch *source {
	case "auto":
	case "netlink", "procfs":
		cfg.source = tcpinfo.Source(*source)
	default:
		return cfg, usagef("--source %q: use auto, netlink or procfs", *source)
	}
	return cfg, nil
}

// parseSet parses args into fs for a command whose usage is usage: -h
// gives flag.ErrHelp, a bad flag one line and the usage.
func parseSet(fs *flag.FlagSet, args []string, cmd string) error {
	if err := checkVocabulary(fs, cmd); err != nil {
		return err
	}
	err := fs.Parse(args)
	if err == nil || err == flag.ErrHelp {
		return err
	}
	msg := flagError(err)
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: "); ok {
		if near := nearestFlag(cmd, name); near != "" {
			msg = fmt.Sprintf("unknown flag %s: did you mean %s?", name, near)
		}
		return usageError{msg: msg, cmd: cmd, usage: usageText(cmd)}
	}
	return usageError{msg: msg, cmd: cmd}
}

// helpOr is what a command returns when parsing its flags failed with
// err: nil once usage is printed, if -h asked for it, else err.
func helpOr(err error, cmd string, stdout io.Writer) error {
	if err == flag.ErrHelp {
		fmt.Fprint(stdout, usageText(cmd))
		return nil
	}
	return err
}

// nearestFlag is the flag of cmd closest to what was typed, when it is
// near enough to be a typo: a prefix, or two edits away.
func nearestFlag(cmd, typed string) string {
	typed = strings.TrimLeft(typed, "-")
	best, bestD := "", 3
	for _, f := range flagsOf(cmd) {
		if d := editDistance(typed, f.name); d < bestD || strings.HasPrefix(f.name, typed) && len(typed) >= 2 && bestD > 0 {
			best, bestD = f.name, min(d, bestD)
			if strings.HasPrefix(f.name, typed) {
				bestD = 0
			}
		}
	}
	if best == "" {
		return ""
	}
	if len(best) == 1 {
		return "-" + best
	}
	return "--" + best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// flagError turns the flag package's messages into one line that names the
// flag and what it takes.
func flagError(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return fmt.Sprintf("unknown flag %s: the flags are below", name)
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if _, why, ok := strings.Cut(rest, " for flag -filter: "); ok {
			return "--filter: " + why // the filter's own message names the word
		}
		if _, why, ok := strings.Cut(rest, " for flag -netns: "); ok {
			return "--netns " + why
		}
		switch {
		case strings.Contains(rest, "-interval"):
			return "--interval takes a Go duration such as 500ms or 2s: " + rest
		case strings.Contains(rest, "-count"), strings.Contains(rest, "-top"):
			return "a whole number is needed: " + rest
		}
		return "invalid value " + rest
	}
	return msg
}

// runHelp is tcpdash help [COMMAND]: the usage --help prints.
func runHelp(args []string, stdout io.Writer) error {
	cmd := cmdMain
	if len(args) > 0 {
		switch args[0] {
		case cmdTune, cmdExporter, cmdRecord, cmdReplay:
			cmd = args[0]
		default:
			return usagef("help %q: there is no such command; the commands are tune, exporter, record and replay", args[0])
		}
	}
	_, err := io.WriteString(stdout, usageText(cmd))
	return err
}

// IsVersion says whether arg asks for the version, in any of the ways
// people type it.
func IsVersion(arg string) bool {
	switch arg {
	case "version", "--version", "-version", "-V":
		return true
	}
	return false
}

// PrintVersion prints this build's one line for args, which start with
// a version argument and have nothing after it.
func PrintVersion(args []string, stdout io.Writer) error {
	if len(args) > 1 {
		return usagef("%s takes no arguments", args[0])
	}
	_, err := fmt.Fprintln(stdout, version.Get())
	return err
}

// untilSignalled is ctx, ended also by SIGINT, SIGTERM or SIGHUP: what a
// command that runs until stopped, or must finish what it started (a
// sysctl batch, a recording's last line, the terminal given back), needs
// to stop cleanly. A one-shot snapshot goes without: os/signal's set-up
// starts three threads (it locks one to manage the signal mask), the most
// of a millisecond of a --once on these VMs, and a snapshot killed leaves
// nothing half done.
func untilSignalled(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
}

// Run is tcpdash: it parses args, runs the mode or subcommand they name
// until it ends, ctx does or a signal stops it (SIGINT, SIGTERM, SIGHUP),
// and returns its error for ExitCode.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		if IsVersion(args[0]) {
			return PrintVersion(args, stdout)
		}
		switch args[0] {
		case "help":
			return runHelp(args[1:], stdout)
		case "completion":
			return runCompletion(args[1:], stdout)
		case "__complete":
			return runComplete(args[1:], stdout)
		case cmdTune:
			ctx, stop := untilSignalled(ctx)
			defer stop()
			return runTune(ctx, args[1:], stdin, stdout, stderr)
		case cmdExporter:
			return runExporter(args[1:], stdout)
		case cmdRecord:
			ctx, stop := untilSignalled(ctx)
			defer stop()
			return runRecord(ctx, args[1:], stdout, stderr)
		case cmdReplay:
			ctx, stop := untilSignalled(ctx)
			defer stop()
			return runReplay(ctx, args[1:], stdout, stderr)
		}
	}
	cfg, err := parseFlags(args)
	if err != nil {
		return helpOr(err, cmdMain, stdout)
	}
	if !cfg.once && !cfg.json && !isTerminal(stdout) {
		// Known before anything is set up: a snapshot loads no eBPF
		// program and listens to no close, which it has no time to use
		// (they cost a piped tcpdash 120 ms over a --once).
		fmt.Fprintln(stderr, "tcpdash: stdout is not a terminal: printing one snapshot (use --once to say so, --json for JSON)")
		cfg.once = true
	}
	if !cfg.once {
		var stop context.CancelFunc
		ctx, stop = untilSignalled(ctx)
		defer stop()
	}
	if cfg.netns.all {
		return runAll(ctx, cfg, stdout, stderr)
	}
	w, err := openWatched(cfg.netns)
	if err != nil {
		return err
	}
	defer w.Close()
	// Streams and the dashboard carry owners over to TIME_WAIT; a single
	// snapshot cannot see the past.
	opts := tcpinfo.Options{Source: cfg.source, Top: cfg.top, RememberOwners: !cfg.once, WatchCloses: !cfg.once, Health: cfg.health, OneShot: cfg.once}
	if !cfg.once {
		src, err := loadOpeners(cfg.ebpf)
		if err != nil {
			return err
		}
		defer src.Close()
		opts = src.options(opts, w)
	}
	col, err := w.Collector(opts)
	if err != nil {
		return err
	}
	defer col.Close()
	if _, note := col.Source(); note != "" && !cfg.json {
		fmt.Fprintf(stderr, "tcpdash: source: %s\n", termsafe.String(note))
	}

	switch {
	case cfg.json && !cfg.once:
		return streamJSON(ctx, col, cfg, w, stdout)
	case !cfg.once:
		return runDashboard(ctx, col, cfg, w)
	}
	// One snapshot, then exit: the garbage collector would only scan
	// tables about to be dropped (a tenth of the CPU of a snapshot of
	// 200,000 sockets). A soft memory limit keeps it as a safety net.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(512 << 20)
	var owners *tcpinfo.Owners
	if cfg.processes {
		owners = readOwners(nil, w, stderr)
	}
	snap, err := col.Collect(tcpinfo.Query{Owners: owners, Filter: cfg.filter})
	if err != nil {
		return err
	}
	w.Label(snap)
	// One snapshot: rates come from the kernel's timers where they can.
	findings := diagnose.Diagnose(snap, nil, w.Settings())
	if cfg.json {
		return writeJSON(stdout, snap, findings, version.Get().Build())
	}
	return writeReport(stdout, snap, findings)
}

// readOwners refreshes process attribution when it is stale. Without it
// the snapshot is still right, only anonymous, so a failure is a warning.
func readOwners(cur *tcpinfo.Owners, w *watch.Namespace, stderr io.Writer) *tcpinfo.Owners {
	if !cur.Stale(time.Now(), 0) {
		return cur
	}
	o, err := tcpinfo.ReadOwnersIn("/proc", w.NS.ID())
	if err != nil {
		fmt.Fprintf(stderr, "tcpdash: warning: cannot attribute sockets to processes: %s\n", termsafe.Error(err))
		return cur
	}
	return o
}

// writeJSON writes one line: the snapshot's object with findings and the
// build (version.Info.Build, read once a command: it parses the binary's
// build information) added.
func writeJSON(w io.Writer, snap *tcpinfo.Snapshot, findings []diagnose.Finding, build string) error {
	// Written by hand, not by json.Marshal (internal/jsonw says why; it
	// would also scan the snapshot's bytes again to check them).
	b, err := snap.MarshalJSON()
	if err != nil {
		return err
	}
	var fw jsonw.W
	diagnose.WriteJSON(&fw, findings)
	f, err := fw.Bytes()
	if err != nil {
		return err
	}
	// The snapshot marshals itself; findings belong to another package,
	// and the build to the binary, so they are spliced in before its
	// closing brace. The build is "tcpdash", as in a recording's header:
	// a line's "version" would read as a recording's format version.
	b = append(append(append(b[:len(b)-1], `,"findings":`...), f...), `,"tcpdash":`...)
	b = append(jsonw.AppendString(b, build), "}\n"...)
	_, err = w.Write(b)
	return err
}

// streamJSON logs one snapshot per line until ctx is done or count
// snapshots are out.
func streamJSON(ctx context.Context, col *tcpinfo.Collector, cfg config, ns *watch.Namespace, out io.Writer) error {
	build := version.Get().Build()
	return ns.Stream(ctx, col, streamOptions(cfg), func(snap *tcpinfo.Snapshot, findings []diagnose.Finding, _ []tuning.Setting) error {
		return writeJSON(out, snap, findings, build)
	})
}

// streamOptions is what a stream takes of the command line.
func streamOptions(cfg config) watch.StreamOptions {
	return watch.StreamOptions{Interval: cfg.interval, Count: cfg.count, Processes: cfg.processes, Filter: cfg.filter}
}
