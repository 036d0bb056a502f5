// Package summary is the load-test report drawn from a recording: the
// peak of each state and when, each destination's worst port pressure and
// when, each finding's first and last time, and the counters' totals. It
// writes it as text, as JSON and as one self-contained HTML page with
// charts.
package summary

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/recording"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// The JSON shapes are a contract scripts depend on: keep the names.
type (
	// Summary is the report on one recording.
	Summary struct {
		Host   string `json:"host,omitempty"`
		Kernel string `json:"kernel,omitempty"`
		Netns  string `json:"netns,omitempty"`
		Filter string `json:"filter,omitempty"`
		// Tcpdash is the build that recorded it (version+commit).
		Tcpdash   string    `json:"tcpdash,omitempty"`
		Start     time.Time `json:"start"`
		End       time.Time `json:"end"`
		Snapshots int       `json:"snapshots"`
		// IntervalMS is the interval asked for; 0 for a --json log.
		IntervalMS int64 `json:"interval_ms,omitempty"`
		// Truncated says the file ended inside a line or gzip member.
		Truncated bool `json:"truncated"`
		// States holds every state that was ever non-zero, kernel order.
		States []StatePeak `json:"states"`
		// Pressure is each destination group's worst moment, worst first.
		Pressure []PressurePeak `json:"port_pressure"`
		// Health is each destination's worst moment for retransmits, in
		// recordings made with --health, worst first.
		Health []HealthPeak `json:"health,omitempty"`
		// Conntrack is the table at its fullest and what it dropped, in
		// recordings of a namespace that tracks connections.
		Conntrack *ConntrackPeak `json:"conntrack,omitempty"`
		// Findings are in order of first appearance.
		Findings []FindingSpan `json:"findings"`
		// Counters are how much each kernel counter rose.
		Counters []CounterTotal    `json:"counters"`
		Events   []recording.Event `json:"events"`
		// LeftOut counts, per table, the rows of the recording the report
		// does not follow: those of destination groups and findings first
		// seen after maxFollowed others. A recording is a file from
		// outside; what a report keeps of it is bounded.
		LeftOut *LeftOut `json:"left_out,omitempty"`

		series series
	}
	// StatePeak is one state's peak and when it was first reached.
	StatePeak struct {
		State string    `json:"state"`
		Peak  int       `json:"peak"`
		At    time.Time `json:"at"`
		// First and Last are the counts in the first and last snapshot.
		First int `json:"first"`
		Last  int `json:"last"`
	}
	// PressurePeak is a destination group at its fullest.
	PressurePeak struct {
		LocalAddr  string    `json:"local_addr"`
		Remote     string    `json:"remote"` // addr:port
		Ratio      float64   `json:"ratio"`
		Used       int       `json:"used"`
		Capacity   int       `json:"capacity"`
		At         time.Time `json:"at"`
		Opener     string    `json:"opener,omitempty"`
		TimeWait   int       `json:"time_wait"`
		Appearance int       `json:"snapshots"` // how many snapshots list it
		// PeakClosesPerS is its highest rate of closed connections, from
		// the destroy notifications (recordings that have them).
		PeakClosesPerS float64 `json:"peak_closes_per_s,omitempty"`
	}
	// HealthPeak is a destination at its most retransmitting.
	HealthPeak struct {
		Remote     string    `json:"remote"`
		RetransPct float64   `json:"retrans_pct"`
		RTTP99MS   float64   `json:"rtt_p99_ms"`
		At         time.Time `json:"at"`
	}
	// ConntrackPeak is the conntrack table at its fullest, and the new
	// connections it dropped over the recording.
	ConntrackPeak struct {
		Count   uint64    `json:"count"`
		Max     uint64    `json:"max"`
		At      time.Time `json:"at"`
		Dropped uint64    `json:"dropped"`
	}
	// FindingSpan is one finding over the recording.
	FindingSpan struct {
		Kind    string `json:"kind"`
		Subject string `json:"subject,omitempty"`
		// Severity is the worst it reached, Title its title at its worst:
		// the highest severity, and within it the highest rank (out of
		// ports over a forecast, the most CLOSE_WAIT sockets), at WorstAt.
		Severity  diagnose.Severity `json:"severity"`
		Title     string            `json:"title"`
		WorstAt   time.Time         `json:"worst_at"`
		First     time.Time         `json:"first"`
		Last      time.Time         `json:"last"`
		Snapshots int               `json:"snapshots"`
		// Stretches are where it was present, split where its severity
		// changed: the report says when it was a warning and when critical.
		Stretches []Stretch `json:"stretches"`
		// Runs are the stretches it was present, for the timeline.
		Runs [][2]time.Time `json:"-"`

		rank float64
	}
	// A Stretch is a span of snapshots a finding was present in at one
	// severity.
	Stretch struct {
		From     time.Time         `json:"from"`
		To       time.Time         `json:"to"`
		Severity diagnose.Severity `json:"severity"`
	}
	// LeftOut is what a report did not follow.
	LeftOut struct {
		PortPressureRows int `json:"port_pressure_rows,omitempty"`
		FindingRows      int `json:"finding_rows,omitempty"`
	}
	// CounterTotal is how much a kernel counter rose over the recording.
	CounterTotal struct {
		Name  string `json:"name"`
		Total uint64 `json:"total"`
	}
)

// series are the charts' data, at most maxPoints points each.
type series struct {
	times    []time.Time
	states   map[tcpinfo.State][]int
	pressure [][]float32 // per worst destination (Pressure order), -1 where unlisted
}

// maxFollowed bounds the destination groups and the findings a report
// follows: a long load test sees some hundreds of each.
const maxFollowed = 10_000

// maxPoints bounds a chart: longer recordings are bucketed, keeping each
// bucket's maximum so that no peak is lost.
const maxPoints = 1500

// counterValues reads the counters that only rise (tcpinfo's one list):
// their totals are the sum of their rises (a counter that goes back, a
// namespace made anew, adds nothing for that step).
func counterValues(defs []tcpinfo.CounterDef, c tcpinfo.Counters) []uint64 {
	out := make([]uint64, len(defs))
	for i, d := range defs {
		out[i] = d.Value(c)
	}
	return out
}

// Of reads every snapshot of t and sums it up.
func Of(t *recording.Tape) (*Summary, error) {
	n := t.Len()
	s := &Summary{Start: t.Time(0), End: t.Time(n - 1), Snapshots: n, Truncated: t.Truncated, Events: t.Events}
	if h := t.Header; h != nil {
		s.Host, s.Kernel, s.Netns, s.IntervalMS, s.Filter = h.Host, h.Kernel, h.Netns, h.IntervalMS, h.Filter
		s.Tcpdash = h.Tcpdash
	}
	if s.Events == nil {
		s.Events = []recording.Event{}
	}

	// States: from the index, no decoding.
	first, last := t.States(0), t.States(n-1)
	for _, st := range tcpinfo.AllStates() {
		peak, at := 0, time.Time{}
		for i := range n {
			if c := t.States(i)[st]; c > peak {
				peak, at = c, t.Time(i)
			}
		}
		if peak > 0 {
			s.States = append(s.States, StatePeak{st.String(), peak, at, first[st], last[st]})
		}
	}

	// Pressure and counters: two fields of each snapshot. Each group's
	// ratio is kept as a bucket's maximum, as the charts draw it: memory
	// grows with the groups and the chart's points, not the snapshots.
	step := max((n+maxPoints-1)/maxPoints, 1)
	buckets := (n + step - 1) / step
	type groupKey struct{ local, remote string }
	worst := map[groupKey]*PressurePeak{}
	ratios := map[groupKey][]float32{}
	var left LeftOut
	defs := tcpinfo.RisingCounters()
	totals := make([]uint64, len(defs))
	var prev []uint64
	health := map[string]HealthPeak{}
	var ct *ConntrackPeak
	var lastCt *tcpinfo.Conntrack
	for i := range n {
		snap, err := t.Partial(i, "port_pressure", "counters", "health", "conntrack")
		if err != nil {
			return nil, err
		}
		for _, g := range snap.PortPressure {
			k := groupKey{g.Local.String(), g.Remote.String()}
			r := ratios[k]
			if r == nil && len(ratios) == maxFollowed {
				left.PortPressureRows++
				continue
			}
			if r == nil {
				r = make([]float32, buckets)
				for b := range r {
					r[b] = -1
				}
				ratios[k] = r
			}
			r[i/step] = max(r[i/step], float32(g.Ratio))
			w := worst[k]
			if w == nil {
				w = &PressurePeak{LocalAddr: k.local, Remote: k.remote, Ratio: -1}
				worst[k] = w
			}
			w.Appearance++
			w.PeakClosesPerS = max(w.PeakClosesPerS, g.ClosesPerS)
			if g.Ratio > w.Ratio {
				w.Ratio, w.Used, w.Capacity, w.At, w.TimeWait = g.Ratio, g.Used, g.Capacity, snap.Time, g.TimeWait
				switch {
				case g.OpenerSockets == 0:
					w.Opener = ""
				case g.Opener.PID > 0:
					w.Opener = fmt.Sprintf("pid %d (%s)", g.Opener.PID, g.Opener.Command)
				case g.OpenerCgroupName != "":
					w.Opener = "cgroup " + g.OpenerCgroupName
				}
			}
		}
		for _, h := range snap.Health {
			k := h.Remote.String()
			w, ok := health[k]
			if !ok && len(health) == maxFollowed {
				continue
			}
			if !ok || h.RetransPct() > w.RetransPct {
				health[k] = HealthPeak{Remote: k, RetransPct: h.RetransPct(), RTTP99MS: float64(h.RTTP99.Microseconds()) / 1000, At: snap.Time}
			}
		}
		if c := snap.Conntrack; c != nil {
			if ct == nil {
				ct = &ConntrackPeak{Count: c.Count, Max: c.Max, At: snap.Time}
			} else if c.Count > ct.Count {
				ct.Count, ct.Max, ct.At = c.Count, c.Max, snap.Time
			}
			if lastCt != nil {
				ct.Dropped += c.Drop - min(c.Drop, lastCt.Drop) + c.InsertFailed - min(c.InsertFailed, lastCt.InsertFailed)
			}
			lastCt = c
		}
		cur := counterValues(defs, snap.Counters)
		for j := range prev {
			if cur[j] > prev[j] {
				totals[j] += cur[j] - prev[j]
			}
		}
		prev = cur
	}
	for _, w := range worst {
		s.Pressure = append(s.Pressure, *w)
	}
	slices.SortFunc(s.Pressure, func(a, b PressurePeak) int {
		return cmp.Or(cmp.Compare(b.Ratio, a.Ratio), a.At.Compare(b.At), cmp.Compare(a.Remote, b.Remote), cmp.Compare(a.LocalAddr, b.LocalAddr))
	})
	for j, d := range defs {
		s.Counters = append(s.Counters, CounterTotal{d.Name, totals[j]})
	}
	for _, h := range health {
		if h.RetransPct > 0 {
			s.Health = append(s.Health, h)
		}
	}
	slices.SortFunc(s.Health, func(a, b HealthPeak) int {
		return cmp.Or(cmp.Compare(b.RetransPct, a.RetransPct), cmp.Compare(a.Remote, b.Remote))
	})
	s.Conntrack = ct

	// Findings: followed by their identity.
	spans := map[string]*FindingSpan{}
	var order []string
	seenBefore := map[string]bool{}
	for i := range n {
		seen := map[string]bool{}
		for _, f := range t.Heads(i) {
			id := f.ID()
			if seen[id] {
				continue
			}
			seen[id] = true
			sp := spans[id]
			if sp == nil && len(spans) == maxFollowed {
				left.FindingRows++
				continue
			}
			if sp == nil {
				sp = &FindingSpan{Kind: f.Kind, Subject: f.Subject, Severity: f.Severity, Title: f.Title, First: t.Time(i),
					WorstAt: t.Time(i), rank: f.Rank}
				spans[id] = sp
				order = append(order, id)
			}
			if f.Severity > sp.Severity || f.Severity == sp.Severity && f.Rank > sp.rank {
				sp.Severity, sp.Title, sp.rank, sp.WorstAt = f.Severity, f.Title, f.Rank, t.Time(i)
			}
			sp.Last = t.Time(i)
			sp.Snapshots++
			if seenBefore[id] {
				sp.Runs[len(sp.Runs)-1][1] = t.Time(i)
			} else {
				sp.Runs = append(sp.Runs, [2]time.Time{t.Time(i), t.Time(i)})
			}
			if n := len(sp.Stretches); seenBefore[id] && sp.Stretches[n-1].Severity == f.Severity {
				sp.Stretches[n-1].To = t.Time(i)
			} else {
				sp.Stretches = append(sp.Stretches, Stretch{t.Time(i), t.Time(i), f.Severity})
			}
		}
		seenBefore = seen
	}
	s.Findings = []FindingSpan{}
	for _, id := range order {
		s.Findings = append(s.Findings, *spans[id])
	}
	if s.States == nil {
		s.States = []StatePeak{}
	}
	if s.Pressure == nil {
		s.Pressure = []PressurePeak{}
	}

	// The charts' series, bucketed.
	s.series.states = map[tcpinfo.State][]int{}
	top := s.Pressure[:min(len(s.Pressure), 5)]
	s.series.pressure = make([][]float32, len(top))
	for from := 0; from < n; from += step {
		to := min(from+step, n)
		s.series.times = append(s.series.times, t.Time(from))
		for _, sp := range s.States {
			st, _ := tcpinfo.ParseState(sp.State)
			m := 0
			for i := from; i < to; i++ {
				m = max(m, t.States(i)[st])
			}
			s.series.states[st] = append(s.series.states[st], m)
		}
		for d, p := range top {
			s.series.pressure[d] = append(s.series.pressure[d], ratios[groupKey{p.LocalAddr, p.Remote}][from/step])
		}
	}
	if left != (LeftOut{}) {
		s.LeftOut = &left
	}
	return s, nil
}
