package summary

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/tcpdash/tcpdash/tcpinfo"
)

// Chart.js (MIT, assets/chart.js-LICENSE.md), embedded whole: the report
// opens with no network.
//
//go:embed assets/chart.umd.min.js
var chartJS string

//go:embed report.html.tmpl
var reportTmpl string

// page is what the template reads. Strings from the recording reach the
// page through html/template, which escapes them for where they land.
type page struct {
	S       *Summary
	Title   string
	Head    string
	ChartJS template.JS
	Data    chartData
}

// chartData is handed to the page's script as JSON. Times are seconds from
// the start; the axis labels them with clock times.
type chartData struct {
	Start    int64         `json:"start"`  // Unix milliseconds
	Offset   int           `json:"offset"` // the recording's UTC offset, seconds
	T        []float64     `json:"t"`
	States   []namedInts   `json:"states"`
	Pressure []namedFloats `json:"pressure"`
	Findings []findingRuns `json:"findings"`
	End      float64       `json:"end"`
	// Changes are the recorded sysctl changes, marked on the charts.
	Changes []sysctlMark `json:"changes"`
}

type namedInts struct {
	Name   string `json:"name"`
	Values []int  `json:"values"`
}

type namedFloats struct {
	Name   string     `json:"name"`
	Values []*float64 `json:"values"` // null where the destination was not listed
}

type findingRuns struct {
	Name     string       `json:"name"`
	Severity string       `json:"severity"`
	Runs     []findingRun `json:"runs"`
}

// findingRun is a stretch of one severity, as seconds from the start.
type findingRun struct {
	X        [2]float64 `json:"x"`
	Severity string     `json:"severity"`
}

// sysctlMark is one sysctl change on the charts.
type sysctlMark struct {
	At   float64 `json:"at"`
	Text string  `json:"text"`
}

// maxMarks bounds the changes marked: tcpdash changes a handful in a run.
const maxMarks = 200

// WriteHTML writes the report as one self-contained HTML page with charts:
// states over time, the worst destinations' port pressure over time, and a
// timeline of the findings.
func (s *Summary) WriteHTML(w io.Writer) error {
	t, err := template.New("report").Funcs(template.FuncMap{"mul100": func(f float64) float64 { return 100 * f }}).Parse(reportTmpl)
	if err != nil {
		return err
	}
	since := func(at time.Time) float64 { return at.Sub(s.Start).Seconds() }
	_, offset := s.Start.Zone()
	d := chartData{Start: s.Start.UnixMilli(), Offset: offset, End: since(s.End),
		States: []namedInts{}, Pressure: []namedFloats{}, Findings: []findingRuns{}}
	for _, at := range s.series.times {
		d.T = append(d.T, since(at))
	}
	for _, p := range s.States {
		st, _ := tcpinfo.ParseState(p.State)
		d.States = append(d.States, namedInts{p.State, s.series.states[st]})
	}
	for i, vals := range s.series.pressure {
		p := s.Pressure[i]
		nf := namedFloats{Name: p.Remote + " from " + p.LocalAddr}
		for _, v := range vals {
			if v < 0 {
				nf.Values = append(nf.Values, nil)
				continue
			}
			pct := 100 * float64(v)
			nf.Values = append(nf.Values, &pct)
		}
		d.Pressure = append(d.Pressure, nf)
	}
	for _, f := range s.Findings {
		name := f.Kind
		if f.Subject != "" {
			name += " " + f.Subject
		}
		fr := findingRuns{Name: name, Severity: f.Severity.String()}
		for _, r := range f.Stretches {
			// A run one snapshot long still shows: it lasts until the next.
			end := since(r.To) + max(float64(s.IntervalMS)/1000, 1)
			fr.Runs = append(fr.Runs, findingRun{[2]float64{since(r.From), end}, r.Severity.String()})
		}
		d.Findings = append(d.Findings, fr)
	}
	d.Changes = []sysctlMark{}
	for _, e := range s.Events {
		if e.Kind == "sysctl" && len(d.Changes) < maxMarks {
			d.Changes = append(d.Changes, sysctlMark{since(e.Time), e.Name + " " + e.Old + " → " + e.New})
		}
	}
	// html/template writes a value JSON cannot hold as a comment and
	// null, and every chart would fail to draw: refuse instead.
	if _, err := json.Marshal(d); err != nil {
		return fmt.Errorf("the report's chart data: %w", err)
	}
	return t.Execute(w, page{S: s, Title: "tcpdash report: " + s.Host + " " + s.Start.Format("2006-01-02 15:04"),
		Head: s.Head(), ChartJS: template.JS(chartJS), Data: d})
}

// Clock formats a time of the recording for the page's tables.
func (s *Summary) Clock(t time.Time) string { return s.when(t) }
