package ui

import (
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/tcpinfo"
)

func TestSparkline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []int
		width  int
		want   string
	}{
		{"steady", []int{200, 200, 200}, 3, "▁▁▁"},
		// A connection passing through CLOSE_WAIT at one poll.
		{"jitter stays low", []int{200, 200, 201, 200}, 4, "▁▁▁▁"},
		{"a trend spans the scale", []int{20_000, 21_000, 22_000, 23_000, 24_000, 25_000}, 6, "▁▂▃▅▆█"},
		{"from zero, any count is a step", []int{0, 0, 3, 0}, 4, "▁▁█▁"},
		{"a leak starting", []int{0, 1, 2, 3}, 4, "▁▃▅█"},
		{"a drop of a tenth shows", []int{1000, 1000, 900, 900}, 4, "▆▆▁▁"},
		{"all zero", []int{0, 0}, 2, "▁▁"},
		{"short history is padded left", []int{5, 5}, 4, "  ▁▁"},
		{"only the last width values", []int{1_000_000, 10, 10}, 2, "▁▁"},
		{"no room", []int{1, 2}, 0, ""},
	} {
		if got := sparkline(tc.values, tc.width); got != tc.want {
			t.Errorf("%s: sparkline(%v, %d) = %q, want %q", tc.name, tc.values, tc.width, got, tc.want)
		}
	}
}

// TestFloorGrowth: CLOSE_WAIT's trouble mark reads the lowest counts at
// each end of its window, so churned connections passing through the
// state at one poll or another are no rise, while a leak is.
func TestFloorGrowth(t *testing.T) {
	at := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	hist := func(counts ...int) *history {
		h := &history{}
		for i, c := range counts {
			var s tcpinfo.Snapshot
			s.Time = at.Add(time.Duration(i) * time.Second)
			s.States[tcpinfo.CloseWait] = c
			h.add(&s)
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		counts []int
		want   float64
	}{
		{"flicker", []int{200, 201, 200, 200, 201, 200, 200, 201, 200, 200, 201}, 0},
		{"flicker at the end", []int{200, 200, 200, 200, 200, 200, 200, 200, 200, 202}, 0},
		{"a leak", []int{200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210}, 1},
		{"a leak of a few at once", []int{200, 200, 200, 200, 200, 210, 210, 210, 210, 210, 210}, 10.0 / 10},
		{"few polls: as growth", []int{10, 15, 20}, 5},
	} {
		g, ok := hist(tc.counts...).floorGrowth(tcpinfo.CloseWait, 10*time.Second)
		if !ok || g != tc.want {
			t.Errorf("%s %v: growth %v (%v), want %v", tc.name, tc.counts, g, ok, tc.want)
		}
	}
}
