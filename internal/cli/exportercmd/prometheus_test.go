package exportercmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationPrometheus: the alert rules pass promtool's checks and
// unit tests; a real Prometheus server scrapes the exporter in a private
// namespace, its counts equal ss, and every query of the Grafana dashboard
// runs on the scraped data.
func TestIntegrationPrometheus(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("prometheus") && netns.HaveTool("promtool"),
		"prometheus and promtool are not on PATH (.ci/run unpacks Debian's prometheus package)")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts.test.yml"}} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = "../../../deploy/prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %v: %v\n%s", args, err, out)
		}
	}

	pop, err := loadgen.Build(loadgen.Spec{Established: 20, TimeWait: 120, Dests: 2, Ports: 1, Listeners: 1})
	must(t, err)
	defer pop.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exporterAddr := startExporter(ctx, t)
	// The shipped rules, with their "for" durations dropped so that the
	// scenarios below fire them in seconds rather than minutes.
	rules, err := os.ReadFile("../../../deploy/prometheus/alerts.yml")
	must(t, err)
	prom := startPrometheus(t, exporterAddr, regexp.MustCompile(`(?m)^(\s+)for: \S+$`).ReplaceAll(rules, []byte("${1}for: 0s")))
	query := prom.query
	// promtool finds nothing to say about the exposition.
	resp, err := http.Get("http://" + exporterAddr + "/metrics")
	must(t, err)
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = resp.Body
	if out, err := check.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	resp.Body.Close()
	out, err := exec.Command("ss", "-tanH", "state", "time-wait").Output()
	must(t, err)
	if _, _, v := query(`tcpdash_sockets{state="time_wait"}`); v != fmt.Sprint(strings.Count(string(out), "\n")) {
		t.Errorf("Prometheus has %s TIME_WAIT, ss lists %d", v, strings.Count(string(out), "\n"))
	}

	// Every query of the dashboard runs; the ones over data always present
	// return something.
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr, LegendFormat string }
		}
	}
	b, err := os.ReadFile("../../../deploy/grafana/tcpdash.json")
	must(t, err)
	must(t, json.Unmarshal(b, &dash))
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if tg.LegendFormat == "" {
				t.Errorf("panel %q: %s has no legendFormat (the legend would be whole label sets)", p.Title, tg.Expr)
			}
			q := strings.NewReplacer("$instance", ".*", "$netns", ".*").Replace(tg.Expr)
			status, n, _ := query(q)
			if status != "success" {
				t.Errorf("panel %q: %s: %s", p.Title, q, status)
			}
			if (strings.Contains(q, "tcpdash_sockets") || strings.Contains(q, "tcpdash_up") || strings.Contains(q, "max_ratio")) && n == 0 {
				t.Errorf("panel %q: %s returned nothing", p.Title, q)
			}
		}
	}

	// Scenarios for the alerts: a leaking process, connect() load into a
	// narrowed port range, and a server that never accepts.
	state := t.TempDir()
	if _, _, err := runCLI(t, "tune", "set", "net.ipv4.tcp_tw_reuse=0", "net.ipv4.ip_local_port_range=40000 40999", "--yes",
		"--state-file", filepath.Join(state, "b"), "--audit-log", filepath.Join(state, "a")); err != nil {
		t.Fatal(err)
	}
	leakTo := netip.MustParseAddrPort("127.0.0.7:5432")
	loadgen.Server(t, leakTo)
	loadgen.StartLeaker(t, "leaky-app", leakTo, 15)
	db := netip.MustParseAddrPort("127.0.0.5:3306")
	loadgen.ClosingServer(t, db)
	go loadgen.Churn(ctx, db, 100)
	loadgen.StuckServer(ctx, t, netip.MustParseAddrPort("127.0.0.9:8080"))
	firing := prom.firing
	// The exhaustion forecast stops once the range is full, so each alert
	// need only have fired at some point.
	fired := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		for name := range firing() {
			fired[name] = true
		}
		if fired["TcpdashPortExhaustionSoon"] && fired["TcpdashCloseWaitLeak"] && fired["TcpdashListenOverflow"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts fired: %v; want TcpdashPortExhaustionSoon, TcpdashCloseWaitLeak and TcpdashListenOverflow", fired)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestIntegrationExhaustionAlerts: in a real exhaustion — a client ramping
// into a narrowed port range and going on when connect() fails — a real
// Prometheus running the shipped rules, "for" durations included, fires
// TcpdashConnectFailing within two scrapes of the first failure and
// TcpdashPortExhaustionSoon once its for: 1m has passed, and both stay
// firing while the failure lasts.
func TestIntegrationExhaustionAlerts(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("prometheus"), "prometheus is not on PATH (.ci/run unpacks Debian's prometheus package)")
	state := t.TempDir()
	if _, _, err := runCLI(t, "tune", "set", "net.ipv4.tcp_tw_reuse=0", "net.ipv4.ip_local_port_range=40000 40199", "--yes",
		"--state-file", filepath.Join(state, "b"), "--audit-log", filepath.Join(state, "a")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rules, err := os.ReadFile("../../../deploy/prometheus/alerts.yml")
	must(t, err)
	prom := startPrometheus(t, startExporter(ctx, t), rules)
	netns.WaitFor(t, "Prometheus to scrape the exporter", func() bool {
		_, n, v := prom.query(`tcpdash_up{job="tcpdash"}`)
		return n == 1 && v == "1"
	})

	db := netip.MustParseAddrPort("127.0.0.5:3306")
	loadgen.ClosingServer(t, db)
	type result struct {
		first    time.Time
		failures int
		err      error
	}
	done := make(chan result, 1)
	loadCtx, stopLoad := context.WithTimeout(ctx, 110*time.Second)
	defer stopLoad()
	start := time.Now()
	go func() {
		first, n, err := loadgen.ChurnThrough(loadCtx, db, 80)
		done <- result{first, n, err}
	}()
	var failingAt, soonAt time.Time
	for time.Since(start) < 100*time.Second {
		now, alerts := time.Now(), prom.firing()
		if alerts["TcpdashConnectFailing"] && failingAt.IsZero() {
			failingAt = now
		}
		if alerts["TcpdashPortExhaustionSoon"] && soonAt.IsZero() {
			soonAt = now
		}
		if !soonAt.IsZero() {
			if !alerts["TcpdashConnectFailing"] || !alerts["TcpdashPortExhaustionSoon"] {
				t.Errorf("%s after the start, while connect() fails: firing %v, want both exhaustion alerts", now.Sub(start).Round(time.Second), alerts)
			}
			if now.Sub(soonAt) > 15*time.Second {
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	stopLoad()
	r := <-done
	if r.err != nil || r.failures == 0 {
		t.Fatalf("the load: %d connects failed, err %v: it never ran out of ports", r.failures, r.err)
	}
	t.Logf("first EADDRNOTAVAIL %v after the start (%d failures); TcpdashConnectFailing fired %v after it, TcpdashPortExhaustionSoon %v after it",
		r.first.Sub(start).Round(100*time.Millisecond), r.failures, failingAt.Sub(r.first).Round(100*time.Millisecond), soonAt.Sub(r.first).Round(100*time.Millisecond))
	// Two scrapes of a second each, the evaluation after them, and the
	// half second this loop polls at.
	if failingAt.IsZero() || failingAt.Sub(r.first) > 4*time.Second {
		t.Errorf("TcpdashConnectFailing fired %v after the first failure, want within two scrapes", failingAt.Sub(r.first))
	}
	if soonAt.IsZero() {
		t.Errorf("TcpdashPortExhaustionSoon never fired")
	}
}

// startExporter runs the exporter on a free loopback port until ctx ends.
func startExporter(ctx context.Context, t *testing.T) string {
	t.Helper()
	var stderr syncBuffer
	go Run(ctx, []string{"--listen", "127.0.0.1:0"}, io.Discard, &stderr)
	return listeningOn(t, &stderr)
}

// promServer is a real Prometheus server scraping one exporter every second.
type promServer struct{ addr string }

// startPrometheus starts Prometheus with rules, scraping and evaluating
// every second, until the test ends; it waits for the first scrape.
func startPrometheus(t *testing.T, exporterAddr string, rules []byte) promServer {
	t.Helper()
	dir := t.TempDir()
	ruleFile := filepath.Join(dir, "alerts.yml")
	must(t, os.WriteFile(ruleFile, rules, 0o600))
	config := filepath.Join(dir, "prometheus.yml")
	must(t, os.WriteFile(config, []byte(fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: tcpdash
    static_configs: [{targets: [%q]}]
`, ruleFile, exporterAddr)), 0o600))
	p := promServer{addr: freeAddr(t)}
	cmd := exec.Command("prometheus", "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+p.addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, n, v := p.query(`tcpdash_up{job="tcpdash"}`); n == 1 && v == "1" {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never scraped the exporter:\n%s", log.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// query runs an instant query: its status, how many series, the first value.
func (p promServer) query(q string) (status string, results int, first string) {
	resp, err := http.Get("http://" + p.addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return "unreachable", 0, ""
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&r)
	if r.Status != "success" {
		return r.Status + ": " + r.Error, 0, ""
	}
	if len(r.Data.Result) > 0 {
		first = fmt.Sprint(r.Data.Result[0].Value[1])
	}
	return r.Status, len(r.Data.Result), first
}

// firing is the set of alerts firing now.
func (p promServer) firing() map[string]bool {
	resp, err := http.Get("http://" + p.addr + "/api/v1/alerts")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string
				State  string
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&r)
	out := map[string]bool{}
	for _, a := range r.Data.Alerts {
		if a.State == "firing" {
			out[a.Labels["alertname"]] = true
		}
	}
	return out
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
