package ui

import "testing"

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
