package cli

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationFilter: --once --json --filter counts exactly the sockets
// ss lists for the same words, on netlink (the kernel running the program)
// and on /proc, and says which filter it is under.
func TestIntegrationFilter(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	// TIME_WAIT to 127.0.0.1-6 on 6379 and to 127.0.0.1-4 on 8080, and
	// established pairs besides: the filter keeps part of each.
	for _, spec := range []loadgen.Spec{
		{TimeWait: 60, Dests: 6, Ports: 1, BasePort: 6379},
		{TimeWait: 40, Established: 10, Dests: 4, Ports: 1, BasePort: 8080},
	} {
		pop, err := loadgen.Build(spec)
		if err != nil {
			t.Fatal(err)
		}
		defer pop.Close()
	}
	const expr = "state time-wait ( dport = :6379 or dport = :8080 ) and dst 127.0.0.0/30"
	out, err := exec.Command("ss", append([]string{"-tanH"}, strings.Fields(expr)...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Count(string(out), "\n")
	if want == 0 || want >= 100 {
		t.Fatalf("ss lists %d sockets: the population is not what the test needs", want)
	}
	for _, source := range []string{"netlink", "procfs"} {
		stdout, _, err := runCLI(t, "--once", "--json", "--source", source, "--filter", expr)
		if err != nil {
			t.Fatal(err)
		}
		var snap struct {
			Filter             string
			Total              int
			States             map[string]int
			TopRemoteEndpoints []struct{ Addr string } `json:"top_remote_endpoints"`
		}
		if err := json.Unmarshal([]byte(stdout), &snap); err != nil {
			t.Fatal(err)
		}
		if snap.Filter != expr || snap.Total != want || snap.States["TIME_WAIT"] != want || snap.States["ESTABLISHED"] != 0 {
			t.Errorf("%s: filter %q, total %d, states %v; ss lists %d", source, snap.Filter, snap.Total, snap.States, want)
		}
		for _, e := range snap.TopRemoteEndpoints {
			if !strings.HasPrefix(e.Addr, "127.0.0.") || e.Addr > "127.0.0.3" {
				t.Errorf("%s: endpoint %s is outside 127.0.0.0/30", source, e.Addr)
			}
		}
	}
	text, _, err := runCLI(t, "--once", "--filter", expr)
	if err != nil || !strings.Contains(text, "filter: "+expr) {
		t.Errorf("--once does not say the filter is on: %v\n%s", err, text)
	}
}

func TestFilterFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--once", "--filter", "dport = :htpp"}, `at ":htpp"`},
		{[]string{"record", "-o", "/tmp/x", "--filter", "state nosuch"}, "unknown state"},
		{[]string{"exporter", "--filter", "( dport = :80"}, "want ) to close"},
		{[]string{"--once", "--filter", "cgroup /no/such/cgroup/here"}, "cgroup"},
		{[]string{"--once", "--filter", "22"}, `say which end, as in "sport = :22 or dport = :22"`},
	} {
		_, _, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), "--filter: ") || strings.Contains(err.Error(), "\n") ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want one --filter line with %q", c.args, err, c.want)
		}
	}
}
