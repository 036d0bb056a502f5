package diagnose

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/tcpinfo"
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

// TestOpenerRateIsTheModels: the finding names the opener's rate as the
// one model gives it, the number the pressure pane's NEW/S shows, not a
// second estimate from the timers alone.
func TestOpenerRateIsTheModels(t *testing.T) {
	now, then := base(5*time.Second), base(0)
	g := group(20000, 19900, 4000, 500)
	g.Opener, g.OpenerSockets = tcpinfo.Owner{PID: 4242, Command: "java"}, 20000
	now.PortPressure, then.PortPressure = []tcpinfo.PressureGroup{g}, []tcpinfo.PressureGroup{group(18000, 17900, 4000, 0)}
	f := Diagnose(now, then, nil)
	want := fmt.Sprintf("opens %s connections/s", fmtRate(RatesOf(g, &then.PortPressure[0], 5).Opens))
	if len(f) == 0 || !strings.Contains(strings.Join(f[0].Evidence, " "), want) {
		t.Errorf("want the evidence to say %q:\n%v", want, f)
	}
}
