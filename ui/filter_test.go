package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/filter"
)

// typeFilter opens /, replaces what it holds with s and presses enter.
func typeFilter(t *testing.T, m Model, s string) (Model, tea.Cmd) {
	t.Helper()
	m, _ = step(t, m, press("/"))
	m.filt.bar.input.SetValue("") // / opens on the filter in force, to edit
	for _, r := range s {
		m, _ = step(t, m, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return step(t, m, press("enter"))
}

// TestSlashTakesTheLanguage: / takes ss's words, --filter's is the one in
// force at the start; the poll narrows the tables by it, the header says
// so, esc clears it, and a wrong word is named without losing the text.
func TestSlashTakesTheLanguage(t *testing.T) {
	base, _ := filter.Parse("state established")
	f := &fakeCollector{}
	m := New(Config{Source: f, Interval: time.Second, Info: fakeInfo(), Filter: base, ParseFilter: filter.Parse})
	m, _ = step(t, m, tea.WindowSizeMsg{Width: 120, Height: 40})
	if q := m.query(); q.Narrow != base || q.Filter != nil {
		t.Fatalf("--filter's filter narrows the tables only: query %+v", q)
	}
	m, _ = typeFilter(t, m, "state time-wait dport 3306")
	if q := m.query(); q.Narrow.String() != "state time-wait dport 3306" || q.Filter != nil {
		t.Fatalf("query %+v", q)
	}
	m, _ = step(t, m, polledMsg{snap: mustCollect(t, f, m.query())})
	out := ansi.Strip(m.render())
	if !strings.Contains(out, "tables filtered: state time-wait dport 3306") {
		t.Errorf("the header does not say the tables are filtered:\n%s", out)
	}
	for _, r := range m.live.snap.TopRemoteEndpoints {
		if r.Endpoint.Port() != 3306 {
			t.Errorf("remote row %v does not match the filter", r.Endpoint)
		}
	}
	m, cmd := step(t, m, press("esc"))
	m, _ = runPoll(t, m, cmd)
	if q := f.lastQuery(); q.Narrow != nil {
		t.Errorf("esc clears the filter, query %+v", q)
	}
	m, _ = typeFilter(t, m, "dport = :htpp")
	if !m.filt.bar.Editing() || !strings.Contains(m.filt.bar.err, `at ":htpp"`) || m.filt.bar.input.Value() != "dport = :htpp" {
		t.Errorf("a wrong word: editing %v, %q, text %q", m.filt.bar.Editing(), m.filt.bar.err, m.filt.bar.input.Value())
	}
	if !strings.Contains(ansi.Strip(m.render()), `at ":htpp"`) {
		t.Error("the error is shown inline")
	}
}

// TestSlashBarePort: a bare port is read as ss reads it, refused, and
// what ss would take is put in its place; enter takes it.
func TestSlashBarePort(t *testing.T) {
	f := &fakeCollector{}
	m := started(t, f, 120, 40, 1)
	m, _ = typeFilter(t, m, "3306")
	if !m.filt.bar.Editing() || m.filt.bar.input.Value() != "sport = :3306 or dport = :3306" ||
		!strings.Contains(m.filt.bar.err, `ss reads no bare "3306"`) {
		t.Fatalf("bare port: editing %v, text %q, error %q", m.filt.bar.Editing(), m.filt.bar.input.Value(), m.filt.bar.err)
	}
	m, cmd := step(t, m, press("enter"))
	m, _ = runPoll(t, m, cmd)
	if q := f.lastQuery(); q.Narrow.String() != "sport = :3306 or dport = :3306" {
		t.Errorf("query %+v", q)
	}
	if out := ansi.Strip(m.render()); !strings.Contains(out, "matching sport = :3306 or dport = :3306") || strings.Contains(out, "10.0.1.7") {
		t.Errorf("filtered view:\n%s", out)
	}
}

// TestFilterNeverSilencesFindings: with a filter that matches none of
// the sockets behind the findings, the findings, the state histogram and
// the port pressure are what they are without it.
func TestFilterNeverSilencesFindings(t *testing.T) {
	run := func(expr string) Model {
		f := &fakeCollector{}
		m := started(t, f, 120, 40, 1)
		if expr != "" {
			var cmd tea.Cmd
			m, cmd = typeFilter(t, m, expr)
			m, _ = runPoll(t, m, cmd)
		} else {
			m, _ = step(t, m, polledMsg{snap: mustCollect(t, f, m.query())}) // the same number of polls
		}
		for range 3 {
			m, _ = step(t, m, polledMsg{snap: mustCollect(t, f, m.query())})
		}
		return m
	}
	plain, filtered := run(""), run("dport 1")
	heads := func(fs []diagnose.Finding) (out []string) {
		for _, f := range fs {
			out = append(out, f.Title)
		}
		return out
	}
	if len(plain.live.findings) == 0 {
		t.Fatal("the scene has no findings")
	}
	if a, b := strings.Join(heads(plain.live.findings), "\n"), strings.Join(heads(filtered.live.findings), "\n"); a != b {
		t.Errorf("findings under a filter:\n%s\nwant:\n%s", b, a)
	}
	if plain.live.snap.States != filtered.live.snap.States || len(plain.live.snap.PortPressure) != len(filtered.live.snap.PortPressure) {
		t.Error("the histogram or the pressure changed under a filter")
	}
	if len(filtered.live.snap.TopRemoteEndpoints) != 0 || len(filtered.live.snap.TopLocalPorts) != 0 {
		t.Errorf("the tables are not narrowed: %v", filtered.live.snap.TopRemoteEndpoints)
	}
}

// TestPromptPlaceholder: an empty prompt shows its placeholder after a
// blank cursor, never with its first letter under the cursor as if typed.
func TestPromptPlaceholder(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 1)
	m, _ = step(t, m, press("/"))
	m.filt.bar.input.SetValue("")
	out := ansi.Strip(m.render())
	if !strings.Contains(out, "filter:  (ss's words, e.g. dport 443") {
		t.Errorf("the prompt:\n%s", out)
	}
}
