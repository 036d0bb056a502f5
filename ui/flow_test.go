package ui

import (
	"bytes"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/tcpdash/tcpdash/tcpinfo"
)

// These flows run the real Bubble Tea program loop, with its goroutines,
// timers and renderer, against the fake collector.

func startFlow(t *testing.T, f *fakeCollector) *teatest.TestModel {
	t.Helper()
	m := New(Config{Source: f, Interval: 100 * time.Millisecond, Info: fakeInfo()})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	waitFor(t, tm, "4 Port pressure", "10.0.0.5:3306")
	return tm
}

// waitFor waits until the screen output has shown every string.
func waitFor(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		s := ansi.Strip(string(b))
		for _, w := range want {
			if !bytes.Contains([]byte(s), []byte(w)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

// eventually polls cond until it holds; the program runs on its own
// goroutines and timers, so flows wait on what the collector saw.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func finalModel(t *testing.T, tm *teatest.TestModel) Model {
	t.Helper()
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
}

func TestFlowPollsPausesAndQuits(t *testing.T) {
	f := &fakeCollector{}
	tm := startFlow(t, f)
	eventually(t, "three polls on the 100ms schedule", func() bool { return f.calls() >= 3 })
	tm.Send(press("p"))
	waitFor(t, tm, "PAUSED")
	polls := f.calls()
	time.Sleep(300 * time.Millisecond) // three intervals: nothing may poll
	if f.calls() != polls {
		t.Errorf("%d polls while paused", f.calls()-polls)
	}
	tm.Send(press("q"))
	if m := finalModel(t, tm); !m.sched.paused || m.live.snap == nil {
		t.Errorf("final model: paused %v, snapshot %v", m.sched.paused, m.live.snap != nil)
	}
}

func TestFlowFilterAndFocus(t *testing.T) {
	f := &fakeCollector{}
	tm := startFlow(t, f)
	tm.Send(press("/"))
	tm.Type("dport 6379")
	tm.Send(press("enter"))
	// A second poll for the filter means the first one has landed.
	eventually(t, "two polls for port 6379", func() bool {
		return f.countQueries(func(q tcpinfo.Query) bool { return q.Narrow.String() == "dport 6379" }) >= 2
	})
	tm.Send(press("3"))
	tm.Send(press("q"))
	m := finalModel(t, tm)
	if m.filt.bar.Text() != "dport 6379" || m.view.focus != paneRemote {
		t.Errorf("filter %q focus %v", m.filt.bar.Text(), m.view.focus)
	}
	for _, r := range m.live.snap.TopRemoteEndpoints {
		if r.Endpoint.Port() != 6379 {
			t.Errorf("row %v does not match the filter", r.Endpoint)
		}
	}
}

func TestFlowResizeTooSmall(t *testing.T) {
	tm := startFlow(t, &fakeCollector{})
	tm.Send(tea.WindowSizeMsg{Width: 50, Height: 10})
	waitFor(t, tm, "terminal too small", "50x10, need at least 60x15")
	tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	tm.Send(press("q"))
	if m := finalModel(t, tm); m.view.width != 80 {
		t.Errorf("width %d after resize", m.view.width)
	}
}

func TestFlowPollErrorRecovers(t *testing.T) {
	f := &fakeCollector{}
	tm := startFlow(t, f)
	f.mu.Lock()
	f.fail = true
	f.mu.Unlock()
	waitFor(t, tm, "! poll failed: netlink: connection refused (fake)", "STALE")
	f.mu.Lock()
	f.fail = false
	f.mu.Unlock()
	tm.Send(press("q"))
	m := finalModel(t, tm)
	if m.live.snap == nil {
		t.Error("the last good snapshot must survive the errors")
	}
}
