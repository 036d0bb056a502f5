package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// processesPane is sockets by owning process, the selected process's
// endpoints, and (c) the services view: sockets by cgroup.
type processesPane struct {
	table
	// services shows sockets by cgroup instead of by process.
	services bool
}

// Update moves the selection and switches the view.
func (p processesPane) Update(msg tea.Msg) (processesPane, tea.Cmd) {
	if km, ok := msg.(tea.KeyPressMsg); ok && key.Matches(km, p.keys.Services) {
		p.services, p.row = !p.services, 0
		return p, nil
	}
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p processesPane) rows() int {
	switch {
	case p.b == nil || p.b.snap == nil:
		return 0
	case p.services:
		return len(p.b.snap.Cgroups)
	}
	return len(p.b.snap.Processes)
}

// selectedPID is the process the tables follow, when one is selected.
func (p processesPane) selectedPID() (int, bool) {
	if p.services || p.b == nil || p.b.snap == nil || p.row >= len(p.b.snap.Processes) {
		return 0, false
	}
	return p.b.snap.Processes[p.row].PID, true
}

// View draws the pane in its box; it takes the whole body when focused.
func (p processesPane) View(focused bool) []string {
	b, w, h := p.b, p.w, p.h
	st := b.styles
	s := b.snap
	inner := w - 2
	if p.services {
		return p.servicesView()
	}
	if !s.Attribution.Enabled {
		msg := "process attribution is off (started with --processes=false)"
		if b.owners {
			msg = "reading /proc/<pid>/fd for the owners of sockets…"
		}
		return frame(paneTitle(paneProcesses, ""), true, []string{st.dim.Render(msg)}, w, h, st)
	}
	const pidW, numW = 8, 9
	// The command line tells two python3 apart; it gets the room there is.
	cmdW := 16
	if inner >= 140 {
		cmdW = 32
	}
	// The cgroup column, where the width allows: who runs the process.
	cgW := 0
	if inner >= 110 {
		cgW = 22
	}
	// Open files against the limit: a leak dies of EMFILE first.
	const fdW = 12
	header, cell := b.stateColumns(inner - pidW - cmdW - numW - cgW - fdW)
	cgHeader := ""
	if cgW > 0 {
		cgHeader = fit("CGROUP", cgW)
	}
	body := []string{st.header.Render(fit("PID", pidW) + fit("COMMAND", cmdW) + cgHeader + padLeft("C_WAIT/s", numW) + padLeft("FDS/LIMIT", fdW-1) + " " + header)}
	rows := make([]string, 0, len(s.Processes))
	commands := distinctCommands(s.Processes, cmdW-1)
	for i, p := range s.Processes {
		rate := "—" // one walk has seen it: no rate yet
		if p.RateKnown {
			rate = fmtRate(p.CloseWaitPerS)
		}
		command := commands[i]
		if p.Shared > 0 {
			command = "+" + command // holds sockets another process holds too
		}
		cg := ""
		if cgW > 0 {
			cg = fit(orDash(p.CgroupName), cgW-1) + " "
		}
		fds := "-"
		if f := p.Files; f.Open > 0 && f.Limit > 0 {
			fds = compactCount(f.Open) + "/" + compactCount(f.Limit)
		} else if f.Open > 0 {
			fds = compactCount(f.Open)
		}
		fdCell := padLeft(fds, fdW-1) + " "
		if diagnose.FilesAtRisk(p) { // where the findings name it, by their rule
			fdCell = st.trouble.Render(padLeft("!"+fds, fdW-1)) + " "
		}
		rows = append(rows, fit(fmt.Sprint(p.PID), pidW)+fit(command, cmdW)+cg+padLeft(rate, numW)+fdCell+cell(&p.States))
	}
	if len(rows) == 0 {
		body = append(body, st.dim.Render("no process holds a TCP socket in this network namespace"))
	}
	listH := max(min(len(rows), h/2-3), 1)
	body = append(body, tableRows(rows, listH, p.row, focused, st)...)

	for _, note := range diagnose.OwnerNotes(s.Attribution, b.root) {
		body = append(body, wrap(st.dim.Render(note), inner)...)
	}

	// The selected process's remote endpoints: the tables follow it.
	if i := p.row; i < len(s.Processes) && s.Query.PID == s.Processes[i].PID {
		p := s.Processes[i]
		body = append(body, "", st.header.Render(fmt.Sprintf("Remote endpoints of pid %d (%s)", p.PID, p.Command)))
		epW := min(max(inner/3, 16), 41)
		eh, ecell := b.stateColumns(inner - epW)
		body = append(body, st.header.Render(fit("ENDPOINT", epW)+eh))
		for _, r := range s.TopRemoteEndpoints {
			body = append(body, fit(r.Endpoint.String(), epW-1)+" "+ecell(&r.States))
		}
	}
	return frame(paneTitle(paneProcesses, b.attribution), true, body, w, h, st)
}

// servicesView is the processes pane's other mode (c): sockets by the
// cgroup that created them, read from the dump itself: services,
// containers and pods, TIME_WAIT included where owners are remembered.
func (p processesPane) servicesView() []string {
	b, w, h := p.b, p.w, p.h
	st := b.styles
	s := b.snap
	inner := w - 2
	nameW := min(max(inner/3, 16), 40)
	header, cell := b.stateColumns(inner - nameW)
	body := []string{st.header.Render(fit("SERVICE / CGROUP", nameW) + header)}
	rows := make([]string, 0, len(s.Cgroups))
	for _, c := range s.Cgroups {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("cgroup %d", c.ID)
		}
		rows = append(rows, fit(name, nameW-1)+" "+cell(&c.States))
	}
	if len(rows) == 0 {
		body = append(body, st.dim.Render("no cgroup ids in the dump (the /proc/net/tcp fallback has none)"))
	}
	body = append(body, tableRows(rows, max(h-4, 1), p.row, true, st)...)
	if a := s.Attribution; a.UnownedRemembered > 0 {
		body = append(body, st.dim.Render(fmt.Sprintf("TIME_WAIT counted for the cgroup that opened it: %d", a.UnownedRemembered)))
	}
	return frame(paneTitle(paneProcesses, "services (c: processes)"), true, body, w, h, st)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortCmdline is a command line for a narrow column: the program's base
// name, then its arguments ("python3 worker.py", not "/usr/bin/python3
// /srv/app/worker.py" cut after the directories).
func shortCmdline(cmdline string) string {
	prog, args, _ := strings.Cut(cmdline, " ")
	if i := strings.LastIndexByte(prog, '/'); i >= 0 && i < len(prog)-1 {
		prog = prog[i+1:]
	}
	var b strings.Builder
	b.WriteString(prog)
	for _, a := range strings.Fields(args) {
		if i := strings.LastIndexByte(a, '/'); i >= 0 && i < len(a)-1 && strings.HasPrefix(a, "/") {
			a = a[i+1:]
		}
		b.WriteString(" " + a)
	}
	return b.String()
}

// distinctCommands is each process's command line as the column of width
// w shows it: the program first, then its arguments; where two would read
// the same once cut (python3 scene.p…), the end of the line is kept
// instead, which is where they differ.
func distinctCommands(procs []tcpinfo.ProcessCount, w int) []string {
	out := make([]string, len(procs))
	seen := map[string]int{}
	for i, p := range procs {
		out[i] = p.Command
		if p.Cmdline != "" {
			out[i] = shortCmdline(p.Cmdline)
		}
		seen[fit(out[i], w)]++
	}
	for i, c := range out {
		r := []rune(c)
		if seen[fit(c, w)] < 2 || len(r) <= w {
			continue
		}
		prog, _, _ := strings.Cut(c, " ")
		keep := w - len([]rune(prog)) - 2 // "prog …tail"
		if keep < 4 {
			out[i] = "…" + string(r[len(r)-(w-1):])
			continue
		}
		out[i] = prog + " …" + string(r[len(r)-keep:])
	}
	return out
}

// compactCount writes n in at most five cells: 512, 65536 as 64k, 1M.
func compactCount(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 100000:
		return fmt.Sprintf("%dk", n/1000)
	case n >= 10000 && n%1024 == 0:
		return fmt.Sprintf("%dk", n>>10)
	}
	return fmt.Sprint(n)
}
