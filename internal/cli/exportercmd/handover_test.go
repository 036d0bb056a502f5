package exportercmd

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationTcpdashExporterHandsOver: `tcpdash exporter` runs the
// tcpdash-exporter installed beside it in its own place — the same pid,
// as a service manager that started tcpdash expects — which serves
// metrics and ends cleanly on SIGTERM; without one it says in one line
// what to install, and -h needs none.
func TestIntegrationTcpdashExporterHandsOver(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	dir := t.TempDir()
	for pkg, name := range map[string]string{"github.com/tcpdash/tcpdash": "tcpdash", "github.com/tcpdash/tcpdash/cmd/tcpdash-exporter": "tcpdash-exporter"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	cmd := exec.Command(filepath.Join(dir, "tcpdash"), "exporter", "--listen", "127.0.0.1:0", "--ebpf", "off")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := listeningOn(t, &stderr)
	exe, err := os.Readlink("/proc/" + itoa(cmd.Process.Pid) + "/exe")
	must(t, err)
	if filepath.Base(exe) != "tcpdash-exporter" {
		t.Errorf("pid %d runs %s, want tcpdash-exporter in tcpdash's place", cmd.Process.Pid, exe)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("tcpdash_up 1")) {
		t.Errorf("metrics lack tcpdash_up 1:\n%.400s", body)
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM: %v, want a clean exit\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the exporter did not end on SIGTERM")
	}

	// Alone, with nothing on PATH: one line and a hint, and -h still works.
	alone := t.TempDir()
	must(t, os.Rename(filepath.Join(dir, "tcpdash"), filepath.Join(alone, "tcpdash")))
	run := func(args ...string) (string, string, int) {
		c := exec.Command(filepath.Join(alone, "tcpdash"), args...)
		c.Env = []string{"PATH=" + t.TempDir()}
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		code := 0
		if x, ok := err.(*exec.ExitError); ok {
			code = x.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	_, errOut, code := run("exporter", "--listen", "127.0.0.1:0")
	if lines := strings.Split(strings.TrimSpace(errOut), "\n"); code != 1 || len(lines) != 2 ||
		!strings.Contains(lines[0], "tcpdash-exporter, which is neither in "+alone+" nor on PATH") || !strings.Contains(lines[1], "hint: install the tcpdash package") {
		t.Errorf("without tcpdash-exporter: exit %d, stderr:\n%s", code, errOut)
	}
	out, errOut, code := run("exporter", "-h")
	if code != 0 || !strings.Contains(out, "--web.config.file") || errOut != "" {
		t.Errorf("exporter -h without tcpdash-exporter: exit %d, stdout %.200q, stderr %q", code, out, errOut)
	}
	_, errOut, code = run("exporter", "--top", "0")
	if code != 2 || !strings.Contains(errOut, "--top 0: use a number from 1 to 1000") {
		t.Errorf("a bad flag without tcpdash-exporter: exit %d, stderr %q, want it refused as usage", code, errOut)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
