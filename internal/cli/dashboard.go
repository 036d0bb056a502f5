package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/ui"
)

// runDashboard runs the TUI until q, SIGTERM, or ctx ends (SIGINT, SIGHUP
// when the tmux pane or SSH session goes away). Bubble Tea restores the
// terminal on every one of those paths.
func runDashboard(ctx context.Context, col *tcpinfo.Collector, cfg config, w *watch.Namespace) error {
	uc := dashboardConfig(cfg, hostInfo(w))
	uc.Source, uc.Tuner = col, cfg.tuneFiles.system(w)
	if cfg.processes {
		uc.Owners = w.OwnersReader()
	}
	return runProgram(ctx, uc)
}

// runFleetDashboard is --netns all in a terminal: the dashboard opens on
// the Namespaces pane.
func runFleetDashboard(ctx context.Context, cfg config, fl fleetPanes) error {
	info := hostInfo(&watch.Namespace{})
	info.Netns = "all"
	uc := dashboardConfig(cfg, info)
	uc.Fleet = fl
	return runProgram(ctx, uc)
}

// dashboardConfig is what every dashboard shares.
func dashboardConfig(cfg config, info ui.HostInfo) ui.Config {
	return ui.Config{Interval: cfg.interval, Info: info, ReadOnly: cfg.readOnly, PersistPath: cfg.file,
		Filter: cfg.filter, ParseFilter: parseFilter,
		Root: os.Geteuid() == 0, Unrecorded: cfg.noUndo && (cfg.stateFile == "" || cfg.auditLog == "")}
}

// runProgram runs the TUI until it quits or a signal ends it.
func runProgram(ctx context.Context, uc ui.Config) error {
	m := ui.NewRoot(uc)
	// SIGQUIT ends the dashboard like SIGTERM, with the terminal restored;
	// Go's goroutine dump, which it would print over the alternate screen,
	// follows once the terminal is back.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigquit := make(chan os.Signal, 1)
	signal.Notify(sigquit, syscall.SIGQUIT)
	defer signal.Stop(sigquit)
	var quitBySIGQUIT atomic.Bool
	go func() {
		select {
		case <-sigquit:
			quitBySIGQUIT.Store(true)
			cancel()
		case <-ctx.Done():
		}
	}()
	// 20 frames a second keeps keys snappy (50 ms) while the renderer wakes
	// a third as often as the default 60: the data changes once a second.
	susp := newSuspender()
	defer susp.stop()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithFPS(20), tea.WithFilter(susp.filter))
	susp.start(p)
	_, err := p.Run()
	if quitBySIGQUIT.Load() {
		os.Stderr.Write(allStacks())
		return errors.New("quit by SIGQUIT")
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // a signal ended it: a normal end
	}
	return err
}

// A suspender makes a SIGTSTP from outside (kill -TSTP, a shell's job
// control) suspend the dashboard as ctrl+z does: the terminal is restored
// before the process stops and set up again when it continues. Go cannot
// hand SIGTSTP back to its default action once it is caught, so the
// process stops itself with SIGSTOP when Bubble Tea's suspend raises its
// own SIGTSTP.
type suspender struct {
	tstp, cont chan os.Signal
	done       chan struct{}
	// suspending is set from the moment a suspend is under way until the
	// process continues.
	suspending atomic.Bool
}

func newSuspender() *suspender {
	s := &suspender{tstp: make(chan os.Signal, 1), cont: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(s.tstp, syscall.SIGTSTP)
	signal.Notify(s.cont, syscall.SIGCONT)
	return s
}

func (s *suspender) start(p *tea.Program) {
	go func() {
		for {
			select {
			case <-s.done:
				return
			case <-s.tstp:
				if s.suspending.Load() {
					// Bubble Tea's own, with the terminal released: stop
					// the job as SIGTSTP would have.
					_ = syscall.Kill(0, syscall.SIGSTOP)
					continue
				}
				s.suspending.Store(true)
				p.Send(tea.SuspendMsg{}) // from outside: release the terminal first
			case <-s.cont:
				s.suspending.Store(false)
			}
		}
	}()
}

// filter sees every message before Bubble Tea acts on it: ctrl+z's
// suspend is marked as under way.
func (s *suspender) filter(_ tea.Model, msg tea.Msg) tea.Msg {
	if _, ok := msg.(tea.SuspendMsg); ok {
		s.suspending.Store(true)
	}
	return msg
}

func (s *suspender) stop() {
	close(s.done)
	signal.Stop(s.tstp)
	signal.Stop(s.cont)
}

// hostInfo is read once: none of it changes while tcpdash runs.
func hostInfo(w *watch.Namespace) ui.HostInfo {
	var info ui.HostInfo
	info.Host, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		info.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	info.Netns, info.Where = w.String(), w.Describe()
	return info
}

// allStacks is every goroutine's stack, as a crash prints them. It is
// runtime.Stack rather than runtime/pprof's goroutine profile: a binary
// that links runtime/pprof samples its allocations for a heap profile
// from the start (without it the linker turns that off), and carries
// 250 KB more; a --once paid 0.5 MiB of RSS for it.
func allStacks() []byte {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}
