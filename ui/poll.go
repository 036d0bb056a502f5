package ui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/tcpinfo"
)

// A Source gives the snapshots every pane reads: *tcpinfo.Collector for
// a live namespace (each namespace of a fleet has its own); a recording
// feeds the same panes through the same interface.
type Source interface {
	Collect(tcpinfo.Query) (*tcpinfo.Snapshot, error)
}

// polledMsg carries the result of one poll.
type polledMsg struct {
	snap *tcpinfo.Snapshot
	err  error
}

// tickMsg says it is time to poll. gen tags the schedule it belongs to, so
// a tick from before a pause or an interval change is dropped.
type tickMsg struct{ gen int }

// poll runs one Collect off the UI loop: Bubble Tea runs commands in
// their own goroutines, so a slow dump never delays a key press.
func poll(c Source, q tcpinfo.Query) tea.Cmd {
	return func() tea.Msg {
		snap, err := c.Collect(q)
		return polledMsg{snap, err}
	}
}

func tick(d time.Duration, gen int) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return tickMsg{gen} })
}

// intervals are the steps + and - move through.
var intervals = []time.Duration{
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
}

// stepInterval returns the next step up (dir > 0) or down from d.
func stepInterval(d time.Duration, dir int) time.Duration {
	for i, s := range intervals {
		if dir > 0 && s > d {
			return s
		}
		if dir < 0 && s >= d {
			return intervals[max(i-1, 0)]
		}
	}
	if dir > 0 {
		return intervals[len(intervals)-1]
	}
	return intervals[len(intervals)-2]
}
