// Package diagnose turns snapshots into findings: plain-language
// diagnoses of who exhausts ports, who leaks sockets and when connect()
// will start failing, each with its evidence and what fixes it.
package diagnose

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// A Severity ranks findings.
type Severity int

// Severities, least first.
const (
	Info Severity = iota
	Warning
	Critical
)

func (s Severity) String() string { return [...]string{"info", "warning", "critical"}[s] }

// MarshalJSON writes the severity's name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a severity's name back, as a recording holds it.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	for v := Info; v <= Critical; v++ {
		if v.String() == name {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", name)
}

// A Finding is one diagnosis.
type Finding struct {
	Severity Severity `json:"severity"`
	// Kind names what sort of finding it is, for alerts and metrics:
	// close_wait_leak, close_wait_growing, port_exhaustion,
	// time_wait_overflow, time_wait_near_limit, listen_overflow, syn_recv,
	// orphan_fin_wait2, listen_in_ephemeral_range.
	Kind string `json:"kind"`
	// Subject is what the finding is about, where one kind can be about
	// several things at once: "pid 311 (api)", "10.0.0.5:3306 from
	// 10.0.0.1", "port 8080". Kind and Subject identify a finding from one
	// snapshot to the next, while its numbers change.
	Subject string `json:"subject,omitempty"`
	// Title says what is wrong in one sentence.
	Title string `json:"title"`
	// Short says it in fewer words, for a line of the first screen: the
	// culprit and the time left first. Empty when the title is short.
	Short string `json:"short,omitempty"`
	// Detail says what fixes it.
	Detail string `json:"detail"`
	// Evidence is the data the finding rests on.
	Evidence []string `json:"evidence"`
	// Sysctls are the sysctl changes that help, for the tuning pane and
	// tcpdash tune to recommend, citing the finding.
	Sysctls []Recommendation `json:"sysctls,omitempty"`
	// Rank is how bad it is in its kind's own measure (CLOSE_WAIT sockets,
	// connections dropped, a group's share of its ports plus up to 1 as
	// exhaustion nears, 1 when it is out of ports): it orders findings of
	// one severity, and a report's worst moment of a finding is its
	// highest. Comparable only within one kind.
	Rank float64 `json:"rank,omitempty"`
}

// ID identifies a finding across snapshots: its kind and subject.
func (f Finding) ID() string {
	if f.Subject == "" {
		return f.Kind
	}
	return f.Kind + " " + f.Subject
}

// Thresholds below which nothing is reported: a quiet host has no findings.
const (
	minCloseWait = 10 // CLOSE_WAIT sockets in one process
	minFiles     = 64 // open files: a process below holds too few to run out
	// Retransmits worth a finding: this many a second, and this share of
	// the segments sent.
	minRetransPerS    = 10
	retransShare      = 0.02
	minSynRetransPerS = 1
	// A destination crawls past these: this share of its segments
	// retransmitted (and at least one a second), or an RTT p99 this many
	// times its minimum and this long.
	lossyPct            = 1.0
	minLossyRetransPerS = 1
	slowRTT             = 50 * time.Millisecond
	slowRTTFactor       = 10
	// growingCloseWait is the rate at which a process's CLOSE_WAIT count
	// is growing: a socket every 5 s, and not the rounding of a steady one.
	growingCloseWait  = 0.2
	minSynRecv        = 64  // half-open connections
	minOrphanFinWait2 = 100 // orphaned FIN_WAIT2 sockets
	forecastHorizon   = 5 * time.Minute
)

// Diagnose returns the findings for now, most severe first. earlier is a
// snapshot some seconds before (nil if none): with it, what is rising and
// how fast is measured; without it, rates come from the kernel's timers
// where they can, and counters that only matter when rising are left out.
// settings feed the sysctl advice; nil is fine.
func Diagnose(now, earlier *tcpinfo.Snapshot, settings []tuning.Setting) []Finding {
	f, _ := diagnose(now, earlier, settings)
	return f
}

// diagnose is Diagnose, with the recommendations it drew along the way:
// Advise hands them on rather than drawing them again each poll.
func diagnose(now, earlier *tcpinfo.Snapshot, settings []tuning.Setting) ([]Finding, []Recommendation) {
	var f []Finding
	var dt float64
	if earlier != nil {
		dt = now.Time.Sub(earlier.Time).Seconds()
		if dt <= 0 {
			earlier = nil
		}
	}
	listening := now.Listening() // all of them: a new range must clear every one
	recList := Recommend(now, earlier, settings, listening)
	recs := map[string]Recommendation{}
	for _, r := range recList {
		recs[r.Key] = r
	}

	f = append(f, closeWait(now, earlier, dt)...)
	f = append(f, fileExhaustion(now)...)
	f = append(f, exhaustion(now, earlier, dt, settings, listening)...)
	f = append(f, counters(now, earlier, dt, recs, settingInt(settings, "net.core.somaxconn"))...)
	f = append(f, causes(now, earlier, dt, settings)...)
	f = append(f, health(now)...)
	f = append(f, conntrackFull(now)...)
	if n := now.States[tcpinfo.SynRecv]; n >= minSynRecv && (earlier == nil || n > earlier.States[tcpinfo.SynRecv]) {
		f = append(f, Finding{Kind: "syn_recv", Severity: Warning, Rank: float64(n),
			Title:    fmt.Sprintf("%s half-open connections (SYN_RECV) are piling up", humanize.Int(n)),
			Detail:   "Handshakes are not completing: a SYN flood, or clients whose final ACK is lost. Keep tcp_syncookies at 1; raise tcp_max_syn_backlog if ListenDrops rises too.",
			Evidence: []string{"SYN_RECV " + humanize.Int(n) + rateSuffix(n, earlier, dt, tcpinfo.SynRecv)}})
	}
	if n := now.OrphanFinWait2; n >= minOrphanFinWait2 && (earlier == nil || n >= earlier.OrphanFinWait2) {
		f = append(f, Finding{Kind: "orphan_fin_wait2", Severity: Warning, Rank: float64(n),
			Title:    fmt.Sprintf("%s orphaned FIN_WAIT2 sockets are building up: peers are not closing their side", humanize.Int(n)),
			Detail:   "These sockets were closed here and wait for the peer's FIN. tcp_fin_timeout bounds how long (this is what it is for; it does not touch TIME_WAIT). Find the peers that keep connections half-open.",
			Evidence: []string{fmt.Sprintf("orphaned FIN_WAIT2 %s; tw sockets %s", humanize.Int(n), humanize.Int(int(now.Counters.TWSockets)))}})
	}
	if len(now.ListeningInRange) > 0 {
		var ports []string
		for _, p := range now.ListeningInRange {
			ports = append(ports, fmt.Sprint(p))
		}
		f = append(f, Finding{Kind: "listen_in_ephemeral_range", Severity: Warning, Rank: float64(len(ports)),
			Subject: "port " + strings.Join(ports, ", "),
			Title:   fmt.Sprintf("port %s is listened on inside the ephemeral range %s", strings.Join(ports, ", "), now.PortRange),
			Detail: "connect() may take such a port for an outgoing connection while its server is down, and the server then cannot bind. " +
				"Add the ports to net.ipv4.ip_local_reserved_ports, or move ip_local_port_range clear of them.",
			Evidence: []string{"LISTEN on " + strings.Join(ports, ", ")}})
	}

	slices.SortStableFunc(f, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(b.Rank, a.Rank))
	})
	return f, recList
}

// closeWait names the processes that hold CLOSE_WAIT sockets. A process
// whose count grows (its smoothed rate, measured from walk to walk by the
// collector: the rate the processes pane shows) is critical.
func closeWait(now, earlier *tcpinfo.Snapshot, dt float64) []Finding {
	var f []Finding
	for _, p := range now.Processes {
		n := p.States[tcpinfo.CloseWait]
		if n < minCloseWait || p.RateKnown && p.CloseWaitPerS <= -growingCloseWait {
			continue // few, or being closed
		}
		sev, rate := Warning, ""
		if p.RateKnown && p.CloseWaitPerS >= growingCloseWait {
			sev, rate = Critical, fmt.Sprintf(", growing %s/s", fmtRate(p.CloseWaitPerS))
		}
		// Name where the leak is: one destination (a client leaking), or
		// one local port (a server leaking accepted connections).
		to, where := "", ""
		// The title gives the share right: "700 CLOSE_WAIT sockets, 400 on
		// port 20001", not all 700 on it.
		share := func(k int, place string) string {
			if k == n {
				return " " + place
			}
			return fmt.Sprintf(", %s %s", humanize.Int(k), place)
		}
		switch {
		case p.CloseWaitToCount*2 >= n:
			to = share(p.CloseWaitToCount, "to "+p.CloseWaitTo.String())
			where = fmt.Sprintf("; %s of them to %s", humanize.Int(p.CloseWaitToCount), p.CloseWaitTo)
		case p.CloseWaitOnCount*2 >= n:
			to = share(p.CloseWaitOnCount, fmt.Sprintf("on port %d", p.CloseWaitOn))
			where = fmt.Sprintf("; %s of them on local port %d, from many peers", humanize.Int(p.CloseWaitOnCount), p.CloseWaitOn)
		}
		f = append(f, Finding{Kind: "close_wait_leak", Severity: sev, Rank: float64(n), Subject: fmt.Sprintf("pid %d (%s)", p.PID, p.Command),
			Title: fmt.Sprintf("pid %d (%s) holds %s CLOSE_WAIT sockets%s — the application is not closing connections the peer has closed",
				p.PID, p.Command, humanize.Int(n), to),
			Short: fmt.Sprintf("pid %d (%s) leaks: %s CLOSE_WAIT%s%s", p.PID, p.Command, humanize.Int(n), to, rate),
			Detail: "No sysctl fixes this. The program must close a socket when read() returns 0 (end of stream); " +
				"a connection pool must evict connections the server closed (validate on borrow, idle timeouts).",
			Evidence: []string{fmt.Sprintf("CLOSE_WAIT %s in pid %d%s%s", humanize.Int(n), p.PID, rate, where)}})
	}
	// Without attribution, say what the counts say.
	if !now.Attribution.Enabled && earlier != nil {
		n, was := now.States[tcpinfo.CloseWait], earlier.States[tcpinfo.CloseWait]
		if n >= minCloseWait && n > was {
			f = append(f, Finding{Kind: "close_wait_growing", Severity: Warning, Rank: float64(n),
				Title:    fmt.Sprintf("CLOSE_WAIT is growing (%s, +%s/s): an application is not closing connections the peer has closed", humanize.Int(n), fmtRate(float64(n-was)/dt)),
				Detail:   "No sysctl fixes this. Turn on process attribution to see which program.",
				Evidence: []string{fmt.Sprintf("CLOSE_WAIT %s → %s in %.0fs", humanize.Int(was), humanize.Int(n), dt)}})
		}
	}
	return f
}

// A fileRisk is how close a process is to running out of file
// descriptors: the one rule the fd_exhaustion finding and the processes
// pane's mark (FilesAtRisk) share.
type fileRisk int

const (
	filesFine fileRisk = iota
	filesOut           // socket() and accept() fail with EMFILE now
	filesSoon          // they will within forecastHorizon, at the growth now
	filesHigh          // 90% of the limit
)

func filesRisk(p tcpinfo.ProcessCount) fileRisk {
	fc := p.Files
	switch {
	case fc.Limit == 0 || fc.Open < minFiles:
		return filesFine
	case fc.Open >= fc.Limit-1:
		return filesOut
	case p.FilesLeft >= 0 && p.FilesLeft < forecastHorizon:
		return filesSoon
	case fc.Open*10 >= fc.Limit*9:
		return filesHigh
	}
	return filesFine
}

// FilesAtRisk reports whether p has an fd_exhaustion finding: out of file
// descriptors, due to run out within forecastHorizon, or at 90% of its
// limit. The processes pane marks its FDS/LIMIT so.
func FilesAtRisk(p tcpinfo.ProcessCount) bool { return filesRisk(p) != filesFine }

// fileExhaustion names the processes running out of file descriptors: a
// socket leak kills a process with EMFILE long before ports run out when
// its RLIMIT_NOFILE is 1,024 or 4,096.
func fileExhaustion(now *tcpinfo.Snapshot) []Finding {
	var f []Finding
	for _, p := range now.Processes {
		risk := filesRisk(p)
		if risk == filesFine {
			continue
		}
		fc := p.Files
		who := fmt.Sprintf("pid %d (%s)", p.PID, p.Command)
		used := fmt.Sprintf("%s of %s file descriptors open", humanize.Int(fc.Open), humanize.Int(fc.Limit))
		var sev Severity
		var title, short string
		rank := float64(fc.Open) / float64(fc.Limit)
		switch risk {
		case filesOut:
			sev = Critical
			title = fmt.Sprintf("%s is out of file descriptors: %s; its socket() and accept() fail with EMFILE", who, used)
			short = fmt.Sprintf("%s: out of file descriptors (%s), EMFILE now", who, humanize.Int(fc.Limit))
			rank++
		case filesSoon:
			sev = Warning
			if p.FilesLeft < time.Minute {
				sev = Critical
			}
			title = fmt.Sprintf("%s will run out of file descriptors in about %s: %s, +%s/s", who, about(p.FilesLeft), used, fmtRate(p.FilesPerS))
			short = fmt.Sprintf("%s: EMFILE in about %s (%s of %s fds)", who, about(p.FilesLeft), humanize.Int(fc.Open), humanize.Int(fc.Limit))
			rank += 1 / (1 + p.FilesLeft.Seconds())
		case filesHigh:
			sev = Warning
			title = fmt.Sprintf("%s uses %.0f%% of its file descriptors: %s", who, 100*rank, used)
		}
		ev := []string{used + fmt.Sprintf(" (soft RLIMIT_NOFILE %s)", humanize.Int(fc.Limit))}
		if p.RateKnown && p.FilesPerS != 0 {
			ev = append(ev, fmt.Sprintf("growing %s/s", fmtRate(p.FilesPerS)))
		}
		if cw := p.States[tcpinfo.CloseWait]; cw >= minCloseWait {
			ev = append(ev, fmt.Sprintf("%s of them are CLOSE_WAIT sockets it never closed: the leak is what fills them", humanize.Int(cw)))
		}
		f = append(f, Finding{Kind: "fd_exhaustion", Severity: sev, Rank: rank, Subject: who, Title: title, Short: short,
			Detail: "No sysctl fixes a process's own limit. Close what it leaks (sockets in CLOSE_WAIT, connections never returned to a pool); " +
				"raise its limit where that is the honest fix: LimitNOFILE= in its systemd unit, ulimit -n, or the container runtime's nofile.",
			Evidence: ev})
	}
	return f
}

// pressureWords are how a group's share of its ports is said: "used" is
// the pane's USE%; where reuse frees some ports, the share given is the
// held one (HeldRatio), and it is called so, so that a finding or advice
// never gives a number under the pane's name for another.
func pressureWords(g tcpinfo.PressureGroup) (verb, share, inUse string) {
	if g.ReusableTimeWait > 0 {
		return "holds", "held", "held"
	}
	return "uses", "used", "in use"
}

// exhaustion reports destination groups running out of ports, with the
// time left at the current growth.
func exhaustion(now, earlier *tcpinfo.Snapshot, dt float64, settings []tuning.Setting, listening []uint16) []Finding {
	type key struct {
		l netip.Addr
		r netip.AddrPort
	}
	before := map[key]tcpinfo.PressureGroup{}
	if earlier != nil {
		for _, g := range earlier.PortPressure {
			before[key{g.Local, g.Remote}] = g
		}
	}
	var f []Finding
	for _, g := range now.PortPressure {
		var then *tcpinfo.PressureGroup
		if p, ok := before[key{g.Local, g.Remote}]; ok && earlier != nil {
			then = &p
		}
		rates := RatesOf(g, then, dt)
		growth, how, left := rates.Growth, rates.How, rates.Left
		// The ports connect() cannot take: a TIME_WAIT port it takes over
		// (loopback, tcp_tw_reuse) is as good as free.
		held := g.HeldRatio()
		if held < PressureWarn && (left < 0 || left > forecastHorizon) {
			continue
		}
		sev := Warning
		if held >= PressureCritical || left >= 0 && left < time.Minute {
			sev = Critical
		}
		verb, share, inUse := pressureWords(g)
		title := fmt.Sprintf("connect() to %s from %s %s %.0f%% of its %s ports", g.Remote, g.Local, verb, 100*held, humanize.Int(g.Capacity))
		short := ""
		switch {
		case left == 0:
			// Out of ports: said so on every poll at the cap, whatever the
			// growth (it stops there, the failures do not).
			title = fmt.Sprintf("connect() to %s from %s is failing now with EADDRNOTAVAIL: %s of its %s ports are %s", g.Remote, g.Local, humanize.Int(g.Held()), humanize.Int(g.Capacity), inUse)
			short = fmt.Sprintf("%s: out of ports, connect() failing now (from %s)", g.Remote, g.Local)
		case left >= 0:
			title = fmt.Sprintf("connect() to %s from %s will start failing with EADDRNOTAVAIL in about %s", g.Remote, g.Local, about(left))
			short = fmt.Sprintf("%s: out of ports in about %s (from %s, %.0f%% %s)", g.Remote, about(left), g.Local, 100*held, share)
		}
		// The sysctls that help this destination, whatever the pressure
		// thresholds of the general advice: a forecast alone calls for them.
		sysctls := ForPressure("for the finding \""+title+"\"", g, settings, listening)
		fixes := []string{}
		for _, r := range sysctls {
			fix := r.Key + "=" + r.Value
			if r.Key == "net.ipv4.tcp_tw_reuse" {
				fix += " (outgoing connections may reuse TIME_WAIT ports)"
			}
			fixes = append(fixes, fix)
		}
		fixes = append(fixes, "reuse connections (pooling, keep-alive) instead of one per request",
			"more destination addresses or ports (each pair gets the whole range)",
			"for bind() before connect(), IP_BIND_ADDRESS_NO_PORT; IP_LOCAL_PORT_RANGE per socket")
		ev := []string{fmt.Sprintf("%s of %s ports used, %s in TIME_WAIT", humanize.Int(g.Used), humanize.Int(g.Capacity), humanize.Int(g.TimeWait))}
		if g.ReuseAfter > 0 {
			ev = append(ev, fmt.Sprintf("connect() takes over a TIME_WAIT port once it is %s old (tcp_tw_reuse, loopback): %s of them, not counted", g.ReuseAfter, humanize.Int(g.ReusableTimeWait)))
		}
		if who := opener(g, rates.Opens); who != "" {
			ev = append([]string{who}, ev...)
		} else if why := unnamedOpener(now.Attribution, g); why != "" {
			ev = append(ev, why)
		}
		if growth != 0 {
			ev = append(ev, fmt.Sprintf("growing %s/s (%s)", fmtRate(growth), how))
		}
		f = append(f, Finding{Kind: "port_exhaustion", Severity: sev, Rank: pressureRank(held, left), Title: title, Short: short,
			Subject: fmt.Sprintf("%s from %s", g.Remote, g.Local),
			Detail: "Each (source, destination, port) group can hold each local port once, TIME_WAIT included (60 s). Fixes: " +
				strings.Join(fixes, "; ") + ".",
			Evidence: ev, Sysctls: sysctls})
	}
	return f
}

// pressureRank is a group's share of its ports, plus up to 1 as the time
// left shrinks (1 when it is out of ports); no forecast adds nothing.
func pressureRank(ratio float64, left time.Duration) float64 {
	if left < 0 {
		return ratio
	}
	return ratio + 1/(1+left.Seconds())
}

// Advise is the one call for what is wrong and what to change: the
// findings for now (Diagnose) and the sysctl advice with each finding's
// fixes, citing it (AdviceFor). tune, the tuning pane and reports use it,
// so they never disagree.
func Advise(now, earlier *tcpinfo.Snapshot, settings []tuning.Setting) ([]Finding, []Recommendation) {
	findings, recs := diagnose(now, earlier, settings)
	return findings, Advice(recs, findings)
}

// AdviceFor is the sysctl advice for now and the findings already drawn
// from it: the recommendations, then each fix a finding names that they
// lack.
func AdviceFor(now, earlier *tcpinfo.Snapshot, settings []tuning.Setting, findings []Finding) []Recommendation {
	return Advice(Recommend(now, earlier, settings, now.Listening()), findings)
}

// Advice is the sysctl advice to show: recs, then each sysctl a finding
// calls for that recs lacks, citing the finding. The tuning pane and
// tcpdash tune both show this, so a finding's fix is never missing there.
func Advice(recs []Recommendation, findings []Finding) []Recommendation {
	out := slices.Clone(recs)
	have := map[string]bool{}
	for _, r := range recs {
		have[r.Key] = true
	}
	for _, f := range findings {
		for _, r := range f.Sysctls {
			if !have[r.Key] {
				have[r.Key] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// opener says who opens a group's connections, when it is known:
// "java (pid 4242, payments.service) opens 298 connections/s to
// 10.0.0.5:3306 and closes them first". rate is its new connections a
// second, from RatesOf: the pressure pane shows the same number.
func opener(g tcpinfo.PressureGroup, rate float64) string {
	var who []string
	if g.Opener.PID != 0 {
		who = append(who, fmt.Sprintf("pid %d", g.Opener.PID))
	}
	if g.OpenerCgroupName != "" {
		who = append(who, g.OpenerCgroupName)
	}
	if len(who) == 0 || g.OpenerSockets*2 < g.Used {
		return "" // nobody holds most of them
	}
	name := g.Opener.Command
	if name == "" {
		name, who = who[len(who)-1], who[:len(who)-1]
	}
	if len(who) > 0 {
		name += " (" + strings.Join(who, ", ") + ")"
	}
	if g.TimeWait*2 >= g.Used && rate > 0 {
		closes := ""
		if g.ClosesPerS > 0 {
			closes = fmt.Sprintf(" (%s closes/s)", fmtRate(g.ClosesPerS))
		}
		return fmt.Sprintf("%s opens %s connections/s to %s and closes them first%s", name, fmtRate(rate), g.Remote, closes)
	}
	return fmt.Sprintf("%s holds %s of its %s sockets", name, humanize.Int(g.OpenerSockets), humanize.Int(g.Used))
}

// unnamedOpener says why a group's opener is not named, when its sockets
// are mostly TIME_WAIT: no process holds those, and a connection shorter
// than a poll is named only by an event source.
func unnamedOpener(a tcpinfo.Attribution, g tcpinfo.PressureGroup) string {
	switch {
	case !a.Enabled || g.TimeWait*2 < g.Used:
		return ""
	case a.Openers.Name != "":
		return "its opener is not named: these connections were opened before tcpdash began to watch"
	case a.Openers.Note != "":
		return "its opener is not named: connections that close within a poll are named only with eBPF (" + a.Openers.Note + ")"
	}
	return "its opener is not named: connections that close within a poll are named only with eBPF"
}

// fullListeners are the listeners whose accept queue is full.
func fullListeners(s *tcpinfo.Snapshot) []tcpinfo.Listener {
	var full []tcpinfo.Listener
	for _, l := range s.Listeners {
		if l.Full() {
			full = append(full, l)
		}
	}
	return full
}

// listenerOwner is " (pid 311 nginx)", or "" when not known.
func listenerOwner(l tcpinfo.Listener) string {
	if l.Owner.PID == 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d %s)", l.Owner.PID, l.Owner.Command)
}

// counters reports the kernel counters that must not rise.
func counters(now, earlier *tcpinfo.Snapshot, dt float64, recs map[string]Recommendation, somaxconn int) []Finding {
	var f []Finding
	c := now.Counters
	tw, maxTW := c.TWSockets, now.MaxTimeWaitBuckets
	if earlier != nil && c.TCPTimeWaitOverflow > earlier.Counters.TCPTimeWaitOverflow {
		d := c.TCPTimeWaitOverflow - earlier.Counters.TCPTimeWaitOverflow
		f = append(f, Finding{Kind: "time_wait_overflow", Severity: Critical, Rank: float64(d),
			Title:    fmt.Sprintf("the TIME_WAIT table is full: %s closes skipped TIME_WAIT (%s/s)", humanize.Int(int(d)), fmtRate(float64(d)/dt)),
			Detail:   "Above tcp_max_tw_buckets closing sockets skip TIME_WAIT, so late segments can corrupt new connections. Fix: " + advice(recs, "net.ipv4.tcp_max_tw_buckets") + ", and fewer short-lived connections (pooling, keep-alive).",
			Evidence: []string{fmt.Sprintf("TCPTimeWaitOverflow %s; tw sockets %s of %s", humanize.Int(int(c.TCPTimeWaitOverflow)), humanize.Int(int(tw)), humanize.Int(maxTW))}})
	} else if TimeWaitNearLimit(now) {
		f = append(f, Finding{Kind: "time_wait_near_limit", Severity: Warning, Rank: float64(tw),
			Title:    fmt.Sprintf("TIME_WAIT is at %d%% of tcp_max_tw_buckets", tw*100/uint64(maxTW)),
			Detail:   "Beyond the limit closes skip TIME_WAIT. Fix: " + advice(recs, "net.ipv4.tcp_max_tw_buckets") + " (never lower it).",
			Evidence: []string{fmt.Sprintf("tw sockets %s of %s", humanize.Int(int(tw)), humanize.Int(maxTW))}})
	}
	if earlier != nil {
		lo := c.ListenOverflows - min(c.ListenOverflows, earlier.Counters.ListenOverflows)
		ld := c.ListenDrops - min(c.ListenDrops, earlier.Counters.ListenDrops)
		if lo > 0 || ld > 0 {
			dropped := max(lo, ld)
			subject := ""
			title := fmt.Sprintf("listen queues are overflowing: %s connections dropped (%s/s)", humanize.Int(int(dropped)), fmtRate(float64(dropped)/dt))
			if full := fullListeners(now); len(full) > 0 {
				// The drops are the full queue's: name its port and process.
				l := full[0]
				subject = fmt.Sprintf("port %d", l.Local.Port())
				title = fmt.Sprintf("port %d%s: accept queue full, %d of %d; %s connections dropped/s",
					l.Local.Port(), listenerOwner(l), l.AcceptQueue, l.Backlog, fmtRate(float64(dropped)/dt))
				if len(full) > 1 {
					title += fmt.Sprintf(" (and %d more full listeners)", len(full)-1)
				}
			}
			detail := "The application does not accept() fast enough, or its backlog is too small. Fix: " + advice(recs, "net.core.somaxconn") +
				" and " + advice(recs, "net.ipv4.tcp_max_syn_backlog") + ", raise the listen() backlog in the application (somaxconn caps it), and accept faster."
			if capped, own := BacklogLimited(now.Listeners, somaxconn); len(capped) == 0 && len(own) > 0 {
				// Every full listener is below somaxconn: it is their own
				// listen() backlog, and no sysctl raises that.
				l := own[0]
				detail = fmt.Sprintf("The application does not accept() fast enough, or its backlog is too small. Its listen() backlog is %d, below "+
					"net.core.somaxconn, so no sysctl helps: raise the backlog in the application (the argument to listen()), and accept faster.", l.Backlog)
			}
			f = append(f, Finding{Kind: "listen_overflow", Severity: Critical, Rank: float64(lo + ld), Subject: subject,
				Title:    title,
				Detail:   detail,
				Evidence: []string{fmt.Sprintf("ListenOverflows +%d, ListenDrops +%d in %.0fs", lo, ld, dt)}})
		}
	}
	return f
}

// causes reports the counters that name why connections fail or crawl:
// SYN queues full, segments retransmitted, SYNs unanswered, memory
// pressure, receive queues pruned, orphans near their limit.
func causes(now, earlier *tcpinfo.Snapshot, dt float64, settings []tuning.Setting) []Finding {
	var f []Finding
	c := now.Counters
	if maxOrphans := settingInt(settings, "net.ipv4.tcp_max_orphans"); maxOrphans > 0 && c.Orphan*10 >= uint64(maxOrphans)*8 {
		f = append(f, Finding{Kind: "orphans_near_limit", Severity: Warning, Rank: float64(c.Orphan),
			Title:    fmt.Sprintf("orphaned sockets are at %d%% of tcp_max_orphans (%s of %s): past it, the kernel resets connections", c.Orphan*100/uint64(maxOrphans), humanize.Int(int(c.Orphan)), humanize.Int(maxOrphans)),
			Detail:   "Orphans are sockets their application closed that are still finishing (FIN_WAIT, LAST_ACK). Past net.ipv4.tcp_max_orphans the kernel resets them (TCPAbortOnMemory). Fix: peers that close promptly, a lower tcp_fin_timeout for FIN_WAIT2, or a higher tcp_max_orphans if memory allows (each can hold 64 KB).",
			Evidence: []string{fmt.Sprintf("sockstat orphans %s", humanize.Int(int(c.Orphan)))}})
	}
	if earlier == nil || dt <= 0 {
		return f
	}
	p := earlier.Counters
	d := func(now, then uint64) uint64 { return now - min(now, then) }
	rate := func(n uint64) string { return fmtRate(float64(n) / dt) }
	// The listener handshakes pile up on: the port a SYN-queue finding names.
	busiest := func() string {
		var best *tcpinfo.Listener
		for i := range now.Listeners {
			if l := &now.Listeners[i]; l.SynRecv > 0 && (best == nil || l.SynRecv > best.SynRecv) {
				best = l
			}
		}
		if best == nil {
			return ""
		}
		return fmt.Sprintf("port %d%s: ", best.Local.Port(), listenerOwner(*best))
	}
	if n := d(c.TCPReqQFullDrop, p.TCPReqQFullDrop); n > 0 {
		f = append(f, Finding{Kind: "syn_drops", Severity: Critical, Rank: float64(n),
			Title:    fmt.Sprintf("%sSYN queue full: %s connection attempts dropped (%s/s)", busiest(), humanize.Int(int(n)), rate(n)),
			Detail:   "New connections are dropped before the handshake: the SYN queue is full and SYN cookies are off or failing. Fix: net.ipv4.tcp_syncookies=1, raise net.ipv4.tcp_max_syn_backlog and net.core.somaxconn, and the listen() backlog.",
			Sysctls:  []Recommendation{{Key: "net.ipv4.tcp_syncookies", Value: "1", Reason: "SYN queue full: connection attempts dropped"}},
			Evidence: []string{fmt.Sprintf("TCPReqQFullDrop +%s in %.0fs", humanize.Int(int(n)), dt)}})
	}
	if n := d(c.SyncookiesSent, p.SyncookiesSent); n > 0 {
		f = append(f, Finding{Kind: "syn_cookies", Severity: Warning, Rank: float64(n),
			Title:    fmt.Sprintf("%sSYN queue full, %s cookies/s", busiest(), rate(n)),
			Detail:   "The SYN queue overflowed and the kernel answers with SYN cookies: connections still open, without TCP options the queue would keep (window scaling falls back). A flood, or a backlog too small for the load. Fix: raise net.ipv4.tcp_max_syn_backlog and the listen() backlog (somaxconn caps it).",
			Evidence: []string{fmt.Sprintf("SyncookiesSent +%s, SyncookiesRecv +%s in %.0fs", humanize.Int(int(n)), humanize.Int(int(d(c.SyncookiesRecv, p.SyncookiesRecv))), dt)}})
	}
	if n, out := d(c.RetransSegs, p.RetransSegs), d(c.OutSegs, p.OutSegs); out > 0 && float64(n)/dt >= minRetransPerS && float64(n) >= retransShare*float64(out) {
		f = append(f, Finding{Kind: "retransmits", Severity: Warning, Rank: float64(n) / float64(out),
			Title:    fmt.Sprintf("%.1f%% of TCP segments are retransmitted (%s/s)", 100*float64(n)/float64(out), rate(n)),
			Detail:   "Segments are lost on the way, or acknowledged too late: a congested or lossy path, a dropping firewall or conntrack table, or an overloaded peer. Connections crawl. The remote endpoints tell which destination.",
			Evidence: []string{fmt.Sprintf("RetransSegs +%s of OutSegs +%s in %.0fs; TCPTimeouts +%s", humanize.Int(int(n)), humanize.Int(int(out)), dt, humanize.Int(int(d(c.TCPTimeouts, p.TCPTimeouts))))}})
	}
	if n := d(c.TCPSynRetrans, p.TCPSynRetrans); float64(n)/dt >= minSynRetransPerS {
		f = append(f, Finding{Kind: "syn_retransmits", Severity: Warning, Rank: float64(n),
			Title:    fmt.Sprintf("connect() SYNs are being retransmitted, %s/s: a destination is not answering", rate(n)),
			Detail:   "Each retransmitted SYN adds 1 s, then 2, 4…: connects crawl and time out. The destination drops SYNs (a full SYN queue, a firewall, a full conntrack table) or is unreachable. Connections in SYN_SENT name it.",
			Evidence: []string{fmt.Sprintf("TCPSynRetrans +%s in %.0fs; SYN_SENT now %s", humanize.Int(int(n)), dt, humanize.Int(now.States[tcpinfo.SynSent]))}})
	}
	if n, abort := d(c.TCPMemoryPressures, p.TCPMemoryPressures), d(c.TCPAbortOnMemory, p.TCPAbortOnMemory); n > 0 || abort > 0 {
		f = append(f, Finding{Kind: "memory_pressure", Severity: Critical, Rank: float64(n + abort),
			Title:    fmt.Sprintf("TCP is under memory pressure: %s entries into pressure, %s connections reset for memory", humanize.Int(int(n)), humanize.Int(int(abort))),
			Detail:   "Sockets hold more memory than net.ipv4.tcp_mem allows: buffers shrink, connections are reset (TCPAbortOnMemory). Fix: find who holds large queues (Recv-Q and Send-Q in the drill-down: an application not reading), then raise tcp_mem if memory allows.",
			Evidence: []string{fmt.Sprintf("sockstat mem %s pages; TCPMemoryPressures +%s, TCPAbortOnMemory +%s in %.0fs", humanize.Int(int(c.Mem)), humanize.Int(int(n)), humanize.Int(int(abort)), dt)}})
	}
	if pruned, backlog := d(c.PruneCalled, p.PruneCalled)+d(c.RcvPruned, p.RcvPruned), d(c.TCPBacklogDrop, p.TCPBacklogDrop); pruned > 0 || backlog > 0 {
		f = append(f, Finding{Kind: "receive_drops", Severity: Warning, Rank: float64(pruned + backlog),
			Title:    fmt.Sprintf("receive queues are overflowing: %s prunes and %s backlog drops (%s/s)", humanize.Int(int(pruned)), humanize.Int(int(backlog)), rate(pruned+backlog)),
			Detail:   "An application is not reading its sockets fast enough, so the kernel collapses or drops their receive queues and the peers retransmit. The drill-down's Recv-Q shows which sockets.",
			Evidence: []string{fmt.Sprintf("PruneCalled +%d, RcvPruned +%d, TCPBacklogDrop +%d in %.0fs", d(c.PruneCalled, p.PruneCalled), d(c.RcvPruned, p.RcvPruned), backlog, dt)}})
	}
	return f
}

// Lossy says whether the connections to a destination retransmit enough
// to be a finding: the one test, for the findings and the health pane.
func Lossy(h tcpinfo.DestinationHealth) bool {
	return h.RetransPct() >= lossyPct && (!h.RatesKnown || h.RetransPerS >= minLossyRetransPerS)
}

// Slow says whether a destination's round trips have departed from their
// own minimum enough to be a finding.
func Slow(h tcpinfo.DestinationHealth) bool {
	return h.RTTP99 >= slowRTT && h.MinRTT > 0 && h.RTTP99 >= slowRTTFactor*h.MinRTT
}

// health names the destinations whose connections retransmit or whose
// round trips have departed from their own minimum: the ones that crawl.
func health(now *tcpinfo.Snapshot) []Finding {
	var f []Finding
	for _, h := range now.Health {
		pct := h.RetransPct()
		lossy, slow := Lossy(h), Slow(h)
		if !lossy && !slow {
			continue
		}
		sev := Warning
		if pct >= 5 {
			sev = Critical
		}
		rtt := fmt.Sprintf("RTT p99 %s (min %s)", roundRTT(h.RTTP99), roundRTT(h.MinRTT))
		title := fmt.Sprintf("%s: %.1f%% of segments retransmitted, %s", h.Remote, pct, rtt)
		if !lossy {
			title = fmt.Sprintf("%s: %s: its round trips are %.0f× their minimum", h.Remote, rtt, float64(h.RTTP99)/float64(h.MinRTT))
		}
		ev := []string{fmt.Sprintf("%s connections: %s of %s segments retransmitted over their lives, %s lost and %s unacknowledged now",
			humanize.Int(h.Sockets), humanize.Int(int(h.RetransTotal)), humanize.Int(int(h.SegsOut)), humanize.Int(int(h.Lost)), humanize.Int(int(h.Unacked)))}
		if h.RatesKnown {
			ev = append(ev, fmt.Sprintf("%s retransmits/s", fmtRate(h.RetransPerS)))
		}
		f = append(f, Finding{Kind: "destination_health", Severity: sev, Rank: pct, Subject: h.Remote.String(), Title: title,
			Short:    title,
			Detail:   "Segments to it are lost or acknowledged late: a lossy or congested path, a firewall or full conntrack table dropping, or an overloaded peer. No sysctl on this host fixes the path; ss -ti on its sockets (the drill-down) shows each one.",
			Evidence: ev})
	}
	return f
}

// conntrackNearFullPct is how full a conntrack table is a warning.
const conntrackNearFullPct = 90

// conntrackDropped is a table's new connections dropped a second: the
// collector's rate, measured between its reads (0 until it has one).
func conntrackDropped(t *tcpinfo.Conntrack) float64 {
	if !t.RatesKnown {
		return 0
	}
	return t.DropPerS + t.InsertFailedPerS
}

// ConntrackTrouble says whether a conntrack table is a finding, dropping
// or near full: the one test, for the findings and the header's mark.
func ConntrackTrouble(t *tcpinfo.Conntrack) bool {
	return t != nil && t.Max > 0 && (conntrackDropped(t) > 0 || 100*float64(t.Count)/float64(t.Max) >= conntrackNearFullPct)
}

// conntrackFull names a connection-tracking table that drops new
// connections, or is about to: nothing in ss shows it.
func conntrackFull(now *tcpinfo.Snapshot) []Finding {
	t := now.Conntrack
	if !ConntrackTrouble(t) {
		return nil
	}
	dropped := conntrackDropped(t)
	pct := 100 * float64(t.Count) / float64(t.Max)
	fix := "Raise net.netfilter.nf_conntrack_max on the host (it bounds every namespace's table and is read-only inside other namespaces) " +
		"and nf_conntrack_buckets with it (host only); shorten the TCP timeouts that hold entries " +
		"(net.netfilter.nf_conntrack_tcp_timeout_time_wait, _close_wait, _established: per namespace); or stop tracking what needs no state (notrack)."
	ev := []string{fmt.Sprintf("conntrack %s of %s entries; drop %s, insert_failed %s, early_drop %s since boot",
		humanize.Int(int(t.Count)), humanize.Int(int(t.Max)), humanize.Int(int(t.Drop)), humanize.Int(int(t.InsertFailed)), humanize.Int(int(t.EarlyDrop)))}
	switch {
	case dropped > 0:
		return []Finding{{Kind: "conntrack_full", Severity: Critical, Rank: dropped,
			Title:    fmt.Sprintf("the conntrack table is full (%s of %s): %s new connections dropped/s", humanize.Int(int(t.Count)), humanize.Int(int(t.Max)), fmtRate(dropped)),
			Short:    fmt.Sprintf("conntrack full: %s connections dropped/s", fmtRate(dropped)),
			Detail:   "Every new connection needs a conntrack entry; with the table full the kernel drops its packets, and connect() times out with nothing in ss. " + fix,
			Evidence: ev}}
	default:
		return []Finding{{Kind: "conntrack_near_full", Severity: Warning, Rank: pct,
			Title:    fmt.Sprintf("the conntrack table is %.0f%% full (%s of %s entries)", pct, humanize.Int(int(t.Count)), humanize.Int(int(t.Max))),
			Detail:   "Past its limit, new connections are dropped. " + fix,
			Evidence: ev}}
	}
}

// roundRTT keeps an RTT readable: 0.3ms, 12ms, 180ms.
func roundRTT(d time.Duration) string {
	if d < 10*time.Millisecond {
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// settingInt is a setting's value as a number; 0 when unknown.
func settingInt(settings []tuning.Setting, key string) int {
	for _, s := range settings {
		if s.Key == key && s.Exists {
			n, _ := strconv.Atoi(strings.TrimSpace(s.Value))
			return n
		}
	}
	return 0
}

func advice(recs map[string]Recommendation, key string) string {
	if r, ok := recs[key]; ok {
		return key + "=" + r.Value
	}
	return "raise " + key
}

func rateSuffix(n int, earlier *tcpinfo.Snapshot, dt float64, st tcpinfo.State) string {
	if earlier == nil {
		return ""
	}
	return fmt.Sprintf(" (%+.1f/s)", float64(n-earlier.States[st])/dt)
}

// about rounds a duration the way a person would say it.
func about(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%d s", max(1, int(math.Round(d.Seconds()))))
	case d < 2*time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(5*time.Second).Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute).Minutes()))
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}

func fmtRate(r float64) string {
	if math.Abs(r) >= 10 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}
