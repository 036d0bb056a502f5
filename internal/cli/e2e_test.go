package cli

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// tmuxSession drives one tmux server of its own.
type tmuxSession struct {
	t      *testing.T
	socket string
	conf   string
}

// newTmux makes a tmux server configuration that keeps the server alive
// with no session. By default tmux exits with its last session, so a
// new-session right after kill-session could reach a server on its way
// out: "server exited unexpectedly", about one run in 30.
func newTmux(t *testing.T) tmuxSession {
	conf := filepath.Join(t.TempDir(), "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g exit-empty off\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tmuxSession{t, fmt.Sprintf("tcpdash-e2e-%d", os.Getpid()), conf}
}

func (s tmuxSession) run(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket, "-f", s.conf}, args...)...).CombinedOutput()
	return string(out), err
}

func (s tmuxSession) capture() string {
	out, err := s.run("capture-pane", "-p", "-t", "e2e")
	if err != nil {
		s.t.Fatalf("capture-pane: %v: %s", err, out)
	}
	return out
}

// waitScreen waits until the pane shows every pattern. The wait is long
// because a loaded machine stretches the dashboard's interval (a slow
// first dump); a screen that is right returns at once.
func (s tmuxSession) waitScreen(what string, patterns ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen := s.capture()
		ok := true
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(screen) {
				ok = false
			}
		}
		if ok {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s; screen:\n%s", what, screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s tmuxSession) pid() int {
	out, err := s.run("display-message", "-p", "-t", "e2e", "#{pane_pid}")
	if err != nil {
		s.t.Fatalf("pane pid: %v", err)
	}
	var pid int
	fmt.Sscan(out, &pid)
	return pid
}

// TestIntegrationDashboardInTmux runs the real binary in tmux inside a
// private network namespace holding a known population, and reads the
// screen as a person would.
func TestIntegrationDashboardInTmux(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	for _, tool := range []string{"tmux", "ss"} {
		_, err := exec.LookPath(tool)
		netns.Require(t, err == nil, tool+" is not installed")
	}
	bin := buildBinary(t)
	pop, err := loadgen.Build(loadgen.Spec{Established: 12, TimeWait: 300, HalfClosed: 4, Dests: 1, Ports: 1, Listeners: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	leakTo := netip.MustParseAddrPort("127.0.0.7:5432")
	loadgen.Server(t, leakTo)
	leaker := loadgen.StartLeaker(t, "leaky-app", leakTo, 15)
	// Both ends settle: the leaker's in CLOSE_WAIT, the server's closed
	// ones in FIN_WAIT2 once the leaker's kernel has acked their FINs.
	netns.WaitFor(t, "the leak to settle", func() bool {
		cw, _ := exec.Command("ss", "-tanH", "state", "close-wait").Output()
		fw, _ := exec.Command("ss", "-tanH", "state", "fin-wait-2").Output()
		return strings.Count(string(cw), "\n") == 4+15 && strings.Count(string(fw), "\n") == 4+15
	})

	// What ss says at this moment; the population is static.
	ssOut, err := exec.Command("ss", "-tanH").Output()
	if err != nil {
		t.Fatal(err)
	}
	ssCount := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(ssOut)), "\n") {
		ssCount[strings.Fields(l)[0]]++
	}
	want := map[string]int{"ESTABLISHED": ssCount["ESTAB"], "TIME_WAIT": ssCount["TIME-WAIT"],
		"CLOSE_WAIT": ssCount["CLOSE-WAIT"], "FIN_WAIT2": ssCount["FIN-WAIT-2"], "LISTEN": ssCount["LISTEN"]}
	if want["TIME_WAIT"] != 300 || want["ESTABLISHED"] != 24 || want["CLOSE_WAIT"] != 19 {
		t.Fatalf("population as ss sees it: %v", ssCount)
	}

	s := newTmux(t)
	defer s.run("kill-server")
	state := t.TempDir()
	var env []string // for the command, as "env" arguments
	start := func() {
		args := append([]string{"new-session", "-d", "-s", "e2e", "-x", "120", "-y", "40", "env"}, env...)
		args = append(args, bin, "--state-file", filepath.Join(state, "batch.json"), "--audit-log", filepath.Join(state, "audit.log"))
		if out, err := s.run(args...); err != nil {
			t.Fatalf("tmux new-session: %v: %s", err, out)
		}
		s.run("set-option", "-t", "e2e", "remain-on-exit", "on")
	}
	start()
	var patterns []string
	for name, n := range want {
		patterns = append(patterns, fmt.Sprintf(`│%-12s%9s `, name, humanize.Int(n)))
	}
	screen := s.waitScreen("the state histogram to match ss", patterns...)
	// The busiest remote endpoint, and so port, heads its table.
	if !regexp.MustCompile(`│127\.0\.0\.1:20000\s+300\s+·\s+300`).MatchString(screen) {
		t.Errorf("busiest remote endpoint 127.0.0.1:20000 (300 TIME_WAIT) is not first:\n%s", screen)
	}
	for _, p := range []string{"1 States", "2 Local ports", "3 Remote endpoints", "4 Port pressure", "5 Counters", "netlink", "every 1s"} {
		if !strings.Contains(screen, p) {
			t.Errorf("screen lacks %q", p)
		}
	}

	// Another process writes to the terminal: the renderer redraws only
	// what changed, so the text stays through polls until ctrl+l.
	tty, err := s.run("display-message", "-p", "-t", "e2e", "#{pane_tty}")
	if err != nil {
		t.Fatalf("pane tty: %v: %s", err, tty)
	}
	f, err := os.OpenFile(strings.TrimSpace(tty), os.O_WRONLY|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// At a place of its own (row 20): written where the cursor happens
	// to be, it could scroll the screen, which ctrl+l must mend as well.
	fmt.Fprint(f, "\x1b[20;5HSTRAY-OUTPUT-FROM-ELSEWHERE")
	f.Close()
	s.waitScreen("the stray text", "STRAY-OUTPUT-FROM-ELSEWHERE")
	time.Sleep(2500 * time.Millisecond) // two polls at least
	// Row 20 is in the tables of a static population, which no poll
	// redraws: the text must still be there.
	if !strings.Contains(s.capture(), "STRAY-OUTPUT-FROM-ELSEWHERE") {
		t.Fatalf("the stray text was drawn over by the polls: ctrl+l is not put to the test:\n%s", s.capture())
	}
	s.run("send-keys", "-t", "e2e", "C-l")
	deadline := time.Now().Add(10 * time.Second)
	for strings.Contains(s.capture(), "STRAY-OUTPUT-FROM-ELSEWHERE") {
		if time.Now().After(deadline) {
			t.Fatalf("ctrl+l left the stray text:\n%s", s.capture())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if screen := s.waitScreen("the screen redrawn", "1 States", "5 Counters"); !strings.HasPrefix(screen, "tcpdash ") {
		t.Errorf("after ctrl+l the header is not on the first line:\n%s", screen)
	}

	s.run("send-keys", "-t", "e2e", "p")
	s.waitScreen("the paused marker", "PAUSED")
	s.run("send-keys", "-t", "e2e", "?")
	s.waitScreen("the full help", "Keys", "shorter interval", "filter \\(ss words\\)")
	// Wait for esc to take effect: ESC followed at once by q is alt+q.
	s.run("send-keys", "-t", "e2e", "Escape")
	s.waitScreen("the help to close", "1 States")
	s.run("send-keys", "-t", "e2e", "p") // resume: findings need a second poll

	// The findings and processes panes name the leaking process.
	s.run("send-keys", "-t", "e2e", "7")
	s.waitScreen("the leak finding", "7 Findings",
		fmt.Sprintf(`pid %d \(leaky-app\) holds 15 CLOSE_WAIT sockets to 127\.0\.0\.7:5432`, leaker))
	// A filter that leaves the leak's sockets out narrows the tables, not
	// the findings: the leak is still named.
	// The expression is pasted, as from a runbook: tmux sends it as a
	// bracketed paste, which reaches the prompt as one paste, not keys
	// (typed, its tab would move the focus; pasted, it is a space).
	s.run("send-keys", "-t", "e2e", "/")
	s.waitScreen("the filter prompt", "filter: ")
	s.run("set-buffer", "dport\t20000")
	s.run("paste-buffer", "-p", "-t", "e2e")
	s.waitScreen("the pasted expression", "filter: dport 20000")
	s.run("send-keys", "-t", "e2e", "Enter")
	s.waitScreen("the filter in force, the leak still found", "tables filtered: dport 20000",
		fmt.Sprintf(`pid %d \(leaky-app\) holds 15 CLOSE_WAIT sockets to 127\.0\.0\.7:5432`, leaker))
	s.run("send-keys", "-t", "e2e", "Escape")
	s.waitScreen("the filter to clear", `(?m)sort: total *$`)
	s.run("send-keys", "-t", "e2e", "6")
	s.waitScreen("the processes pane", "6 Processes", fmt.Sprintf(`│%d\s+\S*leaky-app\s`, leaker))

	// The tuning pane: a change to this namespace's tcp_fin_timeout
	// happens only after y, is read back, and is undone by u, y.
	finTimeout := func() string {
		b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_fin_timeout")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	s.run("send-keys", "-t", "e2e", "t")
	s.waitScreen("the tuning pane", "8 Tuning", `net\.ipv4\.tcp_fin_timeout\s+60`)
	s.run("send-keys", "-t", "e2e", "j", "j", "Enter")
	s.waitScreen("the editor", "new value: 60")
	s.run("send-keys", "-t", "e2e", "BSpace", "BSpace", "30", "Enter")
	s.waitScreen("the confirmation", "Confirm: apply", "net.ipv4.tcp_fin_timeout: 60 → 30", "does not shorten TIME_WAIT")
	if v := finTimeout(); v != "60" {
		t.Fatalf("tcp_fin_timeout is %s before y", v)
	}
	s.run("send-keys", "-t", "e2e", "y")
	s.waitScreen("the read-back", `net\.ipv4\.tcp_fin_timeout = 30 \(read back\)`)
	if v := finTimeout(); v != "30" {
		t.Fatalf("tcp_fin_timeout is %s after y", v)
	}
	s.run("send-keys", "-t", "e2e", "u")
	s.waitScreen("the undo confirmation", "Confirm: undo", "net.ipv4.tcp_fin_timeout: 30 → 60")
	s.run("send-keys", "-t", "e2e", "y")
	s.waitScreen("the undo read-back", `net\.ipv4\.tcp_fin_timeout = 60 \(read back\)`)
	if v := finTimeout(); v != "60" {
		t.Fatalf("tcp_fin_timeout is %s after undo", v)
	}
	s.run("send-keys", "-t", "e2e", "q")
	// restored waits for the process to exit (tmux may take a while to
	// reap it), then checks that the alternate screen was left.
	restored := func(pid int, how string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !exited(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("tcpdash still running 10s after %s", how)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if screen := s.capture(); strings.Contains(screen, "1 States") {
			t.Errorf("after %s the dashboard is still on screen: the alternate screen was not left:\n%s", how, screen)
		}
	}
	restored(s.pid(), "q")

	// SIGTERM, as from kill: the terminal must be restored too.
	s.run("kill-session", "-t", "e2e")
	start()
	s.waitScreen("the dashboard", "1 States")
	pid := s.pid()
	syscall.Kill(pid, syscall.SIGTERM)
	restored(pid, "SIGTERM")

	// SIGHUP, as when the tmux pane or SSH session goes away.
	s.run("kill-session", "-t", "e2e")
	start()
	s.waitScreen("the dashboard", "1 States")
	pid = s.pid()
	syscall.Kill(pid, syscall.SIGHUP)
	restored(pid, "SIGHUP")

	// Colour on a colour terminal; none at all with NO_COLOR, where
	// trouble is still marked in text.
	colour := regexp.MustCompile("\x1b\\[[0-9;]*[34]8;[25];")
	for _, noColor := range []bool{false, true} {
		env = []string{"TERM=xterm-256color", "COLORTERM=truecolor"}
		if noColor {
			env = append(env, "NO_COLOR=1")
		}
		s.run("kill-session", "-t", "e2e")
		start()
		s.waitScreen("the dashboard", "1 States", "CLOSE_WAIT")
		out, err := s.run("capture-pane", "-e", "-p", "-t", "e2e")
		if err != nil {
			t.Fatal(err)
		}
		switch has := colour.MatchString(out); {
		case noColor && has:
			t.Errorf("NO_COLOR, yet colour on screen: %q", colour.FindString(out))
		case !noColor && !has:
			t.Errorf("no colour on a colour terminal, so the NO_COLOR check proves nothing")
		}
	}
}

// buildBinary builds tcpdash for tests that run the real binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tcpdash")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tcpdash/tcpdash").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// exited reports whether pid is gone or a zombie waiting to be reaped.
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// TestIntegrationSuspendAndQuit: ctrl+z and a SIGTSTP from outside give
// the shell back a usable terminal and fg brings the dashboard back, as in
// htop or vim; SIGQUIT ends it with the terminal restored.
func TestIntegrationSuspendAndQuit(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("tmux"), "tmux is not installed")
	bin := buildBinary(t)
	state := t.TempDir()
	s := newTmux(t)
	defer s.run("kill-server")
	if out, err := s.run("new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30", "env", "PS1=READY$ ", "sh", "-i"); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	s.waitScreen("the shell", `READY\$`)
	altScreen := func() bool {
		out, _ := s.run("display-message", "-p", "-t", "e2e", "#{alternate_on}")
		return strings.TrimSpace(out) == "1"
	}
	// usable types a command and waits for its output: the terminal echoes
	// and reads lines again.
	usable := func(what, word string) {
		t.Helper()
		if altScreen() {
			t.Fatalf("after %s the terminal is still on the alternate screen", what)
		}
		s.run("send-keys", "-t", "e2e", "echo "+word, "Enter")
		s.waitScreen("the shell to work after "+what, "(?m)^"+word+"$")
	}
	s.run("send-keys", "-t", "e2e", fmt.Sprintf("%s --state-file %s/b --audit-log %s/a", bin, state, state), "Enter")
	s.waitScreen("the dashboard", "1 States")
	// The dashboard is the shell's child.
	dashboardPID := func() int {
		shell := s.pid()
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", shell, shell))
		var pid int
		fmt.Sscan(string(b), &pid)
		return pid
	}

	s.run("send-keys", "-t", "e2e", "C-z")
	s.waitScreen("the shell after ctrl+z", `READY\$`, "(?i)stopped")
	usable("ctrl+z", "suspended1")
	s.run("send-keys", "-t", "e2e", "fg", "Enter")
	s.waitScreen("the dashboard after fg", "1 States")

	pid := dashboardPID()
	if pid == 0 {
		t.Fatal("cannot find the dashboard's pid")
	}
	syscall.Kill(pid, syscall.SIGTSTP)
	s.waitScreen("the shell after SIGTSTP", "suspended1", "(?i)stopped.*\n(.*\n)*READY\\$")
	usable("SIGTSTP", "suspended2")
	s.run("send-keys", "-t", "e2e", "fg", "Enter")
	s.waitScreen("the dashboard after the second fg", "1 States")
	if !altScreen() {
		t.Fatal("the dashboard is back but not on the alternate screen")
	}

	syscall.Kill(pid, syscall.SIGQUIT)
	netns.WaitFor(t, "tcpdash to end on SIGQUIT", func() bool { return exited(pid) })
	s.waitScreen("the goroutine dump after the terminal is back", "goroutine [0-9]+")
	usable("SIGQUIT", "quitok")
}

// TestIntegrationFirstScreen: on a namespace with a CLOSE_WAIT leak, a
// destination running out of ports and a listener whose accept queue
// overflows, the real dashboard's first screen names all three at 80x24
// and at 120x40; the tuning pane recommends the pressure finding's fix;
// enter on the pressure row lists its sockets.
func TestIntegrationFirstScreen(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("tmux"), "tmux is not installed")
	state := t.TempDir()
	files := []string{"--state-file", filepath.Join(state, "b.json"), "--audit-log", filepath.Join(state, "a.log")}
	if _, _, err := runCLI(t, append([]string{"tune", "set", "net.ipv4.tcp_tw_reuse=0", "net.ipv4.ip_local_port_range=40000 44999", "--yes"}, files...)...); err != nil {
		t.Fatal(err)
	}
	leakTo := netip.MustParseAddrPort("127.0.0.7:5432")
	loadgen.Server(t, leakTo)
	leaker := loadgen.StartLeaker(t, "leaky-app", leakTo, 15)
	db := netip.MustParseAddrPort("127.0.0.5:3306")
	loadgen.ClosingServer(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go loadgen.Churn(ctx, db, 100)
	// A listener that never accepts, and clients that keep coming.
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(ln)
	must(t, unix.Bind(ln, &unix.SockaddrInet4{Port: 9000, Addr: [4]byte{127, 0, 0, 1}}))
	must(t, unix.Listen(ln, 1))
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err == nil {
				unix.Connect(fd, &unix.SockaddrInet4{Port: 9000, Addr: [4]byte{127, 0, 0, 1}})
				time.AfterFunc(time.Second, func() { unix.Close(fd) })
			}
		}
	}()
	time.Sleep(3 * time.Second) // the leak settles, the ports fill, the queue overflows

	bin := buildBinary(t)
	s := newTmux(t)
	defer s.run("kill-server")
	for _, size := range [][2]string{{"80", "24"}, {"120", "40"}} {
		s.run("kill-session", "-t", "e2e")
		if out, err := s.run(append([]string{"new-session", "-d", "-s", "e2e", "-x", size[0], "-y", size[1], bin}, files...)...); err != nil {
			t.Fatalf("tmux: %v: %s", err, out)
		}
		s.waitScreen("the first screen at "+size[0]+"x"+size[1],
			fmt.Sprintf(`pid %d \(leaky-app\) leaks: 15 CLOSE_WAIT`, leaker),
			`127\.0\.0\.5:3306: out of ports in about [0-9]+ (s|min)`,
			`port 9000( \(pid [0-9]+ [^)]*\))?: accept queue full`)
	}
	// The tuning pane recommends the pressure finding's fix.
	s.run("send-keys", "-t", "e2e", "t")
	s.waitScreen("the recommendation", `net\.ipv4\.tcp_tw_reuse\s+0\s+1\s`)
	// Enter on the pressure row lists its sockets.
	s.run("send-keys", "-t", "e2e", "4")
	s.waitScreen("the pressure pane", "4 Port pressure")
	s.run("send-keys", "-t", "e2e", "Enter")
	s.waitScreen("the drill-down", `Sockets · 127\.0\.0\.1 → 127\.0\.0\.5:3306 · [0-9,]+ sockets`, `TIME_WAIT\s+127\.0\.0\.1:4`)
	s.run("send-keys", "-t", "e2e", "q")
}
