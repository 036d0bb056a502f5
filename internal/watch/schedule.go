// Package watch is what it means to watch: the one poll schedule every
// loop follows — the dashboard's tick, the --json stream and the recorder,
// the fleet of --netns all, and the exporter's shared collections.
package watch

import (
	"fmt"
	"time"
)

// MinInterval is the shortest interval tcpdash polls at.
const MinInterval = 100 * time.Millisecond

// A Schedule polls every Interval, stretched when a poll costs more than
// a quarter of it, so that polling never takes more than a quarter of a
// core whatever the host holds.
type Schedule struct {
	Interval time.Duration
}

// Next is the time until the next poll after one that took took.
func (s Schedule) Next(took time.Duration) time.Duration {
	if took*4 <= s.Interval {
		return s.Interval
	}
	return (took*4 + 99*time.Millisecond).Truncate(100 * time.Millisecond)
}

// CheckInterval says why d cannot be an interval, or nil.
func CheckInterval(d time.Duration) error {
	if d < MinInterval {
		return fmt.Errorf("%s is too short: use a Go duration of at least %s, such as 1s", d, MinInterval)
	}
	return nil
}
