package exportercmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/tcpdash/tcpdash/internal/cli"
	"github.com/tcpdash/tcpdash/internal/exporter"
	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// syncBuffer is a buffer the exporter writes to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestIntegrationExporter serves a namespace's metrics behind basic auth
// (exporter-toolkit's web config): the counts equal ss, a scrape without
// the password is refused, and SIGTERM's context ends it cleanly.
func TestIntegrationExporter(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("ss"), "ss (iproute2) is not installed")
	pop, err := loadgen.Build(loadgen.Spec{Established: 20, TimeWait: 150, Dests: 2, Ports: 1, Listeners: 2})
	must(t, err)
	defer pop.Close()

	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	must(t, err)
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	must(t, os.WriteFile(webConfig, []byte(fmt.Sprintf("basic_auth_users:\n  prom: %s\n", hash)), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"--listen", "127.0.0.1:0", "--web.config.file", webConfig}, io.Discard, &stderr)
	}()
	addr := listeningOn(t, &stderr)
	get := func(user, pass string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("", ""); code != http.StatusUnauthorized {
		t.Errorf("a scrape without credentials: %d, want 401", code)
	}
	code, body := get("prom", "s3cret")
	if code != http.StatusOK {
		t.Fatalf("scrape: %d\n%s", code, body)
	}
	out, err := exec.Command("ss", "-tanH", "state", "time-wait").Output()
	must(t, err)
	want := fmt.Sprintf(`tcpdash_sockets{state="time_wait"} %d`, strings.Count(string(out), "\n"))
	for _, w := range []string{"tcpdash_up 1", want, `tcpdash_sockets{state="new_syn_recv"} 0`, "tcpdash_port_pressure_max_ratio",
		"tcpdash_tcpext_listen_overflows_total", `tcpdash_listener_backlog{addr=`} {
		if !strings.Contains(body, w) {
			t.Errorf("metrics lack %q", w)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the exporter did not shut down")
	}
}

// TestIntegrationExporterManyNamespaces: --netns all over 200 mostly idle
// namespaces (one of them busy) stays within its budget: after the first
// scrape opens them, a scrape costs well under a second of CPU, none says
// tcpdash_up 0, and every namespace is exported.
func TestIntegrationExporterManyNamespaces(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	runtime.LockOSThread() // Pdeathsig follows the forking thread
	defer runtime.UnlockOSThread()
	const n = 200
	for range n {
		c := exec.Command("sleep", "300")
		c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
		must(t, c.Start())
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	// Namespaces share the host's established hash: every dump of an empty
	// one walks these 20,000 sockets too.
	pop, err := loadgen.Build(loadgen.Spec{Established: 50, TimeWait: 20000, Dests: 8, Ports: 1, Listeners: 1})
	must(t, err)
	defer pop.Close()

	// The exporter as runExporter builds it, every scrape collecting
	// (no shared collection in between, to measure each).
	cfg, err := cli.ParseExporterFlags([]string{"--netns", "all"}, io.Discard)
	must(t, err)
	opts, closeTargets, err := targets(cfg)
	must(t, err)
	defer closeTargets()
	opts.Timeout, opts.MinInterval = 10*time.Second, -1
	reg := prometheus.NewRegistry()
	reg.MustRegister(exporter.New(opts))
	cpu := func() time.Duration {
		var ru syscall.Rusage
		must(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	scrape := func() (map[string]float64, time.Duration) {
		before := cpu()
		mfs, err := reg.Gather()
		took := cpu() - before
		must(t, err)
		got := map[string]float64{}
		cookies := map[string]bool{}
		for _, mf := range mfs {
			if m := mf.GetMetric(); len(m) == 1 && m[0].GetGauge() != nil {
				got[mf.GetName()] = m[0].GetGauge().GetValue()
			}
			if mf.GetName() == "tcpdash_sockets" {
				for _, m := range mf.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "netns_cookie" {
							cookies[l.GetValue()] = true
						}
					}
				}
			}
		}
		// Each namespace is told apart by its cookie, which Linux never
		// gives to another.
		got["cookies"] = float64(len(cookies))
		return got, took
	}
	// Namespaces never dumped come in over the first scrapes, within a
	// budget each; every scrape answers, none says tcpdash_up 0.
	var warming time.Duration
	all := false
	for i := 0; i < 20 && !all; i++ {
		got, took := scrape()
		warming += took
		if got["tcpdash_up"] != 1 {
			t.Fatalf("warming scrape %d: tcpdash_up %v", i+1, got["tcpdash_up"])
		}
		all = got["tcpdash_namespaces"] >= n+1
	}
	if !all {
		t.Fatalf("after 20 scrapes, not every namespace is exported")
	}
	// Then each scrape, the namespaces idle, costs well under a second.
	var worst time.Duration
	for i := range 4 {
		got, took := scrape()
		worst = max(worst, took)
		if got["tcpdash_up"] != 1 || got["tcpdash_namespaces"] < n+1 || got["cookies"] != got["tcpdash_namespaces"] {
			t.Errorf("scrape %d: tcpdash_up %v, tcpdash_namespaces %v, distinct netns_cookie %v; want 1, at least %d, one cookie each",
				i+1, got["tcpdash_up"], got["tcpdash_namespaces"], got["cookies"], n+1)
		}
	}
	t.Logf("%d namespaces: opening and first dumping them cost %v of CPU over the first scrapes; then a scrape cost at most %v",
		n+1, warming.Round(time.Millisecond), worst.Round(time.Millisecond))
	if worst > time.Second {
		t.Errorf("a scrape of %d idle namespaces cost %v of CPU, want under 1s", n+1, worst)
	}
	// Between scrapes no thread is held in a namespace: a user who can
	// create namespaces cannot drive tcpdash toward Go's thread limit.
	status, err := os.ReadFile("/proc/self/status")
	must(t, err)
	threads := 0
	if m := regexp.MustCompile(`(?m)^Threads:\s+(\d+)`).FindSubmatch(status); m != nil {
		threads, _ = strconv.Atoi(string(m[1]))
	}
	if threads == 0 || threads > n/4 {
		t.Errorf("%d threads after scraping %d namespaces, want a few, none held per namespace", threads, n+1)
	}
}

// TestExporterBadWebConfig: a web config that cannot work is said in one
// line before the exporter listens or opens anything.
func TestExporterBadWebConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(path, []byte("tls_server_config:\n  cert_file: /nonexistent\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err := Run(context.Background(), []string{"--listen", "127.0.0.1:0", "--web.config.file", path}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--web.config.file") || strings.Contains(stderr.String(), "listening on") {
		t.Errorf("error %v, stderr %q: want the config refused before listening", err, stderr.String())
	}
}

// TestExporterVersion: tcpdash-exporter --version names the build as
// tcpdash --version does, and serves nothing.
func TestExporterVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-V", "version"} {
		var out bytes.Buffer
		if err := Run(context.Background(), []string{arg}, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "tcpdash ") {
			t.Errorf("%s: %v, %q", arg, err, out.String())
		}
	}
	if err := Run(context.Background(), []string{"--version", "--listen", ":1"}, io.Discard, io.Discard); err == nil {
		t.Error("--version with flags after it: want a usage error")
	}
}
