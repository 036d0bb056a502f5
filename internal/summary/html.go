package summary

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strconv"
	"time"

	"github.com/tcpdash/tcpdash/tcpinfo"
)

// Chart.js (MIT, assets/chart.js-LICENSE.md), embedded whole: the report
// opens with no network.
//
//go:embed assets/chart.umd.min.js
var chartJS string

// The page's style and scripts are ours and constant; only the values
// written between them come from the recording.
//
//go:embed assets/report.css
var reportCSS string

//go:embed assets/errors.js
var errorsJS string

//go:embed assets/report.js
var reportJS string

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
	// JSON cannot hold a NaN or an infinity, and every chart would fail
	// to draw: refuse instead. json.Marshal escapes <, >, & and the line
	// separators JavaScript reads as line ends, so the data stays one
	// literal inside the script, whatever the recording's strings hold.
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("the report's chart data: %w", err)
	}
	p := &htmlPage{}
	s.writeBody(p, "tcpdash report: "+s.Host+" "+s.Start.Format("2006-01-02 15:04"))
	p.raw("<script>\n", errorsJS, "</script>\n<script>", chartJS, "</script>\n<script>\n(function () {\n  const d = ")
	p.b = append(p.b, data...)
	p.raw(";\n", reportJS, "</script>\n</body>\n</html>\n")
	_, err = w.Write(p.b)
	return err
}

// writeBody writes the page to its scripts: every string from the
// recording goes through text, which escapes it for an element's text or
// a quoted attribute, the only places the page puts one.
func (s *Summary) writeBody(p *htmlPage, title string) {
	p.raw(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tcpdash">
<title>`)
	p.text(title)
	p.raw("</title>\n<style>\n", reportCSS, "</style>\n</head>\n<body>\n<h1>tcpdash load-test report</h1>\n<p class=\"head\">")
	p.text(s.Head())
	p.raw(`</p>
<pre id="errors"></pre>

<h2>States over time</h2>
<div class="chart"><canvas id="states" aria-label="TCP sockets per state over time"></canvas></div>
<table>
<tr><th>State</th><th>Peak</th><th>At</th><th>First</th><th>Last</th></tr>
`)
	for _, r := range s.States {
		p.row(cell(r.State), num(r.Peak), cell(s.Clock(r.At)), num(r.First), num(r.Last))
	}
	if len(s.States) == 0 {
		p.raw(`<tr><td colspan="5">no sockets in any snapshot</td></tr>` + "\n")
	}
	p.raw(`</table>

<h2>Port pressure: the worst destinations</h2>
<p>How full each (source, destination) pair's share of the ephemeral port range was: connect() fails with EADDRNOTAVAIL at 100%.</p>
<div class="chart"><canvas id="pressure" aria-label="Port pressure of the worst destinations over time"></canvas></div>
<table>
<tr><th>Destination</th><th>From</th><th>Worst</th><th>Used / capacity</th><th>TIME_WAIT</th><th>At</th><th>Closes/s, peak</th><th>Opener</th></tr>
`)
	for _, r := range s.Pressure {
		closes := "-"
		if r.PeakClosesPerS != 0 {
			closes = fmt.Sprintf("%.1f", r.PeakClosesPerS)
		}
		p.row(cell(r.Remote), cell(r.LocalAddr), numCell(fmt.Sprintf("%.1f%%", 100*r.Ratio)),
			numCell(fmt.Sprintf("%d / %d", r.Used, r.Capacity)), num(r.TimeWait), cell(s.Clock(r.At)), numCell(closes), cell(r.Opener))
	}
	if len(s.Pressure) == 0 {
		p.raw(`<tr><td colspan="7">no destination used ephemeral ports</td></tr>` + "\n")
	}
	p.raw(`</table>

<h2>Findings</h2>
<div class="chart" id="findings-box"><canvas id="findings" aria-label="Findings over time"></canvas></div>
<table>
<tr><th>First</th><th>Last</th><th>Severity</th><th>Finding (at its worst)</th></tr>
`)
	for _, f := range s.Findings {
		sev := f.Severity.String()
		p.row(cell(s.Clock(f.First)), cell(s.Clock(f.Last)), tdCell{class: sev, text: sev}, cell(f.Title))
	}
	if len(s.Findings) == 0 {
		p.raw(`<tr><td colspan="4">none</td></tr>` + "\n")
	}
	p.raw("</table>\n\n<h2>Counters over the recording</h2>\n<table>\n")
	for _, c := range s.Counters {
		p.row(cell(c.Name), numCell("+"+strconv.FormatUint(c.Total, 10)))
	}
	p.raw("</table>\n")
	if len(s.Events) > 0 {
		p.raw("\n<h2>Sysctl changes</h2>\n<table>\n<tr><th>At</th><th>Sysctl</th><th>Old</th><th>New</th></tr>\n")
		for _, e := range s.Events {
			p.row(cell(s.Clock(e.Time)), cell(e.Name), cell(e.Old), cell(e.New))
		}
		p.raw("</table>\n")
	}
	p.raw("<footer>Made by tcpdash replay --html. Charts: Chart.js (MIT), embedded.</footer>\n\n")
}

// htmlPage is the page as it is written. It is built here rather than by
// html/template, whose package initialisation every start of the binary
// paid for (a millisecond; docs/performance.md), for a page that puts
// outside strings in one context only: text, and double-quoted
// attributes. A string put anywhere else (a URL, a script, a style) would
// need escaping of its own, which text does not give.
type htmlPage struct{ b []byte }

// raw writes our own markup.
func (p *htmlPage) raw(ss ...string) {
	for _, s := range ss {
		p.b = append(p.b, s...)
	}
}

// text writes a string from outside as text: every character markup
// could read is escaped (html.EscapeString: <, >, &, ' and ").
func (p *htmlPage) text(s string) { p.b = append(p.b, html.EscapeString(s)...) }

// A tdCell is one cell of a table row: class, if any, is ours.
type tdCell struct{ class, text string }

func cell(s string) tdCell    { return tdCell{text: s} }
func numCell(s string) tdCell { return tdCell{class: "n", text: s} }
func num(n int) tdCell        { return numCell(strconv.Itoa(n)) }

// row writes a table row of cells.
func (p *htmlPage) row(cells ...tdCell) {
	p.raw("<tr>")
	for _, c := range cells {
		if c.class != "" {
			p.raw(`<td class="`)
			p.text(c.class)
			p.raw(`">`)
		} else {
			p.raw("<td>")
		}
		p.text(c.text)
		p.raw("</td>")
	}
	p.raw("</tr>\n")
}

// Clock formats a time of the recording for the page's tables.
func (s *Summary) Clock(t time.Time) string { return s.when(t) }
