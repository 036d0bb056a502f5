package summary

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/internal/termsafe"
)

const clock = "15:04:05"

// When prints a time of the recording as people read it: the clock time,
// and the date when the recording spans more than a day.
func (s *Summary) when(t time.Time) string {
	if s.Start.YearDay() != s.End.YearDay() || s.Start.Year() != s.End.Year() {
		return t.Format("Jan 2 " + clock)
	}
	return t.Format(clock)
}

// Head is the report's first line: what was recorded, where and for how long.
func (s *Summary) Head() string {
	where := "a --json log"
	if s.Host != "" {
		where = "host " + s.Host
		if s.Kernel != "" {
			where += ", kernel " + s.Kernel
		}
		if s.Netns != "" {
			where += ", netns " + s.Netns
		}
	}
	every := ""
	if s.IntervalMS > 0 {
		every = " every " + (time.Duration(s.IntervalMS) * time.Millisecond).String()
	}
	head := fmt.Sprintf("%s, %s to %s (%s, %s snapshots%s)", where, s.Start.Format("2006-01-02 "+clock), s.when(s.End),
		s.End.Sub(s.Start).Round(time.Second), humanize.Int(s.Snapshots), every)
	if s.Filter != "" {
		head += "; only the sockets of the filter " + s.Filter
	}
	if s.Tcpdash != "" {
		head += "; recorded by tcpdash " + s.Tcpdash
	}
	if s.Truncated {
		head += "; the file is cut short: this is what was complete"
	}
	return head
}

// WriteText writes the report for people. Everything from the recording
// is made printable: the file came from outside.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "tcpdash load-test report: %s\n", termsafe.String(s.Head()))

	fmt.Fprintf(&b, "\nPeak per state\n")
	fmt.Fprintf(&b, "  %-13s %9s  %-8s  %9s %9s\n", "STATE", "PEAK", "AT", "FIRST", "LAST")
	for _, p := range s.States {
		fmt.Fprintf(&b, "  %-13s %9s  %-8s  %9s %9s\n", p.State, humanize.Int(p.Peak), s.when(p.At), humanize.Int(p.First), humanize.Int(p.Last))
	}
	if len(s.States) == 0 {
		fmt.Fprintf(&b, "  no sockets in any snapshot\n")
	}

	fmt.Fprintf(&b, "\nWorst port pressure per destination (connect() fails with EADDRNOTAVAIL at 100%%)\n")
	if len(s.Pressure) == 0 {
		fmt.Fprintf(&b, "  no destination used ephemeral ports\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  DESTINATION\tFROM\tWORST\tUSED / CAPACITY\tTIME_WAIT\tAT\tCLOSES/S PEAK\tOPENER\n")
		for _, p := range s.Pressure {
			closes := "-"
			if p.PeakClosesPerS > 0 {
				closes = fmt.Sprintf("%.1f", p.PeakClosesPerS)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%.1f%%\t%s / %s\t%s\t%s\t%s\t%s\n", termsafe.String(p.Remote), termsafe.String(p.LocalAddr), 100*p.Ratio,
				humanize.Int(p.Used), humanize.Int(p.Capacity), humanize.Int(p.TimeWait), s.when(p.At), closes, orDash(termsafe.String(p.Opener)))
		}
		tw.Flush()
	}

	if l := s.LeftOut; l != nil && l.PortPressureRows > 0 {
		fmt.Fprintf(&b, "  (%s rows of destination groups first seen after %s others are not in this report)\n", humanize.Int(l.PortPressureRows), humanize.Int(maxFollowed))
	}

	if len(s.Health) > 0 {
		fmt.Fprintf(&b, "\nRetransmits per destination, at their worst (--health)\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  DESTINATION\tRETRANSMITTED\tRTT p99\tAT\n")
		for _, h := range s.Health {
			fmt.Fprintf(tw, "  %s\t%.1f%%\t%.1f ms\t%s\n", termsafe.String(h.Remote), h.RetransPct, h.RTTP99MS, s.when(h.At))
		}
		tw.Flush()
	}
	if c := s.Conntrack; c != nil {
		fmt.Fprintf(&b, "\nconntrack: at most %s of %s entries (%s); %s new connections dropped\n",
			humanize.Int(int(c.Count)), humanize.Int(int(c.Max)), s.when(c.At), humanize.Int(int(c.Dropped)))
	}

	fmt.Fprintf(&b, "\nFindings\n")
	if len(s.Findings) == 0 {
		fmt.Fprintf(&b, "  none\n")
	}
	for _, f := range s.Findings {
		fmt.Fprintf(&b, "  %s to %s  %-8s  %s\n", s.when(f.First), s.when(f.Last), f.Severity, termsafe.String(f.Title))
		if f.WorstAt != f.First {
			fmt.Fprintf(&b, "      (at its worst at %s)\n", s.when(f.WorstAt))
		}
		if sev := s.severities(f); sev != "" {
			fmt.Fprintf(&b, "      (%s)\n", sev)
		}
		if len(f.Runs) > 1 {
			fmt.Fprintf(&b, "      (came and went %d times; present in %s snapshots)\n", len(f.Runs), humanize.Int(f.Snapshots))
		}
	}

	if l := s.LeftOut; l != nil && l.FindingRows > 0 {
		fmt.Fprintf(&b, "  (%s rows of findings first seen after %s others are not in this report)\n", humanize.Int(l.FindingRows), humanize.Int(maxFollowed))
	}

	fmt.Fprintf(&b, "\nCounters over the recording\n")
	for _, c := range s.Counters {
		fmt.Fprintf(&b, "  %-20s %12s\n", c.Name, "+"+humanize.Int(int(c.Total)))
	}

	if len(s.Events) > 0 {
		fmt.Fprintf(&b, "\nSysctl changes\n")
		for _, e := range s.Events {
			fmt.Fprintf(&b, "  %s  %s  %s → %s\n", s.when(e.Time), termsafe.String(e.Name), termsafe.String(e.Old), termsafe.String(e.New))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// severities says when a finding was which severity, when it was more than
// one: "warning 14:00:01 to 14:00:29, critical 14:00:30 to 14:01:10".
// Stretches of one severity in a row are said once, up to a few.
func (s *Summary) severities(f FindingSpan) string {
	var parts []string
	var last *Stretch
	for i := range f.Stretches {
		st := &f.Stretches[i]
		if last != nil && last.Severity == st.Severity {
			continue // the same severity after a gap: its first stretch says it
		}
		last = st
		parts = append(parts, fmt.Sprintf("%s from %s", st.Severity, s.when(st.From)))
	}
	if len(parts) < 2 {
		return ""
	}
	if len(parts) > 6 {
		parts = append(parts[:6], fmt.Sprintf("and %d more changes", len(parts)-6))
	}
	return strings.Join(parts, ", ")
}

// WriteJSON writes the report as one JSON object.
func (s *Summary) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
