package tcpinfo

import (
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

	owners, err := ReadOwners("/proc")
	if err != nil {
		t.Fatal(err)
	}
	col, err := NewCollector(Options{Top: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	snap, err := col.Collect(Query{Owners: owners})
	if err != nil {
		t.Fatal(err)
	}
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
	mk("200", "nginx", "net:[1]", map[string]string{"7": "socket:[6001]"})
	mk("300", "other", "net:[2]", map[string]string{"3": "socket:[7001]"})
	os.MkdirAll(filepath.Join(root, "400"), 0o755) // exited mid-walk: no fd, no ns
	os.MkdirAll(filepath.Join(root, "sys"), 0o755) // not a pid

	o, err := ReadOwners(root)
	if err != nil {
		t.Fatal(err)
	}
	for inode, want := range map[uint32]Owner{5001: {100, "java"}, 5002: {100, "java"}, 6001: {200, "nginx"}} {
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
	if o.Stale(now.Add(MinOwnersAge-time.Second)) || !o.Stale(now.Add(MinOwnersAge)) {
		t.Error("a walk is fresh for MinOwnersAge")
	}
	o.Took = time.Second
	if o.Stale(now.Add(MinOwnersAge)) || !o.Stale(now.Add(OwnersCostFactor*time.Second)) {
		t.Error("a costly walk is fresh for OwnersCostFactor times its cost")
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
