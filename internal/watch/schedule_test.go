package watch

import (
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	for _, tc := range []struct{ interval, took, want time.Duration }{
		{time.Second, 100 * time.Millisecond, time.Second},
		{time.Second, 250 * time.Millisecond, time.Second},
		{time.Second, 300 * time.Millisecond, 1200 * time.Millisecond},
		{time.Second, 310 * time.Millisecond, 1300 * time.Millisecond},
	} {
		if got := (Schedule{tc.interval}).Next(tc.took); got != tc.want {
			t.Errorf("Schedule{%v}.Next(%v) = %v, want %v", tc.interval, tc.took, got, tc.want)
		}
	}
}

func TestCheckInterval(t *testing.T) {
	if err := CheckInterval(99 * time.Millisecond); err == nil {
		t.Error("99ms is accepted")
	}
	if err := CheckInterval(MinInterval); err != nil {
		t.Errorf("%v is refused: %v", MinInterval, err)
	}
}
