package ui

import (
	"time"

	"github.com/tcpdash/tcpdash/tcpinfo"
)

// historyLen is how many polls the sparklines remember: three minutes at
// the default interval.
const historyLen = 180

type sample struct {
	at     time.Time
	states tcpinfo.StateCounts
}

// history is a ring of recent state counts.
type history struct {
	samples []sample
}

func (h *history) add(s *tcpinfo.Snapshot) {
	if len(h.samples) == historyLen {
		copy(h.samples, h.samples[1:])
		h.samples = h.samples[:historyLen-1]
	}
	h.samples = append(h.samples, sample{s.Time, s.States})
}

// series returns the last n counts of state st, oldest first.
func (h *history) series(st tcpinfo.State, n int) []int {
	from := max(len(h.samples)-n, 0)
	out := make([]int, 0, len(h.samples)-from)
	for _, s := range h.samples[from:] {
		out = append(out, s.states[st])
	}
	return out
}

// growth returns how much state st grew per second over the last window,
// and whether there is enough history to say.
func (h *history) growth(st tcpinfo.State, window time.Duration) (float64, bool) {
	return h.rise(st, window, 1)
}

// floorGrowth is growth for a count that flickers: between the lowest of
// up to three samples at each end of the window, so a socket passing
// through the state at one poll (a churned connection's CLOSE_WAIT) is no
// rise, while a leak, which raises the lowest, is.
func (h *history) floorGrowth(st tcpinfo.State, window time.Duration) (float64, bool) {
	return h.rise(st, window, 3)
}

// rise is state st's growth per second over the last window, between the
// lowest of up to most samples at each end, at their own times (one each
// with few samples: the ends share none).
func (h *history) rise(st tcpinfo.State, window time.Duration, most int) (float64, bool) {
	n := len(h.samples)
	if n < 2 {
		return 0, false
	}
	last := h.samples[n-1].at
	i := n - 2
	for i > 0 && last.Sub(h.samples[i].at) < window {
		i--
	}
	k := max(1, min(most, (n-i)/2))
	// Ties go to the earliest at the start and the latest at the end, so
	// a flat count reads as flat.
	lowest := func(from []sample, latest bool) sample {
		best := from[0]
		for _, s := range from[1:] {
			if s.states[st] < best.states[st] || latest && s.states[st] == best.states[st] {
				best = s
			}
		}
		return best
	}
	a, b := lowest(h.samples[i:i+k], false), lowest(h.samples[n-k:], true)
	dt := b.at.Sub(a.at).Seconds()
	if dt <= 0 {
		return 0, false
	}
	return float64(b.states[st]-a.states[st]) / dt, true
}

// rising reports whether state st grew at every one of the last n polls.
func (h *history) rising(st tcpinfo.State, n int) bool {
	if len(h.samples) < n+1 {
		return false
	}
	s := h.samples[len(h.samples)-n-1:]
	for i := 1; i < len(s); i++ {
		if s[i].states[st] <= s[i-1].states[st] {
			return false
		}
	}
	return true
}

// sparkline draws the last width values, scaled between their minimum
// and maximum: it shows the trend, so a steady count is a flat line. The
// scale spans at least an eighth of the largest value, so that a count
// of 200 that reads 201 for a poll (a connection passing through the
// state) stays near the floor instead of drawing a full-height spike;
// from zero, any count is a step.
func sparkline(values []int, width int) string {
	runes := []rune("▁▂▃▄▅▆▇█")
	if width <= 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	lo, hi := 0, 0
	for i, v := range values {
		if i == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	out := make([]rune, 0, width)
	for range width - len(values) {
		out = append(out, ' ')
	}
	span := max(hi-lo, (hi+7)/8)
	for _, v := range values {
		i := 0
		if span > 0 {
			i = (v - lo) * (len(runes) - 1) / span
		}
		out = append(out, runes[i])
	}
	return string(out)
}
