package ui

import (
	"testing"
)

// BenchmarkTick is the dashboard's steady cost between polls: a tick that
// finds a poll in flight, and the render Bubble Tea asks for after it.
func BenchmarkTick(b *testing.B) {
	m := started(&testing.T{}, &fakeCollector{}, 120, 40, 3)
	m.sched.inFlight = true
	b.ReportAllocs()
	for b.Loop() {
		nm, _ := m.Update(tickMsg{gen: m.sched.gen})
		_ = nm.View()
	}
}

// BenchmarkPollLands is a poll result landing, and its render.
func BenchmarkPollLands(b *testing.B) {
	f := &fakeCollector{}
	m := started(&testing.T{}, f, 120, 40, 3)
	snap := fakeSnapshot(4, m.query())
	b.ReportAllocs()
	for b.Loop() {
		nm, _ := m.Update(polledMsg{snap: snap})
		_ = nm.View()
	}
}
