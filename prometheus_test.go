package main

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
	netns.Require(t, haveTool("prometheus") && haveTool("promtool"),
		"prometheus and promtool are not on PATH (.ci/run unpacks Debian's prometheus package)")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts.test.yml"}} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = "deploy/prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %v: %v\n%s", args, err, out)
		}
	}

	pop, err := loadgen.Build(loadgen.Spec{Established: 20, TimeWait: 120, Dests: 2, Ports: 1, Listeners: 1})
	must(t, err)
	defer pop.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	go runExporter(ctx, []string{"--listen", "127.0.0.1:0"}, io.Discard, &stderr)
	addrRE := regexp.MustCompile(`listening on (127\.0\.0\.1:[0-9]+)`)
	var exporterAddr string
	waitFor(t, "the exporter to listen", func() bool {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			exporterAddr = m[1]
		}
		return exporterAddr != ""
	})

	dir := t.TempDir()
	// The shipped rules, with their "for" durations dropped so that the
	// scenarios below fire them in seconds rather than minutes.
	rules, err := os.ReadFile("deploy/prometheus/alerts.yml")
	must(t, err)
	quick := filepath.Join(dir, "alerts.yml")
	must(t, os.WriteFile(quick, regexp.MustCompile(`(?m)^(\s+)for: \S+$`).ReplaceAll(rules, []byte("${1}for: 0s")), 0o600))
	config := filepath.Join(dir, "prometheus.yml")
	must(t, os.WriteFile(config, []byte(fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: tcpdash
    static_configs: [{targets: [%q]}]
`, quick, exporterAddr)), 0o600))
	promAddr := freeAddr(t)
	prom := exec.Command("prometheus", "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)
	prom.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var promLog syncBuffer
	prom.Stdout, prom.Stderr = &promLog, &promLog
	must(t, prom.Start())
	defer func() { prom.Process.Kill(); prom.Wait() }()

	query := func(q string) (status string, results int, first string) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
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
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, n, v := query(`tcpdash_up{job="tcpdash"}`); n == 1 && v == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never scraped the exporter:\n%s", promLog.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
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
			Targets []struct{ Expr string }
		}
	}
	b, err := os.ReadFile("deploy/grafana/tcpdash.json")
	must(t, err)
	must(t, json.Unmarshal(b, &dash))
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			q := strings.ReplaceAll(tg.Expr, "$instance", ".*")
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
	firing := func() map[string]bool {
		resp, err := http.Get("http://" + promAddr + "/api/v1/alerts")
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
	// The exhaustion forecast stops once the range is full, so each alert
	// need only have fired at some point.
	fired := map[string]bool{}
	deadline = time.Now().Add(60 * time.Second)
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

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
