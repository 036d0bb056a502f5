package main

import (
	"context"
	"errors"
	"os"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/ui"
)

// runDashboard runs the TUI until q, SIGTERM, or ctx ends (SIGINT, SIGHUP
// when the tmux pane or SSH session goes away). Bubble Tea restores the
// terminal on every one of those paths.
func runDashboard(ctx context.Context, col *tcpinfo.Collector, cfg config) error {
	uc := ui.Config{Collector: col, Interval: cfg.interval, Info: hostInfo(),
		Tuner: cfg.tuneFiles.system(), ReadOnly: cfg.readOnly, PersistPath: cfg.file,
		Root: os.Geteuid() == 0, Unrecorded: cfg.noUndo && (cfg.stateFile == "" || cfg.auditLog == "")}
	if cfg.processes {
		uc.Owners = func() (*tcpinfo.Owners, error) { return tcpinfo.ReadOwners("/proc") }
	}
	m := ui.New(uc)
	// 20 frames a second keeps keys snappy (50 ms) while the renderer wakes
	// a third as often as the default 60: the data changes once a second.
	_, err := tea.NewProgram(m, tea.WithContext(ctx), tea.WithFPS(20)).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // a signal ended it: a normal end
	}
	return err
}

// hostInfo is read once: none of it changes while tcpdash runs.
func hostInfo() ui.HostInfo {
	var info ui.HostInfo
	info.Host, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		info.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	info.Netns, _ = os.Readlink("/proc/self/ns/net")
	return info
}
