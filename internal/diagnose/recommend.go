package diagnose

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/internal/sysctl"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

// A Recommendation is advice drawn from live data. Key is empty when no
// sysctl helps and the fix lies in the application.
type Recommendation struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// Thresholds, shared by the advice, the findings and the dashboard so that
// they never disagree: a destination group this full of its ports is in
// trouble (warning, critical), and so is TIME_WAIT this near its limit.
const (
	PressureWarn     = 0.7
	PressureCritical = 0.9
	TimeWaitNearFull = 0.8
)

// TimeWaitNearLimit reports whether TIME_WAIT (and FIN_WAIT2)
// minisockets are above TimeWaitNearFull of tcp_max_tw_buckets.
func TimeWaitNearLimit(s *tcpinfo.Snapshot) bool {
	max := s.MaxTimeWaitBuckets
	return max > 0 && float64(s.Counters.TWSockets) >= TimeWaitNearFull*float64(max)
}

// ForPressure is the sysctl advice for g, a destination running out of
// ports, why saying which and how: tcp_tw_reuse=1 (unless it reuses its
// TIME_WAIT ports already) and a wider port range, as far as the current
// settings leave room.
func ForPressure(why string, g tcpinfo.PressureGroup, settings []tuning.Setting, listening []uint16) []Recommendation {
	val := map[string]string{}
	for _, s := range settings {
		if s.Exists {
			val[s.Key] = s.Value
		}
	}
	var out []Recommendation
	if val["net.ipv4.tcp_tw_reuse"] != "1" && g.ReuseAfter == 0 {
		reason := why + "; tcp_tw_reuse=1 lets new outgoing connections take over TIME_WAIT ports (outgoing only; needs timestamps on both ends)"
		if val["net.ipv4.tcp_timestamps"] == "0" {
			reason += "; tcp_timestamps is 0 here, so turn it on too"
		}
		out = append(out, Recommendation{"net.ipv4.tcp_tw_reuse", "1", reason})
	}
	if r, ok := widerRange(val["net.ipv4.ip_local_port_range"], listening); ok {
		out = append(out, Recommendation{"net.ipv4.ip_local_port_range", r,
			why + fmt.Sprintf("; changes the range connect() takes ports from, %s → %s: %s ports for each destination", val["net.ipv4.ip_local_port_range"], r, rangeSize(r))})
		// A server listening inside the new range keeps its port while it
		// runs (connect() skips bound ports), but a restart would find it
		// taken: reserve those ports.
		if reserved, added := reserve(val["net.ipv4.ip_local_reserved_ports"], r, listening); len(added) > 0 {
			out = append(out, Recommendation{"net.ipv4.ip_local_reserved_ports", reserved,
				fmt.Sprintf("the wider range %s covers ports servers listen on (%s): reserving them keeps connect() from taking one while its server restarts", r, joinPorts(added))})
		}
	}
	return out
}

// reserve adds to the reserved ports those listened on inside portRange,
// returning the new value and the ports it adds.
func reserve(current, portRange string, listening []uint16) (string, []uint16) {
	pr, err := tcpinfo.ParsePortRange([]byte(portRange), []byte(current))
	if err != nil {
		return current, nil
	}
	var added []uint16
	for _, p := range listening {
		if pr.Ephemeral(p) && !slices.Contains(added, p) {
			added = append(added, p)
		}
	}
	slices.Sort(added)
	if len(added) == 0 {
		return current, nil
	}
	parts := []string{}
	if c := strings.TrimSpace(current); c != "" {
		parts = append(parts, c)
	}
	parts = append(parts, joinPorts(added))
	return strings.Join(parts, ","), added
}

func joinPorts(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}

// Recommend derives advice from a snapshot, the previous one (for what is
// rising; may be nil), the current settings and the ports being listened
// on. It never recommends tcp_tw_recycle, nor tcp_fin_timeout as a cure
// for TIME_WAIT, and never lowers tcp_max_tw_buckets.
func Recommend(now, prev *tcpinfo.Snapshot, settings []tuning.Setting, listening []uint16) []Recommendation {
	val := map[string]string{}
	for _, s := range settings {
		if s.Exists {
			val[s.Key] = s.Value
		}
	}
	var out []Recommendation
	rising := func(f func(*tcpinfo.Snapshot) uint64) (uint64, uint64, bool) {
		if prev == nil {
			return 0, 0, false
		}
		a, b := f(prev), f(now)
		return a, b, b > a
	}

	if g, ok := worstGroup(now); ok && g.HeldRatio() >= PressureWarn {
		verb, _, _ := pressureWords(g)
		where := fmt.Sprintf("connect() from %s to %s %s %.0f%% of its %s ports (%s in TIME_WAIT)",
			g.Local, g.Remote, verb, 100*g.HeldRatio(), humanize.Int(g.Capacity), humanize.Int(g.TimeWait))
		out = append(out, ForPressure(where, g, settings, listening)...)
	}

	tw, max := now.Counters.TWSockets, now.MaxTimeWaitBuckets
	_, overflow, overflowing := rising(func(s *tcpinfo.Snapshot) uint64 { return s.Counters.TCPTimeWaitOverflow })
	if max > 0 && (TimeWaitNearLimit(now) || overflowing) {
		reason := fmt.Sprintf("%d TIME_WAIT/FIN_WAIT2 minisockets of at most %d", tw, max)
		if overflowing {
			reason += fmt.Sprintf(", and TCPTimeWaitOverflow rose to %d: closes are skipping TIME_WAIT", overflow)
		}
		out = append(out, Recommendation{"net.ipv4.tcp_max_tw_buckets", strconv.Itoa(2 * max),
			reason + "; raise it (never lower it)"})
	}

	if prev != nil && now.States[tcpinfo.CloseWait] > prev.States[tcpinfo.CloseWait] {
		out = append(out, Recommendation{Reason: fmt.Sprintf(
			"CLOSE_WAIT grew from %d to %d: no sysctl fixes this; the application is not closing sockets its peers closed",
			prev.States[tcpinfo.CloseWait], now.States[tcpinfo.CloseWait])})
	}

	if a, b, up := rising(func(s *tcpinfo.Snapshot) uint64 { return s.Counters.ListenOverflows }); up {
		why := fmt.Sprintf("ListenOverflows rose from %d to %d: accept queues are full", a, b)
		somaxconn, _ := strconv.Atoi(val["net.core.somaxconn"])
		capped, own := BacklogLimited(now.Listeners, somaxconn)
		for _, l := range own {
			out = append(out, Recommendation{Reason: fmt.Sprintf(
				"%s; port %d's accept queue is full at its own listen() backlog of %d (somaxconn %d does not limit it): raise the backlog in the application, or accept faster",
				why, l.Local.Port(), l.Backlog, somaxconn)})
		}
		// somaxconn helps only a listener it caps; with no full listener
		// seen (it emptied between polls), it may be any.
		if len(capped) > 0 || len(own) == 0 {
			for _, k := range []string{"net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog"} {
				if cur, err := strconv.Atoi(val[k]); err == nil {
					out = append(out, Recommendation{k, strconv.Itoa(2 * cur),
						why + fmt.Sprintf("; raises the cap on listen() backlogs from %d to %d: also raise the application's backlog, which it caps", cur, 2*cur)})
				}
			}
		}
	}
	return out
}

// BacklogLimited splits the full listeners into those whose backlog
// somaxconn caps (raising it helps them) and those whose own listen()
// backlog is below it (only the application can help them).
func BacklogLimited(listeners []tcpinfo.Listener, somaxconn int) (capped, own []tcpinfo.Listener) {
	for _, l := range listeners {
		switch {
		case !l.Full():
		case somaxconn > 0 && l.Backlog < somaxconn:
			own = append(own, l)
		default:
			capped = append(capped, l)
		}
	}
	return capped, own
}

func worstGroup(s *tcpinfo.Snapshot) (tcpinfo.PressureGroup, bool) {
	if len(s.PortPressure) == 0 {
		return tcpinfo.PressureGroup{}, false
	}
	return s.PortPressure[0], true // sorted by the ports connect() cannot take
}

// widerRange proposes LOW 65535 with LOW above every listening port below
// the current range (so connect() never takes a server's port), LOW even so
// that the ends differ in parity, and reports whether that is wider.
func widerRange(current string, listening []uint16) (string, bool) {
	curLo, curHi, err := sysctl.ParsePortRange(current)
	if err != nil {
		return "", false
	}
	lo := 1024
	for _, p := range listening {
		if int(p) < curLo && int(p) >= lo {
			lo = int(p) + 1
		}
	}
	lo += lo % 2
	// Worth a change only if at least a tenth wider.
	if (65535-lo+1)*10 < (curHi-curLo+1)*11 {
		return "", false
	}
	return fmt.Sprintf("%d 65535", lo), true
}

func rangeSize(r string) string {
	lo, hi, _ := sysctl.ParsePortRange(r)
	return humanize.Int(hi - lo + 1)
}
