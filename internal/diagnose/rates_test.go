package diagnose

import (
	"testing"
	"time"
)

// TestRatesOf: the one model of a group's rates, measured or from the
// timers, with its forecast: out of ports is 0 left, not growing is -1.
func TestRatesOf(t *testing.T) {
	then := group(18000, 17900, 4000, 0)
	r := RatesOf(group(20000, 19900, 4000, 500), &then, 5)
	if r.Growth != 400 || r.Opens != 450 || r.Left != time.Duration(float64(28232-20000)/400*float64(time.Second)) {
		t.Errorf("measured: %+v, want growth 400/s, opens 450/s, %s left", r, time.Duration(float64(28232-20000)/400*float64(time.Second)))
	}
	r = RatesOf(group(20000, 19900, 4000, 1000), nil, 0)
	if r.Growth != 400-100 || r.Opens != 400 {
		t.Errorf("from timers: %+v, want growth 300/s and opens 400/s", r)
	}
	if r := RatesOf(group(28232, 28000, 0, 0), nil, 0); r.Left != 0 {
		t.Errorf("out of ports: %v left, want 0", r.Left)
	}
	if r := RatesOf(group(1000, 900, 0, 0), nil, 0); r.Left != -1 {
		t.Errorf("not growing: %v left, want -1", r.Left)
	}
}
