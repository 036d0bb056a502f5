package tcpinfo

import (
	"encoding/json"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestIntegrationLinkLocalZones: the same link-local peer on two links is
// two destinations, each with its own ports, named with its zone in the
// tables and the JSON, as ss names them.
func TestIntegrationLinkLocalZones(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	netns.Require(t, netns.HaveTool("ip"), "ip (iproute2) is not installed")
	for _, cmd := range [][]string{
		{"link", "add", "lla", "type", "veth", "peer", "name", "llapeer"},
		{"link", "add", "llb", "type", "veth", "peer", "name", "llbpeer"},
		{"link", "set", "lla", "up"}, {"link", "set", "llapeer", "up"},
		{"link", "set", "llb", "up"}, {"link", "set", "llbpeer", "up"},
		{"-6", "addr", "add", "fe80::1/64", "dev", "lla", "nodad"},
		{"-6", "addr", "add", "fe80::1/64", "dev", "llb", "nodad"},
	} {
		if out, err := exec.Command("ip", cmd...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", cmd, err, out)
		}
	}
	// Three connection attempts to fe80::2 on each link: nobody answers,
	// so they stay in SYN_SENT.
	for _, link := range []string{"lla", "llb"} {
		idx := ifIndex(t, link)
		for range 3 {
			fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(fd) })
			sa := &unix.SockaddrInet6{Port: 8080, ZoneId: uint32(idx), Addr: netip.MustParseAddr("fe80::2").As16()}
			if err := unix.Connect(fd, sa); err != unix.EINPROGRESS {
				t.Fatalf("connect to fe80::2%%%s: %v", link, err)
			}
		}
	}
	col, err := NewCollector(Options{Top: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	snap, err := col.Collect(Query{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, g := range snap.PortPressure {
		got[g.Local.String()+" → "+g.Remote.String()] = g.Used
	}
	want := map[string]int{"fe80::1%lla → [fe80::2%lla]:8080": 3, "fe80::1%llb → [fe80::2%llb]:8080": 3}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("pressure group %s: %d sockets, want %d (groups: %v)", k, got[k], n, got)
		}
	}
	if len(got) != 2 {
		t.Errorf("groups %v: want one per link", got)
	}
	b, _ := json.Marshal(snap)
	if !strings.Contains(string(b), `"remote_addr":"fe80::2%lla"`) || !strings.Contains(string(b), `"addr":"fe80::2%llb"`) {
		t.Errorf("JSON lacks the zones: %s", b)
	}
	// ss names the same sockets with the same zones.
	ss, _ := exec.Command("ss", "-tanH", "state", "syn-sent").Output()
	if c := strings.Count(string(ss), "%lla"); c != 3 {
		t.Errorf("ss shows %d sockets on lla:\n%s", c, ss)
	}
}

func ifIndex(t *testing.T, name string) int {
	t.Helper()
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return ifi.Index
}
