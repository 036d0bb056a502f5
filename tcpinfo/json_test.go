package tcpinfo

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A line as tcpdash --json writes it (findings cut), with every table.
const sampleJSON = `{"time":"2026-11-27T14:03:10.123456789+01:00","source":"netlink","dump_ms":1.234,"interval_ms":1000,` +
	`"netns":"net:[4026531840]","names":["host"],"total":7,` +
	`"states":{"ESTABLISHED":2,"SYN_SENT":0,"SYN_RECV":0,"FIN_WAIT1":0,"FIN_WAIT2":0,"TIME_WAIT":3,"CLOSE":0,"CLOSE_WAIT":1,"LAST_ACK":0,"LISTEN":1,"CLOSING":0,"NEW_SYN_RECV":0},` +
	`"families":{"ipv4":6,"ipv6":1},` +
	`"top_local_ports":[{"port":8080,"total":3,"states":{"ESTABLISHED":1,"CLOSE_WAIT":1,"LISTEN":1}}],` +
	`"top_remote_ports":[{"port":3306,"total":4,"states":{"ESTABLISHED":1,"TIME_WAIT":3}}],` +
	`"top_remote_endpoints":[{"addr":"10.0.0.5","port":3306,"total":4,"states":{"ESTABLISHED":1,"TIME_WAIT":3},"closes":120,"closes_per_s":3.5}],` +
	`"local_ports_folded":[{"ephemeral":"32768-60999","ports":4,"total":4,"states":{"ESTABLISHED":1,"TIME_WAIT":3}},{"port":8080,"total":3,"states":{"ESTABLISHED":1,"CLOSE_WAIT":1,"LISTEN":1}}],` +
	`"remote_endpoints_folded":[{"addr":"10.0.0.5","port":3306,"total":4,"states":{"ESTABLISHED":1,"TIME_WAIT":3},"closes":120,"closes_per_s":3.5},{"addr":"fe80::1","port":0,"ports":2,"total":2,"states":{"ESTABLISHED":1,"CLOSE_WAIT":1}}],` +
	`"port_pressure":[{"local_addr":"10.0.0.1","remote_addr":"10.0.0.5","remote_port":3306,"used":4,"time_wait":3,"time_wait_recent":2,"time_wait_left":[1,0,0,0,0,2],"time_wait_reuse_after_ms":1000,"time_wait_reusable":1,"capacity":28232,"ratio":0.0001,"opener":{"pid":42,"command":"api","cgroup":"api.service","sockets":1},"closes":120,"closes_per_s":3.5,"failed_connects":2,"resets":1}],` +
	`"time_wait_expiry":[{"within_s":10,"count":1},{"within_s":60,"count":3}],` +
	`"counters":{"inuse":7,"inuse6":1,"orphan":0,"tw":3,"alloc":9,"mem":4,"CurrEstab":2,"ActiveOpens":10,"PassiveOpens":4,"AttemptFails":0,"EstabResets":1,` +
	`"OutSegs":900,"RetransSegs":12,"InErrs":0,"OutRsts":3,"TW":30,"TWRecycled":0,"TWKilled":0,"TCPTimeWaitOverflow":0,"ListenOverflows":0,"ListenDrops":0,` +
	`"TCPSynRetrans":2,"TCPTimeouts":1,"TCPAbortOnData":0,"TCPAbortOnClose":0,"TCPAbortOnMemory":0,"TCPAbortOnTimeout":0,"TCPAbortOnLinger":0,` +
	`"SyncookiesSent":5,"SyncookiesRecv":4,"SyncookiesFailed":0,"TCPReqQFullDrop":0,"TCPReqQFullDoCookies":5,"TCPMemoryPressures":0,"PruneCalled":0,"RcvPruned":0,"TCPBacklogDrop":0},` +
	`"processes":[{"pid":42,"command":"api","total":2,"states":{"ESTABLISHED":1,"CLOSE_WAIT":1},"shared":1,"cgroup":"api.service","cmdline":"api --port 8080"}],` +
	`"cgroups":[{"id":1234,"path":"/system.slice/api.service","name":"api.service","total":2,"states":{"ESTABLISHED":1,"CLOSE_WAIT":1}}],` +
	`"listeners":[{"addr":"0.0.0.0","port":8080,"accept_queue":0,"backlog":4096,"syn_recv":0,"full":false,"pid":42,"command":"api"}],` +
	`"owners":{"owned":2,"shared":1,"kernel_unowned":{"total":3,"time_wait":3,"handshake":0,"orphan":0,"time_wait_remembered":2},"remembered":5,` +
	`"unseen":{"total":0,"newer_than_walk":0,"other_user":0,"main_thread_exited":0,"other_pid_namespace":0},"hidden_processes":0,"walk_ms":3.5,"walk_time":"2026-11-27T14:03:09.5+01:00",` +
	`"source":"ebpf+proc","from_opener":3},` +
	`"closes":{"watching":true,"since":"2026-11-27T14:00:00+01:00","total":250,"per_s":7.25,"lost":1,"overflow":0}}`

// TestJSONRoundTrip: a logged line read back marshals to the same bytes,
// so replay shows what was logged.
func TestJSONRoundTrip(t *testing.T) {
	var s Snapshot
	if err := json.Unmarshal([]byte(sampleJSON), &s); err != nil {
		t.Fatal(err)
	}
	if s.States[TimeWait] != 3 || s.PortRange.Low != 32768 || s.PortPressure[0].Opener.PID != 42 || !s.Attribution.Enabled ||
		s.PortPressure[0].ClosesPerS != 3.5 || s.TopRemoteEndpoints[0].Closes != 120 || s.Closes.Total != 250 || !s.Closes.Watching ||
		s.Attribution.Openers.Name != "ebpf" || s.Attribution.FromOpener != 3 ||
		s.PortPressure[0].TimeWaitLeft != [ExpirySlots]int{1, 0, 0, 0, 0, 2} || s.PortPressure[0].ExpiringTimeWait() != 1 ||
		s.PortPressure[0].ReuseAfter != time.Second || s.PortPressure[0].ReusableTimeWait != 1 {
		t.Fatalf("decoded %+v", s)
	}
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != sampleJSON {
		t.Errorf("round trip:\n got %s\nwant %s", b, sampleJSON)
	}
}

// TestJSONTimeWaitLeftRefused: a recording's slots of time left are six
// counts, none negative, and its reusable TIME_WAIT are some of them,
// after a delay the kernel allows, or the line is refused with what was
// wrong.
func TestJSONTimeWaitLeftRefused(t *testing.T) {
	for _, tc := range []struct{ left, want string }{
		{`"time_wait_left":[1,2]`, "time_wait_left has 2 slots, want 6"},
		{`"time_wait_left":[1,0,0,0,0,-2]`, "time_wait_left: a negative count, -2"},
		{`"time_wait_reuse_after_ms":0,"time_wait_reusable":1`, "time_wait_reuse_after_ms 0 with 1 of 3"},
		{`"time_wait_reuse_after_ms":1000,"time_wait_reusable":4`, "with 4 of 3 TIME_WAIT reusable"},
	} {
		line := bytes.Replace([]byte(sampleJSON), []byte(`"time_wait_left":[1,0,0,0,0,2],"time_wait_reuse_after_ms":1000,"time_wait_reusable":1`), []byte(tc.left), 1)
		var s Snapshot
		if err := json.Unmarshal(line, &s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("time_wait_left %s: %v, want an error saying %q", tc.left, err, tc.want)
		}
	}
}

// FuzzSnapshotJSON: whatever a recording holds, reading it never panics,
// and what reads back once reads back the same ever after.
func FuzzSnapshotJSON(f *testing.F) {
	f.Add([]byte(sampleJSON))
	f.Add([]byte(`{"time":"2026-11-27T14:03:10Z","states":{"BOGUS":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Snapshot
		if json.Unmarshal(b, &s) != nil {
			return
		}
		once, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		var again Snapshot
		if err := json.Unmarshal(once, &again); err != nil {
			t.Fatalf("cannot read back %s: %v", once, err)
		}
		twice, _ := json.Marshal(&again)
		if !bytes.Equal(once, twice) {
			t.Fatalf("not stable:\n%s\n%s", once, twice)
		}
	})
}
