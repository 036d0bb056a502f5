package diagnose

import (
	"maps"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

func settingsOf(kv map[string]string) []tuning.Setting {
	var out []tuning.Setting
	for _, t := range tuning.Known() {
		v, ok := kv[t.Key]
		out = append(out, tuning.Setting{Tunable: t, Value: v, Exists: ok})
	}
	return out
}

var defaults = map[string]string{
	"net.ipv4.tcp_tw_reuse": "2", "net.ipv4.tcp_fin_timeout": "60", "net.ipv4.ip_local_port_range": "32768 60999",
	"net.ipv4.tcp_max_tw_buckets": "10000", "net.ipv4.tcp_timestamps": "1", "net.core.somaxconn": "4096",
	"net.ipv4.tcp_max_syn_backlog": "512",
}

func snap(ratio float64, tw uint64, closeWait int, listenOverflows, twOverflow uint64) *tcpinfo.Snapshot {
	s := &tcpinfo.Snapshot{MaxTimeWaitBuckets: 10000}
	s.States[tcpinfo.CloseWait] = closeWait
	s.Counters.TWSockets = tw
	s.Counters.ListenOverflows = listenOverflows
	s.Counters.TCPTimeWaitOverflow = twOverflow
	if ratio > 0 {
		s.PortPressure = []tcpinfo.PressureGroup{{Local: netip.MustParseAddr("10.0.0.9"),
			Remote: netip.MustParseAddrPort("10.0.0.5:3306"), Used: int(ratio * 28232), TimeWait: int(ratio * 28000),
			Capacity: 28232, Ratio: ratio}}
	}
	return s
}

func keys(rs []Recommendation) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Key+"="+r.Value)
	}
	return out
}

func TestRecommend(t *testing.T) {
	tests := []struct {
		name      string
		now, prev *tcpinfo.Snapshot
		settings  map[string]string
		listening []uint16
		want      []string
		reason    string
	}{
		{"quiet", snap(0.1, 100, 0, 0, 0), snap(0.1, 100, 0, 0, 0), defaults, nil, nil, ""},
		{"port pressure", snap(0.8, 100, 0, 0, 0), nil, defaults, []uint16{22, 8080, 20000},
			[]string{"net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=20002 65535"}, "outgoing only"},
		{"port pressure, reuse already on", snap(0.95, 100, 0, 0, 0), nil,
			merge(defaults, map[string]string{"net.ipv4.tcp_tw_reuse": "1", "net.ipv4.ip_local_port_range": "1024 65535"}),
			nil, nil, ""},
		{"timestamps off", snap(0.8, 100, 0, 0, 0), nil, merge(defaults, map[string]string{"net.ipv4.tcp_timestamps": "0"}),
			nil, []string{"net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=1024 65535"}, "tcp_timestamps is 0 here"},
		{"TIME_WAIT near the bucket limit", snap(0, 8500, 0, 0, 0), nil, defaults, nil,
			[]string{"net.ipv4.tcp_max_tw_buckets=20000"}, "never lower it"},
		{"TIME_WAIT overflowing", snap(0, 5000, 0, 0, 7), snap(0, 5000, 0, 0, 3), defaults, nil,
			[]string{"net.ipv4.tcp_max_tw_buckets=20000"}, "TCPTimeWaitOverflow rose to 7"},
		{"CLOSE_WAIT rising", snap(0, 0, 50, 0, 0), snap(0, 0, 20, 0, 0), defaults, nil,
			[]string{"="}, "no sysctl fixes this"},
		{"listen overflows", snap(0, 0, 0, 9, 0), snap(0, 0, 0, 2, 0), defaults, nil,
			[]string{"net.core.somaxconn=8192", "net.ipv4.tcp_max_syn_backlog=1024"}, "listen() backlog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Recommend(tt.now, tt.prev, settingsOf(tt.settings), tt.listening)
			if strings.Join(keys(got), " ") != strings.Join(tt.want, " ") {
				t.Fatalf("recommendations %v, want %v", keys(got), tt.want)
			}
			for _, r := range got {
				if r.Key == "net.ipv4.tcp_tw_recycle" || r.Key == "net.ipv4.tcp_fin_timeout" {
					t.Errorf("recommended %s", r.Key)
				}
			}
			if tt.reason != "" && !strings.Contains(got[0].Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", got[0].Reason, tt.reason)
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestAdviceFitsTheCause: a listener full at its own listen() backlog of 4
// is told to raise it, not somaxconn; one capped by somaxconn gets
// somaxconn. A wider port range reserves the servers' ports it covers.
func TestAdviceFitsTheCause(t *testing.T) {
	listener := func(backlog int) tcpinfo.Listener {
		return tcpinfo.Listener{Local: netip.MustParseAddrPort("0.0.0.0:8080"), AcceptQueue: backlog, Backlog: backlog}
	}
	prev, now := snap(0, 0, 0, 10, 0), snap(0, 0, 0, 50, 0)
	now.Listeners = []tcpinfo.Listener{listener(4)}
	recs := Recommend(now, prev, settingsOf(defaults), nil)
	if k := keys(recs); strings.Contains(strings.Join(k, " "), "somaxconn") {
		t.Errorf("a backlog of 4 under somaxconn 4096 gets %v", k)
	}
	if len(recs) == 0 || !strings.Contains(recs[0].Reason, "own listen() backlog of 4") {
		t.Errorf("no advice to raise the application's backlog: %+v", recs)
	}
	now.Listeners = []tcpinfo.Listener{listener(4096)}
	if k := keys(Recommend(now, prev, settingsOf(defaults), nil)); !strings.Contains(strings.Join(k, " "), "net.core.somaxconn") {
		t.Errorf("a listener capped by somaxconn gets %v", k)
	}

	// Servers listen on 8081, 9090, 9100 and 9478 below the range, and on
	// 40000 and 45000 inside it.
	listening := []uint16{8081, 9090, 9100, 9478, 40000, 45000}
	recs = Recommend(snap(0.95, 0, 0, 0, 0), nil, settingsOf(defaults), listening)
	var rng, reserved string
	for _, r := range recs {
		switch r.Key {
		case "net.ipv4.ip_local_port_range":
			rng = r.Value
			if !strings.Contains(r.Reason, "32768 60999 → 9480 65535") {
				t.Errorf("the range's reason does not say what changes: %s", r.Reason)
			}
		case "net.ipv4.ip_local_reserved_ports":
			reserved = r.Value
		}
	}
	if rng != "9480 65535" || reserved != "40000,45000" {
		t.Errorf("range %q reserved %q, want 9480 65535 (clear of every port below it) with 40000,45000 reserved", rng, reserved)
	}
	// Existing reserved ports are kept, and a port already reserved is
	// not added twice.
	s := maps.Clone(defaults)
	s["net.ipv4.ip_local_reserved_ports"] = "45000,50000-50010"
	for _, r := range Recommend(snap(0.95, 0, 0, 0, 0), nil, settingsOf(s), listening) {
		if r.Key == "net.ipv4.ip_local_reserved_ports" && r.Value != "45000,50000-50010,40000" {
			t.Errorf("reserved %q, want the existing ones and 40000", r.Value)
		}
	}
}
