package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// writeReport prints a snapshot for people: the same facts as the JSON,
// laid out in aligned tables.
func writeReport(w io.Writer, s *tcpinfo.Snapshot, findings []diagnose.Finding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }

	p("tcpdash snapshot %s  source %s  dump %s\n", s.Time.Format(time.RFC3339), termsafe.String(string(s.Source)), roundDuration(s.Dump))
	if s.Netns != "" {
		name := s.Netns
		if len(s.Names) > 0 {
			name = strings.Join(s.Names, ", ") + " " + s.Netns
		}
		p("netns %s\n", termsafe.String(name))
	}
	if s.SourceNote != "" {
		p("note: %s\n", termsafe.String(s.SourceNote))
	}
	if s.Filter != "" {
		p("filter: %s (every count is over the sockets it selects)\n", termsafe.String(s.Filter))
	}
	p("total %d sockets (ipv4 %d, ipv6 %d)\n\n", s.Total, s.Families.IPv4, s.Families.IPv6)

	if len(findings) > 0 {
		p("FINDINGS\n")
		for _, f := range findings {
			// Titles and evidence name processes: strings their owners chose.
			p("%-8s %s\n", strings.ToUpper(f.Severity.String()), termsafe.String(f.Title))
			p("         evidence: %s\n", termsafe.String(strings.Join(f.Evidence, "; ")))
			p("         fix: %s\n", termsafe.String(f.Detail))
		}
		p("\n")
	}

	p("STATE\tCOUNT\t\n")
	for _, st := range tcpinfo.AllStates() {
		if n := s.States[st]; n > 0 {
			p("%s\t%d\t%s\n", st, n, bar(n, s.Total, 30))
		}
	}

	p("\nTOP LOCAL PORTS (client ports in the ephemeral range folded into one row)\n")
	p("PORT\tTOTAL\tSTATES\n")
	for _, r := range s.LocalPortsFolded {
		p("%s\t%d\t%s\n", r.Label(s.PortRange), r.States.Total(), stateList(&r.States))
	}
	if len(s.Listeners) > 0 {
		p("\nLISTENERS (accept queue now / backlog; full drops new connections)\n")
		p("LISTEN\tACCEPT Q\tSYN_RECV\tOWNER\n")
		for _, l := range s.Listeners {
			full := ""
			if l.Full() {
				full = "  FULL"
			}
			owner := "-"
			if l.Owner.PID != 0 {
				owner = fmt.Sprintf("pid %d (%s)", l.Owner.PID, termsafe.String(l.Owner.Command))
			}
			p("%s\t%d / %d%s\t%d\t%s\n", l.Local, l.AcceptQueue, l.Backlog, full, l.SynRecv, owner)
		}
	}
	p("\nTOP REMOTE PORTS\n")
	p("PORT\tTOTAL\tSTATES\n")
	for _, r := range s.TopRemotePorts {
		p("%d\t%d\t%s\n", r.Port, r.States.Total(), stateList(&r.States))
	}
	p("\nTOP REMOTE ENDPOINTS (a peer's ephemeral ports folded into addr:*)\n")
	p("ENDPOINT\tTOTAL\tSTATES\n")
	for _, r := range s.RemoteEndpointsFolded {
		name := r.String()
		if r.Ports > 0 {
			name += fmt.Sprintf(" (%d ports)", r.Ports)
		}
		p("%s\t%d\t%s\n", name, r.States.Total(), stateList(&r.States))
	}

	p("\nPORT PRESSURE (ephemeral range %s, %d ports per local address → destination)\n", s.PortRange, s.GroupCapacity())
	// REUSABLE, where a group has TIME_WAIT connect() takes over: its
	// ports are used, and as good as free.
	reuse := s.HasReusableTimeWait()
	if reuse {
		p("LOCAL\tDESTINATION\tUSED\tTIME_WAIT\tREUSABLE\tCAPACITY\tUSE\n")
	} else {
		p("LOCAL\tDESTINATION\tUSED\tTIME_WAIT\tCAPACITY\tUSE\n")
	}
	for _, g := range s.PortPressure {
		reusable := ""
		if reuse {
			reusable = "-\t"
			if g.ReuseAfter > 0 {
				reusable = strconv.Itoa(g.ReusableTimeWait) + "\t"
			}
		}
		p("%s\t%s\t%d\t%d\t%s%d\t%.1f%%\n", g.Local, g.Remote, g.Used, g.TimeWait, reusable, g.Capacity, 100*g.Ratio)
	}

	if a := s.Attribution; a.Enabled {
		p("\nPROCESSES (sockets by owner; /proc walk took %s)\n", roundDuration(a.Took))
		p("PID\tCOMMAND\tCGROUP\tTOTAL\tSTATES\tCMDLINE\n")
		for _, r := range s.Processes {
			shared := ""
			if r.Shared > 0 {
				shared = fmt.Sprintf(" (%d shared)", r.Shared)
			}
			p("%d\t%s\t%s\t%d%s\t%s\t%s\n", r.PID, termsafe.String(r.Command), orDashText(termsafe.String(r.CgroupName)),
				r.States.Total(), shared, stateList(&r.States), termsafe.String(r.Cmdline))
		}
		for _, note := range diagnose.OwnerNotes(a, os.Geteuid() == 0) {
			p("%s\n", note)
		}
	}

	if len(s.Cgroups) > 0 {
		p("\nCGROUPS (sockets by the cgroup that created them, from the dump)\n")
		p("NAME\tPATH\tTOTAL\tSTATES\n")
		for _, c := range s.Cgroups {
			name := c.Name
			if name == "" {
				name = fmt.Sprintf("cgroup %d", c.ID)
			}
			p("%s\t%s\t%d\t%s\n", termsafe.String(name), orDashText(termsafe.String(c.Path)), c.States.Total(), stateList(&c.States))
		}
	}

	if s.States[tcpinfo.TimeWait] > 0 {
		p("\nTIME_WAIT PORTS FREED WITHIN\n")
		for _, e := range s.TimeWaitExpiry {
			p("%s\t%d\n", e.Within, e.Count)
		}
	}

	c := s.Counters
	p("\nCOUNTERS\n")
	p("sockstat\tinuse %d  inuse6 %d  orphan %d  tw %d  alloc %d\n", c.InUse, c.InUse6, c.Orphan, c.TWSockets, c.Alloc)
	p("Tcp\tCurrEstab %d  ActiveOpens %d  PassiveOpens %d  AttemptFails %d  EstabResets %d\n",
		c.CurrEstab, c.ActiveOpens, c.PassiveOpens, c.AttemptFails, c.EstabResets)
	p("TcpExt\tTW %d  TWRecycled %d  TWKilled %d  TCPTimeWaitOverflow %d  ListenOverflows %d  ListenDrops %d\n",
		c.TW, c.TWRecycled, c.TWKilled, c.TCPTimeWaitOverflow, c.ListenOverflows, c.ListenDrops)
	return tw.Flush()
}

func orDashText(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stateList names a row's non-zero states in kernel order.
func stateList(c *tcpinfo.StateCounts) string {
	var parts []string
	for _, st := range tcpinfo.AllStates() {
		if c[st] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, c[st]))
		}
	}
	return strings.Join(parts, ", ")
}

func bar(n, total, width int) string {
	if total == 0 {
		return ""
	}
	// A recording's counts need not add up: never wider than width.
	return strings.Repeat("#", min(max(1, n*width/total), width))
}

func roundDuration(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}
