package ui

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/tcpdash/tcpdash/tcpinfo"
)

func TestProcessesPaneFollowsSelection(t *testing.T) {
	f := &fakeCollector{}
	m := started(t, f, 120, 40, 2)
	m, cmd := step(t, m, press("6"))
	m, _ = runPoll(t, m, cmd) // entering the pane narrows the tables at once
	if q := f.lastQuery(); q.PID != 4242 {
		t.Fatalf("query PID %d, want the selected java process 4242", q.PID)
	}
	out := ansi.Strip(m.render())
	for _, want := range []string{"6 Processes · processes: /proc walk 12ms", "4242    java", "Remote endpoints of pid 4242 (java)",
		"sockets have no owner in the kernel (4,100 TIME_WAIT): their remote endpoint is the clue"} {
		if !strings.Contains(out, want) {
			t.Errorf("processes pane lacks %q:\n%s", want, out)
		}
	}
	m, cmd = step(t, m, press("j"))
	m, _ = runPoll(t, m, cmd)
	if q := f.lastQuery(); q.PID != 812 {
		t.Errorf("j: query PID %d, want nginx 812", q.PID)
	}
	m, cmd = step(t, m, press("1"))
	if _, _ = runPoll(t, m, cmd); f.lastQuery().PID != 0 {
		t.Error("leaving the pane shows every process's sockets again")
	}
}

func TestCloseWaitRatePerProcess(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 3)
	m, cmd := step(t, m, press("6"))
	m, _ = runPoll(t, m, cmd)
	// java's CLOSE_WAIT grows by 5 a poll, a second apart.
	if out := ansi.Strip(m.render()); !regexp.MustCompile(`│4242\s+java\s+-\s+5\.00\s`).MatchString(out) {
		t.Errorf("CLOSE_WAIT/s of java:\n%s", out)
	}
}

func TestFindingsPaneAndBadge(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 3)
	if out := ansi.Strip(m.render()); !strings.Contains(out, "! 3 critical (7)") || !strings.Contains(out, "CRIT pid 4242 (java) leaks: 20 CLOSE_WAIT") {
		t.Errorf("the header flags critical findings, and the strip names them:\n%s", out)
	}
	m, _ = step(t, m, press("7"))
	out := ansi.Strip(m.render())
	for _, want := range []string{
		"CRITICAL pid 4242 (java) holds 20 CLOSE_WAIT sockets to 10.0.0.5:3306 — the application is not closing connections",
		"CRITICAL port 8080: accept queue full, 128 of 128",
		"will start failing with EADDRNOTAVAIL in about",
		"evidence: CLOSE_WAIT 20 in pid 4242, growing 5.0/s",
		"fix: No sysctl fixes this.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("findings pane lacks %q:\n%s", want, out)
		}
	}
	m, _ = step(t, m, press("j"))
	if m.findingsP.row != 1 {
		t.Error("j moves to the next finding")
	}
}

func TestOwnersRefreshSchedule(t *testing.T) {
	m := New(Config{Source: &fakeCollector{}, Interval: time.Second, Info: fakeInfo(), Owners: fakeOwners})
	m, _ = step(t, m, polledMsg{snap: fakeSnapshot(0, tcpinfo.Query{})})
	if !m.own.ownersInFlight {
		t.Fatal("the first poll starts a /proc walk")
	}
	m, _ = step(t, m, polledMsg{snap: fakeSnapshot(1, tcpinfo.Query{})})
	if !m.own.ownersInFlight {
		t.Fatal("still in flight: no second walk")
	}
	o, _ := fakeOwners()
	o.Time = time.Now()
	m, _ = step(t, m, ownersMsg{owners: o})
	if m.own.ownersInFlight || m.query().Owners != o {
		t.Fatal("the walk's result feeds the next poll")
	}
	m, _ = step(t, m, polledMsg{snap: fakeSnapshot(2, m.query())})
	if m.own.ownersInFlight {
		t.Error("a fresh walk is not repeated at the next poll")
	}
	// r asks for a walk now, once.
	m, cmd := step(t, m, press("r"))
	if cmd == nil || !m.own.ownersInFlight {
		t.Fatal("r starts a /proc walk")
	}
	if msg, ok := cmd().(ownersMsg); !ok || msg.owners == nil {
		t.Errorf("r's command is a walk, got %T", msg)
	}
	if _, cmd := step(t, m, press("r")); cmd != nil {
		t.Error("r while a walk is in flight starts no second one")
	}
	// Turned off: never walks.
	off := New(Config{Source: &fakeCollector{}, Interval: time.Second, Info: fakeInfo()})
	off, _ = step(t, off, polledMsg{snap: fakeSnapshot(0, tcpinfo.Query{})})
	if off.own.ownersInFlight || !strings.Contains(off.attributionLine(), "off") {
		t.Error("no attribution without an Owners reader")
	}
}

// TestFindingsFollowSettings: the findings' advice reads the sysctls, so
// they are recomputed when the settings arrive, not only at the next poll.
func TestFindingsFollowSettings(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 3)
	m, _ = step(t, m, press("7"))
	m, _ = step(t, m, press("j")) // the listen overflow finding, second
	if out := ansi.Strip(m.render()); !strings.Contains(out, "raise net.core.somaxconn") {
		t.Fatalf("without settings the advice is generic:\n%s", out)
	}
	tu := newFakeTuner()
	m, _ = step(t, m, loadSettings(tu)())
	// somaxconn (4096) is known now: the full listener's backlog of 128 is
	// its own, which no sysctl raises.
	if out := ansi.Strip(m.render()); !strings.Contains(out, "Its listen() backlog is 128") || strings.Contains(out, "raise net.core.somaxconn") {
		t.Errorf("with somaxconn known (4096) the advice names the listener's own backlog:\n%s", out)
	}
}

// TestServicesMode: c turns the processes pane into sockets by cgroup, and
// back; the tables follow a selected process only in the processes mode.
func TestServicesMode(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 2)
	m, cmd := step(t, m, press("6"))
	m, _ = runPoll(t, m, cmd)
	m.live.snap.Cgroups = []tcpinfo.CgroupCount{{ID: 7, Path: "/system.slice/payments.service", Name: "payments.service",
		States: tcpinfo.StateCounts{tcpinfo.Established: 25, tcpinfo.TimeWait: 900}}}
	m, cmd = step(t, m, press("c"))
	if !m.processes.services || cmd == nil || m.query().PID != 0 {
		t.Fatalf("c: services %v, query %+v, cmd %v", m.processes.services, m.query(), cmd != nil)
	}
	out := ansi.Strip(m.render())
	if !regexp.MustCompile(`│payments\.service\s+925\s+25\s+900\s`).MatchString(out) || !strings.Contains(out, "services (c: processes)") {
		t.Errorf("services mode:\n%s", out)
	}
	m, _ = step(t, m, press("c"))
	if m.processes.services {
		t.Error("c again goes back to the processes")
	}
}

// TestListenersMode: l turns the local ports pane into the listeners, a
// full accept queue marked.
func TestListenersMode(t *testing.T) {
	m := started(t, &fakeCollector{}, 120, 40, 2)
	m, _ = step(t, m, press("2"))
	m.live.snap.Listeners = []tcpinfo.Listener{{Local: netip.MustParseAddrPort("0.0.0.0:9000"), AcceptQueue: 1, Backlog: 1,
		SynRecv: 12, Owner: tcpinfo.Owner{PID: 311, Command: "nginx"}}}
	m.refreshBoard()
	m, _ = step(t, m, press("l"))
	out := ansi.Strip(m.render())
	// The fake's ListenOverflows rise 3 a second, and 9000's is the one
	// full queue: the drops are its.
	if !regexp.MustCompile(`│0\.0\.0\.0:9000\s+!1 / 1\s+12\s+3\.00\s+pid`).MatchString(out) || !strings.Contains(out, "listeners (l: ports)") {
		t.Errorf("listeners mode:\n%s", out)
	}
	m, _ = step(t, m, press("l"))
	if m.local.listeners {
		t.Error("l again goes back to the ports")
	}
}

func TestShortCmdline(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/python3 /srv/app/worker.py --queue jobs": "python3 worker.py --queue jobs",
		"nginx: worker process":                            "nginx: worker process",
		"/tmp/x/leaky-app":                                 "leaky-app",
		"java -Dx=/a/b -jar app.jar":                       "java -Dx=/a/b -jar app.jar",
	} {
		if got := shortCmdline(in); got != want {
			t.Errorf("shortCmdline(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDrillDown: enter on a pressure row lists its sockets with their
// timers and owners; esc goes back.
func TestDrillDown(t *testing.T) {
	f := &fakeCollector{}
	m := started(t, f, 120, 40, 3)
	m, _ = step(t, m, press("4"))
	m, cmd := step(t, m, press("enter"))
	if !m.dd.drilling || cmd == nil {
		t.Fatal("enter on a pressure row drills down")
	}
	m, _ = step(t, m, cmd())
	out := ansi.Strip(m.render())
	for _, want := range []string{"Sockets · 10.0.0.9 → 10.0.0.5:3306 · 2 sockets", "TIME_WAIT", "55s", "pid 4242 (java)",
		"(no process: TIME_WAIT)"} {
		if !strings.Contains(out, want) {
			t.Errorf("drill-down lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "10.0.0.6:6379  ") {
		t.Error("the drill-down lists another destination's sockets")
	}
	m, _ = step(t, m, press("esc"))
	if m.dd.drilling || !strings.Contains(ansi.Strip(m.render()), "4 Port pressure") {
		t.Error("esc goes back")
	}
}

// TestFirstScreen: at 80x24 and 120x40 the first screen names the leaking
// pid, the destination running out of ports with its time left, and the
// overflowing listener's port, before any key.
func TestFirstScreen(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		m := started(t, &fakeCollector{}, size[0], size[1], 3)
		out := ansi.Strip(m.render())
		for _, want := range []string{"pid 4242 (java) leaks: 20 CLOSE_WAIT", "10.0.0.5:3306: out of ports in about 25 s",
			"port 8080: accept queue full"} {
			if !strings.Contains(out, want) {
				t.Errorf("%dx%d: the first screen lacks %q:\n%s", size[0], size[1], want, out)
			}
		}
	}
}
