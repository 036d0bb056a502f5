package ui

import (
	"cmp"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

// sceneModel is the dashboard on the scene a new user meets in a load
// test, with the names a real host has (realNames): a CLOSE_WAIT leak, a
// port exhaustion and an overflowing listener, three polls in, with a
// tuner.
func sceneModel(t *testing.T, w, h int) Model {
	t.Helper()
	f := &fakeCollector{names: &realNames}
	tu := newFakeTuner()
	m := New(Config{Source: f, Interval: time.Second, Info: fakeInfo(), Owners: fakeOwners, Tuner: tu})
	m, _ = step(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	m, _ = step(t, m, readOwners(fakeOwners)())
	for range 3 {
		m, _ = step(t, m, polledMsg{snap: mustCollect(t, f, m.query())})
	}
	m, _ = step(t, m, loadSettings(tu)())
	m, _ = step(t, m, checkWritable(tu, false)())
	return m
}

// TestSceneGolden renders the scene at 80x24, 120x40 and 200x50: the
// dashboard, the findings pane, the tuning pane editing the value a
// finding recommends, and a rejected filter, into
// testdata/TestSceneGolden/WxH-STEP.golden (go test ./ui -update).
func TestSceneGolden(t *testing.T) {
	steps := []struct {
		name string
		keys []string
	}{
		{"dashboard", nil},
		{"findings", []string{"7"}},
		{"tuning-edit", []string{"t", "enter"}},
		{"tuning-confirm", nil},
		{"filter-rejected", append([]string{"/"}, strings.Split("state close-wait and dport 3306", "")...)},
	}
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 50}} {
		for _, s := range steps {
			t.Run(fmt.Sprintf("%dx%d-%s", size[0], size[1], s.name), func(t *testing.T) {
				m := sceneModel(t, size[0], size[1])
				if s.name == "tuning-edit" {
					m, _ = step(t, m, press("t"))
					m = selectKey(t, m, "net.ipv4.ip_local_port_range")
					m, _ = step(t, m, press("enter"))
				} else if s.name == "tuning-confirm" { // a change that warns: the dialog says it whole
					m, _ = step(t, m, press("t"))
					m = selectKey(t, m, "net.ipv4.tcp_fin_timeout")
					m, _ = step(t, m, press("enter"))
					for range 2 {
						m, _ = step(t, m, tea.KeyPressMsg{Code: tea.KeyBackspace})
					}
					m, _ = step(t, m, press("3"))
					m, _ = step(t, m, press("0"))
					var cmd tea.Cmd
					m, cmd = step(t, m, press("enter"))
					m = run(t, m, cmd)
				} else {
					for _, k := range s.keys {
						m, _ = step(t, m, press(k))
					}
				}
				if s.name == "filter-rejected" {
					m, _ = step(t, m, press("enter"))
				}
				got := ansi.Strip(m.render())
				lines := strings.Split(got, "\n")
				if len(lines) > size[1] {
					t.Errorf("%d lines for a %d-line terminal", len(lines), size[1])
				}
				for i, l := range lines {
					if w := ansi.StringWidth(l); w > size[0] {
						t.Errorf("line %d is %d cells wide: %q", i+1, w, l)
					}
				}
				// What the user came for is on the screen whole, however
				// it is wrapped.
				var wants []string
				switch s.name {
				case "dashboard":
					// The strip's short forms; from 180 columns the
					// findings pane, in the layout, says them whole.
					for _, f := range m.live.findings {
						if size[0] >= threeColumns {
							wants = append(wants, f.Title)
						} else {
							wants = append(wants, cmp.Or(f.Short, f.Title))
						}
					}
				case "findings":
					for _, f := range m.live.findings {
						wants = append(wants, f.Title)
					}
					wants = append(wants, "evidence: "+strings.Join(m.live.findings[0].Evidence, "; "), "fix: "+m.live.findings[0].Detail)
				case "tuning-edit":
					wants = append(wants, "new value: 8082 65535", "enter: review the change")
				case "tuning-confirm":
					if m.tuning.pending == nil || len(m.tuning.pending.plan.Changes[0].Warnings) == 0 {
						t.Fatal("no confirmation with a warning")
					}
					wants = append(wants, "net.ipv4.tcp_fin_timeout: 60 → 30", m.tuning.pending.plan.Changes[0].Warnings[0], "y to confirm")
				case "filter-rejected":
					wants = append(wants, m.filt.bar.err)
				}
				screen := flatten(got)
				if s.name == "dashboard" && size[0] >= threeColumns { // the findings' own column
					screen = flatten(column(got, 2*(size[0]/3), size[0]))
				}
				for _, want := range wants {
					if !strings.Contains(screen, flatten(want)) {
						t.Errorf("the screen lacks, whole: %q", want)
					}
				}
				golden.RequireEqual(t, got)
			})
		}
	}
}

// flatten joins a screen's lines as one text: box borders and runs of
// spaces become one space, so that wrapped text reads as it was.
func flatten(s string) string {
	s = strings.NewReplacer("│", " ", "╭", " ", "╮", " ", "╰", " ", "╯", " ").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

// TestFindingsStripCountsTheRest: findings that do not fit are counted on
// the last line, whatever the width and however long the last shown
// finding is; the count is never what gets cut.
func TestFindingsStripCountsTheRest(t *testing.T) {
	for _, size := range [][2]int{{60, 15}, {80, 20}, {61, 15}} {
		m := sceneModel(t, size[0], size[1])
		strip := m.findingsStrip(size[0], 1)
		if len(strip) != 1 || !strings.HasSuffix(strings.TrimRight(ansi.Strip(strip[0]), " "), "+2 more (7)") {
			t.Errorf("%dx%d: strip %q lacks the count", size[0], size[1], strip)
		}
		strip = m.findingsStrip(size[0], 2)
		if last := ansi.Strip(strip[len(strip)-1]); !strings.Contains(last, "+1 more (7)") {
			t.Errorf("%dx%d: strip of two lines ends %q", size[0], size[1], last)
		}
	}
}

// column cuts each line of a screen to its cells [from, to): one column
// of a layout, read apart from its neighbours.
func column(screen string, from, to int) string {
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		r := []rune(l)
		lines[i] = string(r[min(from, len(r)):min(to, len(r))])
	}
	return strings.Join(lines, "\n")
}
