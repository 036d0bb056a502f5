package summary

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/internal/recording"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

func loadTape(t *testing.T) *recording.Tape {
	t.Helper()
	tape, err := recording.LoadFile("../../testdata/loadtest.rec")
	if err != nil {
		t.Fatal(err)
	}
	return tape
}

// TestOf: each state's peak is the largest count of it in the recording,
// at the first snapshot to reach it; the charts keep every peak.
func TestOf(t *testing.T) {
	tape := loadTape(t)
	s, err := Of(tape)
	if err != nil {
		t.Fatal(err)
	}
	if s.Snapshots != tape.Len() || !s.Start.Equal(tape.Time(0)) || !s.End.Equal(tape.Time(tape.Len()-1)) {
		t.Errorf("span %v to %v, %d snapshots", s.Start, s.End, s.Snapshots)
	}
	for _, p := range s.States {
		st, _ := tcpinfo.ParseState(p.State)
		peak, at := 0, time.Time{}
		for i := range tape.Len() {
			if n := tape.States(i)[st]; n > peak {
				peak, at = n, tape.Time(i)
			}
		}
		if p.Peak != peak || !p.At.Equal(at) {
			t.Errorf("%s: peak %d at %v, want %d at %v", p.State, p.Peak, p.At, peak, at)
		}
		series := s.series.states[st]
		if m := maxOf(series); m != peak {
			t.Errorf("%s chart peaks at %d, not %d", p.State, m, peak)
		}
	}
	if len(s.Pressure) == 0 || s.Pressure[0].Remote != "127.0.0.5:3306" || s.Pressure[0].Ratio != 1 {
		t.Errorf("worst destination %+v", s.Pressure)
	}
	if len(s.Findings) != 2 || s.Findings[0].Kind != "port_exhaustion" || s.Findings[1].Kind != "close_wait_leak" {
		t.Errorf("findings %+v", s.Findings)
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`TIME_WAIT +200 `, `127.0.0.5:3306 +127.0.0.1 +100.0%`, `critical +connect\(\) to 127.0.0.5:3306`} {
		if !regexp.MustCompile(want).MatchString(text.String()) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

// TestBucketsKeepPeaks: a recording longer than a chart holds is bucketed
// by maxima, so a one-snapshot spike still shows.
func TestBucketsKeepPeaks(t *testing.T) {
	s := summaryOf(t, recording.Header{}, 5000, func(i int) string {
		tw := 10
		if i == 3001 {
			tw = 9999
		}
		return `"states":{"TIME_WAIT":` + strconv.Itoa(tw) + `}`
	})
	series := s.series.states[tcpinfo.TimeWait]
	if len(series) > maxPoints || maxOf(series) != 9999 {
		t.Errorf("%d points peaking at %d", len(series), maxOf(series))
	}
}

// summaryOf records n snapshots a second apart, each the fields body(i)
// gives after its time, and sums them up.
func summaryOf(t *testing.T, h recording.Header, n int, body func(i int) string) *Summary {
	t.Helper()
	return summaryWithEvents(t, h, n, body, nil)
}

// summaryWithEvents is summaryOf with events: events[i] is recorded just
// before snapshot i.
func summaryWithEvents(t *testing.T, h recording.Header, n int, body func(i int) string, events map[int]recording.Event) *Summary {
	t.Helper()
	var buf bytes.Buffer
	h.Start, h.IntervalMS = time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC), 1000
	w, err := recording.NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		at := h.Start.Add(time.Duration(i) * time.Second)
		if e, ok := events[i]; ok {
			e.Time = at.Add(-time.Millisecond)
			if err := w.Event(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Snapshot(at, []byte(`{"time":"`+at.Format(time.RFC3339)+`",`+body(i)+`}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tape, err := recording.Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Of(tape)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func maxOf(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// chromium renders page in headless Chromium and returns the DOM after its
// scripts ran, and what the console said.
func chromium(t *testing.T, page []byte) (dom, console string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	netns.Require(t, err == nil, "chromium is not installed (Debian's chromium package)")
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=5000", "--dump-dom", "file://"+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	var lines []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "CONSOLE") {
			lines = append(lines, l)
		}
	}
	return stdout.String(), strings.Join(lines, "\n")
}

var canvas = regexp.MustCompile(`<canvas [^>]*id="(states|pressure|findings)"[^>]*>`)

// checkRendered fails unless all three charts drew and nothing went wrong.
func checkRendered(dom, console string) []string {
	var problems []string
	if !strings.Contains(dom, `data-charts="3"`) {
		problems = append(problems, "the charts did not all draw (no data-charts=3 on <body>)")
	}
	if strings.Contains(dom, `data-errors=`) {
		problems = append(problems, "the page reported a script error")
	}
	if n := len(canvas.FindAllString(dom, -1)); n != 3 {
		problems = append(problems, "canvases: "+strconv.Itoa(n))
	}
	if console != "" {
		problems = append(problems, "console: "+console)
	}
	return problems
}

// TestHTMLInChromium opens the report of a real load test in headless
// Chromium: the three charts draw, the console is silent, and nothing is
// fetched from the network. A page with a broken script fails the same
// checks, so they can fail.
func TestHTMLInChromium(t *testing.T) {
	s, err := Of(loadTape(t))
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := s.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if refs := regexp.MustCompile(`(src|href)="?(https?:)?//`).FindAllString(page.String(), -1); len(refs) > 0 {
		t.Errorf("the page fetches from the network: %q", refs)
	}
	dom, console := chromium(t, page.Bytes())
	if problems := checkRendered(dom, console); len(problems) > 0 {
		t.Errorf("report in Chromium: %q", problems)
	}
	for _, want := range []string{"127.0.0.5:3306", "leaky-app", "TIME_WAIT"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}

	broken := bytes.Replace(page.Bytes(), []byte(`type: "bar"`), []byte(`type: nosuchvariable`), 1)
	if dom, console := chromium(t, broken); len(checkRendered(dom, console)) == 0 {
		t.Error("a page whose findings chart throws passes the checks")
	}
}

// TestHTMLHostile: names from the recording are text on the page, never
// markup or script.
func TestHTMLHostile(t *testing.T) {
	evil := `</script><script>document.body.dataset.pwned=1</script><img src=x onerror=alert(1)>`
	s := summaryOf(t, recording.Header{Host: evil}, 3, func(int) string {
		return `"states":{"CLOSE_WAIT":12},"findings":[{"severity":"warning","kind":"close_wait_leak","subject":"x","title":"` +
			strings.ReplaceAll(evil, `"`, `\"`) + `"}]`
	})
	var page bytes.Buffer
	if err := s.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page.String(), "<img src=x") || strings.Count(page.String(), "</script>") != 3 {
		t.Errorf("a name from the recording became markup")
	}
	dom, console := chromium(t, page.Bytes())
	if strings.Contains(dom, "pwned") && strings.Contains(dom, `data-pwned`) || len(checkRendered(dom, console)) > 0 {
		t.Errorf("hostile names broke the page: %q", checkRendered(dom, console))
	}
}

// TestHugeRatioDraws: a recorded ratio of 1e308 is clamped where the
// snapshot is read, so the page's chart data stays finite and it draws.
func TestHugeRatioDraws(t *testing.T) {
	s := summaryOf(t, recording.Header{}, 3, func(int) string {
		return `"states":{"TIME_WAIT":12},"port_pressure":[{"local_addr":"10.0.0.9","remote_addr":"10.0.0.5","remote_port":3306,"used":12,"time_wait":12,"capacity":100,"ratio":1e308}]`
	})
	var page bytes.Buffer
	if err := s.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page.String(), "unsupported value") || !strings.Contains(page.String(), "10000") {
		t.Errorf("the chart data is not the clamped ratio (100 = 10000%%)")
	}
}

// TestWorstIsTheWorst: a finding is reported at its worst moment — the
// highest severity, then the highest rank (out of ports over a forecast,
// the peak CLOSE_WAIT count) — with when it was which severity; sysctl
// changes are marked on the charts, which still draw in Chromium.
func TestWorstIsTheWorst(t *testing.T) {
	type f struct {
		sev, title string
		rank       float64
	}
	script := []f{
		{"warning", "connect() to 10.0.0.5:3306 from 10.0.0.9 uses 75% of its 28,232 ports", 0.75},
		{"critical", "connect() to 10.0.0.5:3306 from 10.0.0.9 will start failing with EADDRNOTAVAIL in about 50 s", 1.2},
		{"critical", "connect() to 10.0.0.5:3306 from 10.0.0.9 is failing now with EADDRNOTAVAIL: 28,232 of its 28,232 ports are in use", 2},
		{"critical", "connect() to 10.0.0.5:3306 from 10.0.0.9 will start failing with EADDRNOTAVAIL in about 5 s", 1.8},
	}
	h := recording.Header{Host: "vm", Start: time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)}
	s := summaryWithEvents(t, h, len(script), func(i int) string {
		x := script[i]
		return fmt.Sprintf(`"states":{"TIME_WAIT":%d},"findings":[{"severity":%q,"kind":"port_exhaustion","subject":"10.0.0.5:3306 from 10.0.0.9","title":%q,"rank":%g}]`,
			1000*(i+1), x.sev, x.title, x.rank)
	}, map[int]recording.Event{2: {Kind: "sysctl", Name: "net.ipv4.tcp_tw_reuse", Old: "2", New: "1"}})
	if len(s.Findings) != 1 {
		t.Fatalf("findings: %+v", s.Findings)
	}
	fs := s.Findings[0]
	if fs.Title != script[2].title || !fs.WorstAt.Equal(h.Start.Add(2*time.Second)) {
		t.Errorf("worst: %q at %v, want the failure at 14:00:02", fs.Title, fs.WorstAt)
	}
	if len(fs.Stretches) != 2 || fs.Stretches[0].Severity.String() != "warning" || fs.Stretches[1].Severity.String() != "critical" {
		t.Errorf("stretches %+v, want a warning then a critical one", fs.Stretches)
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"is failing now", "at its worst at 14:00:02", "warning from 14:00:00, critical from 14:00:01"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text lacks %q:\n%s", want, text.String())
		}
	}
	var page bytes.Buffer
	if err := s.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `"changes":[{"at":1.999,"text":"net.ipv4.tcp_tw_reuse 2 → 1"}]`) ||
		!strings.Contains(page.String(), `"severity":"warning"}`) {
		t.Errorf("the chart data lacks the change mark or the per-stretch severity")
	}
	dom, console := chromium(t, page.Bytes())
	if problems := checkRendered(dom, console); len(problems) > 0 {
		t.Errorf("report in Chromium: %q", problems)
	}
}

// TestFollowsBoundedGroups: a recording naming ever new destinations and
// findings costs the report at most maxFollowed of each; the rest is
// counted and said.
func TestFollowsBoundedGroups(t *testing.T) {
	const n = maxFollowed/20 + 10 // snapshots of 20 new groups and findings each
	s := summaryOf(t, recording.Header{}, n, func(i int) string {
		var groups, findings []string
		for j := range 20 {
			g := i*20 + j
			groups = append(groups, fmt.Sprintf(`{"local_addr":"10.0.0.9","remote_addr":"10.%d.%d.%d","remote_port":80,"used":1,"time_wait":1,"capacity":100,"ratio":0.01}`, g>>16, g>>8&255, g&255))
			findings = append(findings, fmt.Sprintf(`{"severity":"warning","kind":"k","subject":"s%d","title":"t"}`, g))
		}
		return `"port_pressure":[` + strings.Join(groups, ",") + `],"findings":[` + strings.Join(findings, ",") + `]`
	})
	if len(s.Pressure) != maxFollowed || len(s.Findings) != maxFollowed || s.LeftOut == nil ||
		s.LeftOut.PortPressureRows != n*20-maxFollowed || s.LeftOut.FindingRows != n*20-maxFollowed {
		t.Fatalf("%d groups, %d findings, left out %+v; want %d each and the rest counted", len(s.Pressure), len(s.Findings), s.LeftOut, maxFollowed)
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "200 rows of destination groups first seen after 10,000 others") {
		t.Errorf("the report does not say what it left out:\n%.300s", text.String())
	}
}

// TestHealthAndConntrack: a recording made with --health in a namespace
// that tracks connections reports each destination at its most
// retransmitting, the table at its fullest, and what it dropped.
func TestHealthAndConntrack(t *testing.T) {
	s := summaryOf(t, recording.Header{IntervalMS: 1000}, 5, func(i int) string {
		return fmt.Sprintf(`"health":[{"addr":"10.77.0.2","port":3306,"sockets":8,"rtt_ms":{"p50":1,"p99":%d,"min":0.3},"retrans_pct":0,"retrans_total":%d,"segs_out":1000,"lost":0,"unacked":0,"delivery_rate":0}],`+
			`"conntrack":{"count":%d,"max":100,"found":0,"invalid":0,"insert":0,"insert_failed":0,"drop":%d,"early_drop":0,"error":0,"search_restart":0}`,
			10*(i+1), []int{0, 10, 41, 20, 5}[i], 60+10*i, 3*i)
	})
	if len(s.Health) != 1 || s.Health[0].RetransPct != 4.1 || s.Health[0].RTTP99MS != 30 {
		t.Errorf("health %+v, want 10.77.0.2:3306 at 4.1%%, RTT p99 30 ms", s.Health)
	}
	if c := s.Conntrack; c == nil || c.Count != 100 || c.Max != 100 || c.Dropped != 12 {
		t.Errorf("conntrack %+v, want 100 of 100 and 12 dropped", c)
	}
	var b strings.Builder
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{"10.77.0.2:3306  4.1%", "conntrack: at most 100 of 100 entries", "12 new connections dropped"} {
		if !strings.Contains(text, want) {
			t.Errorf("the text lacks %q:\n%s", want, text)
		}
	}
}
