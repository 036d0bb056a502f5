// Command tcpload builds a known TCP socket population on loopback, for
// testing and benchmarking tcpdash, then runs a command beside it.
//
//	tcpload --netns --time-wait 1000 --established 50 -- tcpdash --once
//
// With --netns it first moves into a private user+network namespace, so the
// population and any --sysctl stay out of the host. With --bench it runs
// each named command --runs times, interleaved, and reports CPU time and
// peak memory side by side.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/tuning"
)

const usage = `Usage: tcpload [flags] [-- command [args...]]

Builds sockets on loopback, then runs command (or waits for Ctrl-C).

Population:
  --established N   ESTABLISHED pairs over 127.0.0.1 (2 sockets each)
  --time-wait N     TIME_WAIT sockets from client-side closes
  --half-closed N   pairs left in FIN_WAIT2 / CLOSE_WAIT
  --ipv6 N          ESTABLISHED pairs over ::1
  --mapped N        IPv4 clients of a dual-stack [::] listener
  --listeners N     idle listeners
  --dests N         destination addresses for TIME_WAIT (127.0.0.1..N, default 4)
  --ports N         server ports per destination (default 2)
  --sources N       source addresses of the --established clients
                    (127.1.0.1..N; default: 127.0.0.1 only)
  --base-port P     first server port (default 20000); run several tcploads
                    side by side in one namespace on different base ports

Load:
  --churn RATE      while the command runs, connect() RATE times a second to a
                    server of its own on 127.0.0.250:7000, which closes at once
  --client-closes   with --churn: the client closes first (its side is left in
                    TIME_WAIT, as behind a connection per request)

  --wait-for FILE   once every listener is bound, print "listening" and wait
                    for FILE to exist before connecting: workers started
                    side by side bind all their ports first

Environment:
  --netns           run in a new private user+network namespace
  --sysctl K=V      set a sysctl tcpdash knows first, checked and read back;
                    only with --netns (repeatable)

Benchmark:
  --bench NAME=CMD  measure CMD (run by sh -c); repeatable, first is the baseline
  --runs N          runs of each --bench command, interleaved (default 5)
`

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "tcpload: error: %v\n", err)
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var spec loadgen.Spec
	var inNetns bool
	var sysctls, benches multiFlag
	runs := 5
	fs := flag.NewFlagSet("tcpload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.IntVar(&spec.Established, "established", 0, "")
	fs.IntVar(&spec.TimeWait, "time-wait", 0, "")
	fs.IntVar(&spec.HalfClosed, "half-closed", 0, "")
	fs.IntVar(&spec.IPv6, "ipv6", 0, "")
	fs.IntVar(&spec.Mapped, "mapped", 0, "")
	fs.IntVar(&spec.Listeners, "listeners", 0, "")
	fs.IntVar(&spec.Dests, "dests", 4, "")
	fs.IntVar(&spec.Ports, "ports", 2, "")
	fs.IntVar(&spec.Sources, "sources", 0, "")
	basePort := fs.Uint("base-port", 20000, "")
	fs.BoolVar(&inNetns, "netns", false, "")
	fs.Var(&sysctls, "sysctl", "")
	fs.Var(&benches, "bench", "")
	fs.IntVar(&runs, "runs", runs, "")
	churn := fs.Int("churn", 0, "")
	clientCloses := fs.Bool("client-closes", false, "")
	waitFor := fs.String("wait-for", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if spec.Dests < 1 || spec.Dests > 254 || spec.Ports < 1 || spec.Ports > 100 || runs < 1 ||
		spec.Sources < 0 || spec.Sources > 65000 || *basePort < 1024 || *basePort > 65000 {
		return errors.New("--dests takes 1-254, --ports 1-100, --sources 0-65000, --base-port 1024-65000, --runs at least 1")
	}
	spec.BasePort = uint16(*basePort)

	// Big populations need more descriptors than the usual soft limit;
	// root may raise the hard limit too, which the namespace inherits.
	raiseFileLimit(2*(spec.Established+spec.HalfClosed+spec.IPv6+spec.Mapped) + spec.Listeners + 1024)

	if inNetns && !netns.Inside() {
		cmd := netns.Command("/proc/self/exe", args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		// The interrupt that ends this process ends the one inside too.
		stop := context.AfterFunc(ctx, func() { cmd.Process.Signal(os.Interrupt) })
		defer stop()
		return cmd.Wait()
	}
	if netns.Inside() {
		if err := netns.LoopbackUp(); err != nil {
			return err
		}
	}
	if len(sysctls) > 0 {
		if !netns.Inside() {
			return errors.New("--sysctl changes only a private namespace's values: add --netns")
		}
		if err := setSysctls(sysctls); err != nil {
			return err
		}
	}

	if *waitFor != "" {
		spec.Listening = func() {
			fmt.Fprintln(stderr, "tcpload: listening")
			for {
				if _, err := os.Stat(*waitFor); err == nil || ctx.Err() != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	start := time.Now()
	pop, err := loadgen.Build(spec)
	if err != nil {
		return err
	}
	defer pop.Close()
	shown := spec
	shown.Listening = nil // a func prints as an address
	fmt.Fprintf(stderr, "tcpload: built %+v in %s (pid %d)\n", shown, time.Since(start).Round(time.Millisecond), os.Getpid())
	if *churn > 0 {
		stopChurn, err := startChurn(ctx, *churn, *clientCloses, stderr)
		if err != nil {
			return err
		}
		defer stopChurn()
	}

	switch {
	case len(benches) > 0:
		return bench(ctx, benches, runs, stdout)
	case fs.NArg() > 0:
		cmd := exec.CommandContext(ctx, fs.Arg(0), fs.Args()[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
		return cmd.Run()
	}
	fmt.Fprintf(stderr, "tcpload: holding the sockets until Ctrl-C; to look: nsenter -t %d -U -n --preserve-credentials tcpdash\n", os.Getpid())
	<-ctx.Done()
	return nil
}

func raiseFileLimit(want int) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || lim.Cur >= uint64(want) {
		return
	}
	lim.Cur = uint64(want)
	if lim.Max < lim.Cur {
		lim.Max = lim.Cur // works for root only; otherwise Build reports EMFILE
	}
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// setSysctls applies KEY=VALUE pairs as one checked, read-back batch,
// through the same tuning code tcpdash uses. No state or audit file: the
// namespace, and its values, end with this process.
func setSysctls(kvs []string) error {
	var as []tuning.Assignment
	for _, kv := range kvs {
		a, err := tuning.ParseAssignment(kv)
		if err != nil {
			return fmt.Errorf("--sysctl: %w", err)
		}
		as = append(as, a)
	}
	sys := tuning.New(tuning.Options{NoUndo: true})
	plan, err := sys.Plan(as)
	if err != nil {
		return fmt.Errorf("--sysctl: %w", err)
	}
	if err := sys.Apply(plan); err != nil {
		return fmt.Errorf("--sysctl: %w", err)
	}
	return nil
}

type sample struct {
	cpu    time.Duration
	maxRS  int64 // KiB
	faults int64 // minor page faults
	wall   time.Duration
}

// bench runs each command runs times, round-robin so that drift in the
// machine's load hits all of them alike (every other round in reverse, so
// that no command always follows the same one), and prints medians with
// ratios to the first command. A CPU ratio is the median of each round's
// ratio: the floor's own median moves by a fifth between runs on a noisy
// machine, and a ratio within a round cancels what the round shared.
func bench(ctx context.Context, benches []string, runs int, w io.Writer) error {
	names := make([]string, len(benches))
	cmds := make([]string, len(benches))
	for i, b := range benches {
		name, cmd, ok := strings.Cut(b, "=")
		if !ok {
			return fmt.Errorf("--bench %q: want NAME=COMMAND", b)
		}
		names[i], cmds[i] = name, cmd
	}
	// Peak RSS comes from GNU time: Go starts children with vfork, so a
	// child's own ru_maxrss starts at this process's high-water mark. GNU
	// time is small, so the floor it leaves is too. CPU comes from wait4,
	// to the microsecond, and includes GNU time's own ~1 ms.
	gnuTime, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		return errors.New("--bench needs GNU time for peak memory: apt-get install time")
	}
	rssFile, err := os.CreateTemp("", "tcpload-rss")
	if err != nil {
		return err
	}
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	samples := make([][]sample, len(cmds))
	order := make([]int, len(cmds))
	for round := range runs {
		for k := range order {
			order[k] = k
			if round%2 == 1 {
				order[k] = len(cmds) - 1 - k
			}
		}
		for _, i := range order {
			c := cmds[i]
			cmd := exec.CommandContext(ctx, gnuTime, "-f", "%M", "-o", rssFile.Name(), "sh", "-c", c)
			cmd.Stdout = io.Discard
			cmd.Stderr = os.Stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %w", names[i], err)
			}
			wall := time.Since(start)
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			rss, err := os.ReadFile(rssFile.Name())
			if err != nil {
				return err
			}
			var kib int64
			if _, err := fmt.Sscan(string(rss), &kib); err != nil {
				return fmt.Errorf("GNU time output %q: %w", rss, err)
			}
			samples[i] = append(samples[i], sample{
				cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
				maxRS:  kib,
				faults: ru.Minflt,
				wall:   wall,
			})
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "command\tCPU (median)\tvs %s\tpeak RSS\tvs %s\tminor faults\twall\t\n", names[0], names[0])
	base := median(samples[0])
	for i, s := range samples {
		m := median(s)
		ratios := make([]float64, len(s))
		for r := range s {
			ratios[r] = float64(s[r].cpu) / float64(samples[0][r].cpu)
		}
		slices.Sort(ratios)
		fmt.Fprintf(tw, "%s\t%s\t%.2fx\t%d KiB\t%.2fx\t%d\t%s\t\n", names[i], m.cpu.Round(time.Millisecond),
			ratios[len(ratios)/2], m.maxRS, float64(m.maxRS)/float64(base.maxRS), m.faults, m.wall.Round(time.Millisecond))
	}
	return tw.Flush()
}

func median(s []sample) sample {
	s = slices.Clone(s)
	slices.SortFunc(s, func(a, b sample) int { return int(a.cpu - b.cpu) })
	m := s[len(s)/2]
	rs := make([]int64, len(s))
	for i := range s {
		rs[i] = s[i].maxRS
	}
	slices.Sort(rs)
	m.maxRS = rs[len(rs)/2]
	for i := range s {
		rs[i] = s[i].faults
	}
	slices.Sort(rs)
	m.faults = rs[len(rs)/2]
	return m
}

// startChurn runs a steady connect() load against a server that closes
// every connection at once; stop ends it and reports the rate achieved.
func startChurn(ctx context.Context, rate int, clientCloses bool, stderr io.Writer) (stop func(), err error) {
	to := netip.MustParseAddrPort("127.0.0.250:7000")
	handle := func(fd int) { unix.Close(fd) }
	if clientCloses {
		handle = func(fd int) {
			go func() { // close after the client's FIN
				var b [1]byte
				unix.Read(fd, b[:])
				unix.Close(fd)
			}()
		}
	}
	stopServer, err := loadgen.Serve(to, handle)
	if err != nil {
		return nil, fmt.Errorf("--churn: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		_, n, err := loadgen.Churn(ctx, to, rate)
		if err != nil {
			fmt.Fprintf(stderr, "tcpload: churn: %v\n", err)
		}
		fmt.Fprintf(stderr, "tcpload: churn: %d connections in %s: %.0f/s\n", n, time.Since(start).Round(time.Millisecond),
			float64(n)/time.Since(start).Seconds())
	}()
	return func() { cancel(); <-done; stopServer() }, nil
}
