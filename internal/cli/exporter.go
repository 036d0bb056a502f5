package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/filter"
)

// DefaultExporterAddress is tcpdash's own port, as node_exporter has 9100.
const DefaultExporterAddress = ":9478"

// ExporterBinary is the exporter's own program. The Prometheus client
// and exporter-toolkit cost every start of a binary that links them about
// 9 ms of CPU and 180 page faults in their package init, the largest part
// of what a start of tcpdash cost (docs/performance.md), so they live in
// tcpdash-exporter, and `tcpdash exporter` runs it.
const ExporterBinary = "tcpdash-exporter"

// ExporterConfig is the exporter's flags, parsed.
type ExporterConfig struct {
	Listen, WebConfig string
	Top               int
	Timeout           time.Duration
	Processes         bool
	Netns             NetnsChoice
	Filter            *filter.Filter
	EBPF              EBPFMode
	Health            bool
}

// ParseExporterFlags parses the exporter's flags, from the one table of
// flags. -h prints the usage to stdout and gives flag.ErrHelp.
func ParseExporterFlags(args []string, stdout io.Writer) (ExporterConfig, error) {
	cfg := ExporterConfig{Listen: DefaultExporterAddress, Top: 10, Timeout: 10 * time.Second, Processes: true}
	fs := flag.NewFlagSet("tcpdash exporter", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "")
	fs.StringVar(&cfg.WebConfig, "web.config.file", "", "")
	fs.IntVar(&cfg.Top, "top", cfg.Top, "")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "")
	fs.BoolVar(&cfg.Processes, "processes", true, "")
	registerNetns(fs, &cfg.Netns)
	registerFilter(fs, &cfg.Filter)
	registerEBPF(fs, &cfg.EBPF)
	fs.BoolVar(&cfg.Health, "health", false, "")
	if err := parseSet(fs, args, cmdExporter); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(stdout, usageText(cmdExporter))
		}
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, usageFor(cmdExporter, "unexpected argument %q: the exporter takes only flags", fs.Arg(0))
	case cfg.Top < 1 || cfg.Top > 1000:
		return cfg, usageFor(cmdExporter, "--top %d: use a number from 1 to 1000", cfg.Top)
	case cfg.Timeout <= 0:
		return cfg, usageFor(cmdExporter, "--timeout %s: use a positive Go duration such as 10s", cfg.Timeout)
	}
	return cfg, nil
}

// Exec is a program to run in tcpdash's place: Run returns it rather than
// running it, so that tests can see it, and main runs it.
type Exec struct {
	Path string
	Argv []string
}

func (e *Exec) Error() string { return "run " + e.Path }

// Run replaces this process with the program: the same pid, signals and
// standard files, as a service manager expects.
func (e *Exec) Run() error {
	if err := unix.Exec(e.Path, e.Argv, os.Environ()); err != nil {
		return fmt.Errorf("run %s: %w", e.Path, err)
	}
	return nil // not reached
}

// runExporter checks the flags here, so that a mistake or -h needs no
// exporter, then hands over to tcpdash-exporter: the one beside this
// binary (as the packages install them), else the one on PATH.
func runExporter(args []string, stdout io.Writer) error {
	if _, err := ParseExporterFlags(args, stdout); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	path, err := findExporter()
	if err != nil {
		return err
	}
	return &Exec{Path: path, Argv: append([]string{path}, args...)}
}

func findExporter() (string, error) {
	self, err := os.Executable()
	if err == nil {
		if self, err = filepath.EvalSymlinks(self); err == nil {
			if beside, ok := exporterBeside(self); ok {
				return beside, nil
			}
		}
	}
	path, err := exec.LookPath(ExporterBinary)
	if err != nil {
		where := "beside tcpdash"
		if self != "" {
			where = "in " + filepath.Dir(self)
		}
		return "", hinted{fmt.Errorf("tcpdash exporter runs %s, which is neither %s nor on PATH", ExporterBinary, where),
			"install the tcpdash package, which has both; from a clone, go run ./cmd/tcpdash-exporter"}
	}
	return path, nil
}

// exporterBeside is the exporter in self's directory, if it is one to
// trust as self: a regular executable file of self's owner that no one
// else may write. tcpdash runs as root, sometimes from a directory others
// can write to (/tmp is sticky: they cannot replace tcpdash there, but
// they can put a tcpdash-exporter beside it).
func exporterBeside(self string) (string, bool) {
	beside := filepath.Join(filepath.Dir(self), ExporterBinary)
	var me, it unix.Stat_t
	if unix.Stat(self, &me) != nil || unix.Lstat(beside, &it) != nil {
		return "", false
	}
	ok := it.Mode&unix.S_IFMT == unix.S_IFREG && it.Mode&0o111 != 0 && it.Mode&0o022 == 0 && it.Uid == me.Uid
	return beside, ok
}
