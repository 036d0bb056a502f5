package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationWatchOtherNamespaces builds two network namespaces inside
// the test's own: one reached by pid, one named (ip netns style) with no
// process left in it. --once --json --netns on each equals ss -tanH inside
// it, and tune set --netns changes that namespace's value only.
func TestIntegrationWatchOtherNamespaces(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("nsenter") && netns.HaveTool("ss"), "nsenter and ss (util-linux, iproute2) are needed")
	// Pdeathsig follows the forking thread, not the process: fork from
	// one thread that lives as long as the test, or a thread Go retires
	// (one that entered a namespace) takes the namespaces' holders along.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tcpload := filepath.Join(t.TempDir(), "tcpload")
	if out, err := exec.Command("go", "build", "-o", tcpload, "github.com/tcpdash/tcpdash/cmd/tcpload").CombinedOutput(); err != nil {
		t.Fatalf("go build tcpload: %v\n%s", err, out)
	}
	// /run is private to this test: named namespaces go in its own
	// /run/netns, which the host never sees.
	must(t, unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"))
	t.Cleanup(func() { unix.Unmount("/run", unix.MNT_DETACH) })
	must(t, os.MkdirAll("/run/netns", 0o755))

	// A: a process in a namespace of its own, reached by pid.
	holder := exec.Command("sleep", "120")
	holder.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	must(t, holder.Start())
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	pathA := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)

	// B: named, its last process gone; it lives on through the bind mount.
	maker := exec.Command("sleep", "120")
	maker.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	must(t, maker.Start())
	pathB := "/run/netns/loadtest"
	must(t, os.WriteFile(pathB, nil, 0o444))
	must(t, unix.Mount(fmt.Sprintf("/proc/%d/ns/net", maker.Process.Pid), pathB, "", unix.MS_BIND, ""))
	t.Cleanup(func() { unix.Unmount(pathB, unix.MNT_DETACH) })
	maker.Process.Kill()
	maker.Wait()

	// Populations: A holds sockets; B keeps only the TIME_WAIT of a
	// tcpload that has exited.
	populate := func(nsPath string, args ...string) *exec.Cmd {
		cmd := exec.Command("nsenter", append([]string{"--net=" + nsPath, tcpload}, args...)...)
		cmd.Env = append(os.Environ(), "TCPDASH_NETNS=command") // tcpload brings lo up
		return cmd
	}
	a := populate(pathA, "--established", "7", "--time-wait", "40", "--listeners", "2")
	aErr, _ := a.StderrPipe()
	must(t, a.Start())
	t.Cleanup(func() { a.Process.Signal(os.Interrupt); a.Wait() })
	waitLine(t, aErr, "holding the sockets")
	if out, err := populate(pathB, "--time-wait", "25", "--established", "3", "--", "true").CombinedOutput(); err != nil {
		t.Fatalf("tcpload in B: %v\n%s", err, out)
	}

	for _, tc := range []struct{ what, path, name string }{
		{fmt.Sprintf("pid:%d", holder.Process.Pid), pathA, fmt.Sprintf("pid %d (sleep)", holder.Process.Pid)},
		{"loadtest", pathB, "loadtest"},
		{pathB, pathB, "loadtest"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			out, _, err := runCLI(t, "--once", "--json", "--netns", tc.what)
			if err != nil {
				t.Fatal(err)
			}
			// The procfs source reads the namespace's own /proc/net/tcp,
			// not this process's (the test's namespace holds no socket).
			if procfs, _, err := runCLI(t, "--once", "--json", "--source", "procfs", "--netns", tc.what); err != nil {
				t.Fatal(err)
			} else {
				var p struct{ States map[string]int }
				must(t, json.Unmarshal([]byte(procfs), &p))
				for st, n := range ssStates(t, tc.path) {
					if p.States[st] != n {
						t.Errorf("--source procfs: %s: %d, ss -tanH inside says %d", st, p.States[st], n)
					}
				}
			}
			var snap struct {
				States   map[string]int
				Counters struct{ TW int }
				Netns    string
				Names    []string
			}
			must(t, json.Unmarshal([]byte(out), &snap))
			// The counters are the namespace's too (this test's own has no
			// TIME_WAIT at all). sockstat's tw also counts FIN_WAIT2
			// minisockets, and it is read a moment apart from the dump,
			// while B's three closed connections may still be closing.
			tw, closing := snap.States["TIME_WAIT"]+snap.States["FIN_WAIT2"], 3
			if snap.Counters.TW == 0 || snap.Counters.TW < tw-closing || snap.Counters.TW > tw+closing {
				t.Errorf("sockstat tw %d, TIME_WAIT+FIN_WAIT2 %d: the counters are not the namespace's", snap.Counters.TW, tw)
			}
			if !strings.HasPrefix(snap.Netns, "net:[") || len(snap.Names) == 0 || snap.Names[0] != tc.name {
				t.Errorf("netns %q, names %q; want %q first", snap.Netns, snap.Names, tc.name)
			}
			want := ssStates(t, tc.path)
			for st, n := range want {
				if snap.States[st] != n {
					t.Errorf("%s: %d, ss -tanH inside says %d", st, snap.States[st], n)
				}
			}
			if len(want) == 0 {
				t.Fatal("ss sees no sockets: the population is missing")
			}
			text, _, err := runCLI(t, "--once", "--netns", tc.what)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, "netns "+tc.name) {
				t.Errorf("--once text does not name the namespace %q:\n%.300s", tc.name, text)
			}
		})
	}

	// --netns all lists them all, the named one with no process included,
	// each as ss sees it inside.
	out, _, err := runCLI(t, "--once", "--json", "--netns", "all")
	if err != nil {
		t.Fatal(err)
	}
	var fleet struct {
		Namespaces []struct {
			Netns  string
			Names  []string
			States map[string]int
		}
	}
	must(t, json.Unmarshal([]byte(out), &fleet))
	paths := map[string]string{}
	for _, p := range []string{pathA, pathB, "/proc/self/ns/net"} {
		var st unix.Stat_t
		must(t, unix.Stat(p, &st))
		paths[fmt.Sprintf("net:[%d]", st.Ino)] = p
	}
	found := 0
	for _, ns := range fleet.Namespaces {
		p, ok := paths[ns.Netns]
		if !ok {
			continue
		}
		found++
		want := ssStates(t, p)
		for st, n := range want {
			if ns.States[st] != n {
				t.Errorf("all: %s %v: %s %d, ss -tanH inside says %d", ns.Netns, ns.Names, st, ns.States[st], n)
			}
		}
	}
	if found != 3 {
		t.Errorf("--netns all found %d of the 3 namespaces: %+v", found, fleet.Namespaces)
	}

	// tune set --netns changes that namespace only.
	fin := func(nsPath string) string {
		out, err := exec.Command("nsenter", "--net="+nsPath, "cat", "/proc/sys/net/ipv4/tcp_fin_timeout").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	own := fin("/proc/self/ns/net")
	state := t.TempDir()
	files := []string{"--state-file", filepath.Join(state, "b.json"), "--audit-log", filepath.Join(state, "a.log")}
	out, _, err = runCLI(t, append([]string{"tune", "set", "net.ipv4.tcp_fin_timeout=17", "--yes", "--netns", "loadtest"}, files...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "in network namespace loadtest net:[") {
		t.Errorf("the confirmation does not name the namespace:\n%s", out)
	}
	if fin(pathB) != "17" || fin(pathA) != "60" || fin("/proc/self/ns/net") != own {
		t.Fatalf("tcp_fin_timeout: B %s (want 17), A %s, own %s (want both unchanged)", fin(pathB), fin(pathA), fin("/proc/self/ns/net"))
	}
	if !strings.Contains(out, "undo with: tcpdash tune undo --netns loadtest\n") {
		t.Errorf("the undo hint lacks the --netns undo needs:\n%s", out)
	}
	// Another namespace's values never go to this host's /etc/sysctl.d:
	// persist refuses in one line and shows where they belong.
	conf := filepath.Join(state, "90-tcpdash.conf")
	_, _, err = runCLI(t, append([]string{"tune", "persist", "--yes", "--netns", "loadtest", "--file", conf}, files...)...)
	if err == nil || !strings.Contains(err.Error(), "not tcpdash's own network namespace") || !strings.Contains(err.Error(), `--sysctl net.ipv4.tcp_fin_timeout="17"`) {
		t.Errorf("persist --netns loadtest: %v; want a refusal showing the container spec", err)
	}
	if _, err := os.Stat(conf); !os.IsNotExist(err) {
		t.Errorf("persist wrote %s: %v", conf, err)
	}
	if _, _, err := runCLI(t, append([]string{"tune", "undo", "--yes", "--netns", "loadtest"}, files...)...); err != nil {
		t.Fatal(err)
	}
	if fin(pathB) != "60" {
		t.Errorf("after undo B's tcp_fin_timeout is %s", fin(pathB))
	}

	// The dashboard on every namespace: the Namespaces pane lists them,
	// busiest first; enter watches A with every pane, esc comes back.
	if netns.HaveTool("tmux") {
		bin := buildBinary(t)
		tm := newTmux(t)
		defer tm.run("kill-server")
		if out, err := tm.run("new-session", "-d", "-s", "e2e", "-x", "140", "-y", "40", bin, "--netns", "all",
			"--state-file", filepath.Join(state, "d.json"), "--audit-log", filepath.Join(state, "d.log")); err != nil {
			t.Fatalf("tmux: %v: %s", err, out)
		}
		tm.waitScreen("the Namespaces pane", `Namespaces · [0-9]+`, "loadtest", fmt.Sprintf(`pid %d \(sleep\)`, holder.Process.Pid))
		tm.run("send-keys", "-t", "e2e", "Enter")
		wantA := ssStates(t, pathA)
		tm.waitScreen("namespace A's histogram", "1 States", fmt.Sprintf(`│TIME_WAIT\s+%d\s`, wantA["TIME_WAIT"]),
			fmt.Sprintf(`│ESTABLISHED\s+%d\s`, wantA["ESTABLISHED"]), fmt.Sprintf(`netns pid %d \(sleep\)`, holder.Process.Pid))
		tm.run("send-keys", "-t", "e2e", "Escape")
		tm.waitScreen("the Namespaces pane again", `Namespaces · [0-9]+`)
		tm.run("send-keys", "-t", "e2e", "q")
	} else {
		netns.Require(t, false, "tmux is not installed")
	}

	// Bad values: one line, exit 1.
	for _, bad := range [][]string{{"--once", "--netns", "nosuch"}, {"--once", "--netns", "pid:999999999"},
		{"--once", "--netns", "pid:x"}, {"--once", "--netns", "container:0123456789ab"}, {"--once", "--netns", "/etc/hostname"},
		{"tune", "--netns", "all"}} {
		_, _, err := runCLI(t, bad...)
		if code := ExitCode(err, io.Discard); code != 1 || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: exit %d, %v; want 1 and one line", bad, code, err)
		}
	}
}

// ssStates counts ss -tanH's states inside a namespace, in tcpdash's names.
func ssStates(t *testing.T, nsPath string) map[string]int {
	t.Helper()
	out, err := exec.Command("nsenter", "--net="+nsPath, "ss", "-tanH").Output()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"ESTAB": "ESTABLISHED", "TIME-WAIT": "TIME_WAIT", "LISTEN": "LISTEN",
		"CLOSE-WAIT": "CLOSE_WAIT", "FIN-WAIT-2": "FIN_WAIT2", "FIN-WAIT-1": "FIN_WAIT1", "SYN-SENT": "SYN_SENT",
		"SYN-RECV": "SYN_RECV", "LAST-ACK": "LAST_ACK", "CLOSING": "CLOSING"}
	got := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			got[names[f[0]]]++
		}
	}
	return got
}

// waitLine reads r until a line contains s.
func waitLine(t *testing.T, r io.Reader, s string) {
	t.Helper()
	buf := make([]byte, 4096)
	var seen strings.Builder
	for !strings.Contains(seen.String(), s) {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %q: %v; got %q", s, err, seen.String())
		}
		seen.Write(buf[:n])
	}
}
