package tcpinfo

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

func TestSocketInode(t *testing.T) {
	for in, want := range map[string]uint32{"socket:[12345]": 12345, "socket:[]": 0, "pipe:[5]": 0,
		"socket:[99999999999]": 0, "socket:[12a]": 0, "/dev/null": 0} {
		got, ok := socketInode([]byte(in))
		if got != want || ok != (want != 0) {
			t.Errorf("socketInode(%q) = %d, %v", in, got, ok)
		}
	}
}

// TestIntegrationOwners names a leaking process by pid and command, and
// agrees with ss -tanp about who holds what.
func TestIntegrationOwners(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	server := netip.MustParseAddrPort("127.0.0.7:3306")
	loadgen.Server(t, server)
	pid := loadgen.StartLeaker(t, "leaky-app", server, 25)
	pop, err := loadgen.Build(loadgen.Spec{Established: 5, TimeWait: 30, Dests: 1, Ports: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	time.Sleep(50 * time.Millisecond) // the server's FINs land

	snap, owners, col := ownedSnapshot(t)
	var leaker *ProcessCount
	for i, p := range snap.Processes {
		if p.PID == pid {
			leaker = &snap.Processes[i]
		}
	}
	if leaker == nil {
		t.Fatalf("pid %d not among %+v", pid, snap.Processes)
	}
	if leaker.Command != "leaky-app" || leaker.States[CloseWait] != 25 || leaker.CloseWaitTo != server || leaker.CloseWaitToCount != 25 {
		t.Errorf("leaker %+v: want leaky-app with 25 CLOSE_WAIT to %s", leaker, server)
	}
	me := os.Getpid()
	for _, p := range snap.Processes {
		if p.PID == me && p.States[Established] != 10 {
			t.Errorf("this test holds 10 ESTABLISHED sockets, attributed %d", p.States[Established])
		}
	}
	// No process owns the 30 TIME_WAIT sockets, nor the server's 25 closed
	// ends, orphans in FIN_WAIT2 waiting for the leaker's FIN.
	if a := snap.Attribution; !a.Enabled || a.Unowned != 55 || a.Unknown != 0 || snap.OrphanFinWait2 != 25 {
		t.Errorf("attribution %+v, %d orphaned FIN_WAIT2: want 55 unowned, none unknown, 25 orphans", a, snap.OrphanFinWait2)
	}

	// ss -tanp must say the same of every process.
	out, err := exec.Command("ss", "-tanpH").Output()
	if err != nil {
		t.Fatal(err)
	}
	ssCounts := map[int]int{}
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, ",pid="); i >= 0 {
			p, _ := strconv.Atoi(strings.FieldsFunc(line[i+5:], func(r rune) bool { return r < '0' || r > '9' })[0])
			ssCounts[p]++
		}
	}
	for _, p := range snap.Processes {
		if ssCounts[p.PID] != p.States.Total() {
			t.Errorf("pid %d (%s): %d sockets, ss -tanp says %d", p.PID, p.Command, p.States.Total(), ssCounts[p.PID])
		}
	}
	if len(ssCounts) != len(snap.Processes) {
		t.Errorf("ss -tanp sees %d processes, tcpdash %d", len(ssCounts), len(snap.Processes))
	}

	// With a PID, the tables hold only that process's sockets.
	only, err := col.Collect(Query{Owners: owners, PID: pid})
	if err != nil {
		t.Fatal(err)
	}
	if len(only.TopRemoteEndpoints) != 1 || only.TopRemoteEndpoints[0].Endpoint != server {
		t.Errorf("the leaker's endpoints: %+v", only.TopRemoteEndpoints)
	}
}

// threadHolder is a process whose main thread exits while another thread
// keeps a connection open: /proc/PID/fd is then empty.
const threadHolder = `
import ctypes, socket, sys, threading, time
s = socket.create_connection(("127.0.0.9", int(sys.argv[1])))
threading.Thread(target=lambda: time.sleep(60)).start()
print("ready", flush=True)
ctypes.CDLL(None).pthread_exit(None)
`

// TestIntegrationOwnersSharedAndThreads: on the real kernel, a listener
// handed to a child is listed under both processes and counted once, and
// a process whose main thread exited is still named.
func TestIntegrationOwnersSharedAndThreads(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("python3"), "python3 is not installed (it makes a process whose main thread exits)")
	ln, err := net.Listen("tcp", "127.0.0.9:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("sleep", "60")
	child.ExtraFiles = []*os.File{lf}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	defer func() { child.Process.Kill(); child.Wait() }()

	port := ln.Addr().(*net.TCPAddr).Port
	py := exec.Command("python3", "-c", threadHolder, strconv.Itoa(port))
	py.Stderr = os.Stderr
	out, _ := py.StdoutPipe()
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { py.Process.Kill(); py.Wait() }()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the python helper did not start: %q, %v", line, err)
	}
	time.Sleep(100 * time.Millisecond) // the main thread is gone
	if fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", py.Process.Pid)); len(fds) != 0 {
		t.Fatalf("the helper's main thread still shows %d fds", len(fds))
	}

	snap, _, _ := ownedSnapshot(t)
	byPID := map[int]ProcessCount{}
	for _, p := range snap.Processes {
		byPID[p.PID] = p
	}
	if p := byPID[os.Getpid()]; p.States[Listen] != 1 || p.Shared != 1 {
		t.Errorf("this process %+v: want the listener, shared", p)
	}
	if p := byPID[child.Process.Pid]; p.States[Listen] != 1 || p.Shared != 1 {
		t.Errorf("the child %+v: want the listener it inherited, shared", p)
	}
	if p := byPID[py.Process.Pid]; p.States[Established] != 1 {
		t.Errorf("the process whose main thread exited %+v: want its connection", p)
	}
	if snap.States[Listen] != 1 || snap.Attribution.Shared != 1 || snap.Attribution.ViaThreads != 1 {
		t.Errorf("listeners %d, shared %d, via threads %d: want 1 each", snap.States[Listen],
			snap.Attribution.Shared, snap.Attribution.ViaThreads)
	}
}

// ownedSnapshot walks /proc and takes a snapshot of this namespace with
// its owners; the collector stays open for more.
func ownedSnapshot(t *testing.T) (*Snapshot, *Owners, *Collector) {
	t.Helper()
	owners, err := ReadOwners("/proc")
	if err != nil {
		t.Fatal(err)
	}
	col, err := NewCollector(Options{Top: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { col.Close() })
	snap, err := col.Collect(Query{Owners: owners})
	if err != nil {
		t.Fatal(err)
	}
	return snap, owners, col
}

// TestReadOwnersFakeProc walks a /proc laid out in a temporary directory:
// socket links are attributed, other links and other namespaces are not.
func TestReadOwnersFakeProc(t *testing.T) {
	root := t.TempDir()
	mk := func(pid, comm, netns string, links map[string]string) {
		dir := filepath.Join(root, pid)
		os.MkdirAll(filepath.Join(dir, "fd"), 0o755)
		os.MkdirAll(filepath.Join(dir, "ns"), 0o755)
		os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644)
		os.Symlink(netns, filepath.Join(dir, "ns", "net"))
		for fd, target := range links {
			os.Symlink(target, filepath.Join(dir, "fd", fd))
		}
	}
	mk("self", "tcpdash", "net:[1]", nil)
	mk("100", "java", "net:[1]", map[string]string{"0": "/dev/null", "3": "socket:[5001]", "4": "socket:[5002]", "5": "pipe:[9]"})
	os.WriteFile(filepath.Join(root, "100", "cmdline"), []byte("java\x00-jar\x00app.jar\x00"), 0o644)
	mk("200", "nginx", "net:[1]", map[string]string{"7": "socket:[6001]"})
	mk("300", "other", "net:[2]", map[string]string{"3": "socket:[7001]"})
	os.MkdirAll(filepath.Join(root, "400"), 0o755) // exited mid-walk: no fd, no ns
	os.MkdirAll(filepath.Join(root, "sys"), 0o755) // not a pid

	o, err := ReadOwners(root)
	if err != nil {
		t.Fatal(err)
	}
	for inode, want := range map[uint32]Owner{5001: {100, "java", "java -jar app.jar"}, 5002: {100, "java", "java -jar app.jar"},
		6001: {200, "nginx", ""}} {
		if got, ok := o.Lookup(inode); !ok || got != want {
			t.Errorf("inode %d: %+v, %v; want %+v", inode, got, ok, want)
		}
	}
	if _, ok := o.Lookup(7001); ok {
		t.Error("a socket of another network namespace was attributed")
	}
	if o.Elsewhere != 1 || len(o.procs) != 2 {
		t.Errorf("elsewhere %d, %d processes with sockets; want 1 and 2", o.Elsewhere, len(o.procs))
	}
	if _, ok := o.Lookup(0); ok {
		t.Error("inode 0 has no owner")
	}
	now := o.Time
	o.Took = 4 * time.Millisecond // under 5% of a second: a walk at every poll
	if o.Stale(now.Add(999*time.Millisecond), time.Second) || !o.Stale(now.Add(time.Second), time.Second) {
		t.Error("a cheap walk is due at every poll")
	}
	o.Took = time.Second
	if o.Stale(now.Add(5*time.Second), time.Second) || !o.Stale(now.Add(OwnersCostFactor*time.Second), time.Second) {
		t.Error("a costly walk is fresh for OwnersCostFactor times its cost")
	}
}

// TestOwnersSharedThreadsAndReasons: a socket two processes hold counts
// under each and once in the totals; a process whose main thread exited is
// read through its threads; sockets nobody was seen holding are put down
// to the likeliest reason.
func TestOwnersSharedThreadsAndReasons(t *testing.T) {
	root := t.TempDir()
	mk := func(dir, comm string, links map[string]string) {
		os.MkdirAll(filepath.Join(dir, "fd"), 0o755)
		os.MkdirAll(filepath.Join(dir, "ns"), 0o755)
		os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644)
		os.Symlink("net:[1]", filepath.Join(dir, "ns", "net"))
		for fd, target := range links {
			os.Symlink(target, filepath.Join(dir, "fd", fd))
		}
	}
	mk(filepath.Join(root, "self"), "tcpdash", nil)
	// A server and the worker it forked share the listener.
	mk(filepath.Join(root, "100"), "server", map[string]string{"3": "socket:[5000]", "4": "socket:[5001]"})
	mk(filepath.Join(root, "101"), "worker", map[string]string{"3": "socket:[5000]", "5": "socket:[5002]", "6": "socket:[5002]"})
	// A process whose main thread exited: no files under fd, its thread
	// 301 still has them.
	mk(filepath.Join(root, "300"), "zombie-leader", nil)
	os.Remove(filepath.Join(root, "300", "ns", "net")) // an exited thread has no namespaces
	mk(filepath.Join(root, "300", "task", "300"), "zombie-leader", nil)
	mk(filepath.Join(root, "300", "task", "301"), "zombie-leader", map[string]string{"9": "socket:[5003]"})

	o, err := ReadOwners(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := o.Lookup(5003); !ok || got.PID != 300 || o.ViaThreads != 1 {
		t.Fatalf("socket of a process whose leader exited: %+v %v, via threads %d", got, ok, o.ViaThreads)
	}

	ports, _ := ParsePortRange([]byte("32768 60999"), nil)
	a := NewAggregator(ports)
	a.Reset(ports, Query{Owners: o})
	for _, s := range []Socket{
		{State: Listen, Inode: 5000}, {State: Established, Inode: 5001}, {State: Established, Inode: 5002},
		{State: CloseWait, Inode: 5003},
		{State: TimeWait}, {State: TimeWait}, {State: SynRecv}, {State: FinWait1},
		{State: Established, Inode: 9000}, // above every inode the walk saw
		{State: Established, Inode: 10},   // below: another PID namespace
	} {
		a.Add(&s)
	}
	var snap Snapshot
	a.Fill(&snap, 10)
	at := snap.Attribution
	want := Attribution{Enabled: true, Time: o.Time, Took: o.Took, ViaThreads: 1, Owned: 4, Shared: 1,
		Unowned: 4, UnownedTimeWait: 2, UnownedHandshake: 1, UnownedOrphan: 1,
		Unknown: 2, UnseenNewer: 1, UnseenOtherPIDNamespace: 1}
	if at != want {
		t.Errorf("attribution\n got %+v\nwant %+v", at, want)
	}
	byPID := map[int]ProcessCount{}
	for _, p := range snap.Processes {
		byPID[p.PID] = p
	}
	if p := byPID[100]; p.States[Listen] != 1 || p.Shared != 1 || p.States.Total() != 2 {
		t.Errorf("server %+v: want the shared listener and its own socket", p)
	}
	if p := byPID[101]; p.States[Listen] != 1 || p.Shared != 1 || p.States.Total() != 2 {
		t.Errorf("worker %+v: want the shared listener and its own socket (held by two fds, counted once)", p)
	}
	if snap.States[Listen] != 1 {
		t.Errorf("the shared listener counts %d times in the totals", snap.States[Listen])
	}
	// Narrowed to the worker, the shared listener is its too.
	a.Reset(ports, Query{Owners: o, PID: 101})
	a.Add(&Socket{State: Listen, Inode: 5000, Local: netip.MustParseAddrPort("0.0.0.0:80")})
	a.Fill(&snap, 10)
	if len(snap.TopLocalPorts) != 1 {
		t.Errorf("the worker's tables lack the listener it shares: %+v", snap.TopLocalPorts)
	}
}

func FuzzSocketInode(f *testing.F) {
	for _, s := range []string{"socket:[12345]", "socket:[]", "pipe:[1]", "socket:[4294967295]", "socket:[4294967296]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if inode, ok := socketInode(b); ok && inode == 0 {
			t.Fatalf("%q gave inode 0, which means no inode", b)
		}
	})
}
