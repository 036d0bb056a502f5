package cli

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/internal/version"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// hostileSnapshot holds a process that leaks CLOSE_WAIT under name, so the
// name shows in the processes table and in a finding's title.
func hostileSnapshot(name string) *tcpinfo.Snapshot {
	to := netip.MustParseAddrPort("10.0.0.5:3306")
	s := &tcpinfo.Snapshot{Time: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Source: tcpinfo.SourceNetlink,
		SourceNote: name, Total: 50}
	s.States[tcpinfo.CloseWait] = 50
	s.Processes = []tcpinfo.ProcessCount{{Owner: tcpinfo.Owner{PID: 4242, Command: name},
		States: tcpinfo.StateCounts{tcpinfo.CloseWait: 50}, CloseWaitTo: to, CloseWaitToCount: 50}}
	s.Attribution.Enabled = true
	return s
}

// FuzzReportNames: any bytes as a process name leave the --once text
// report free of control bytes, and JSON keeps the exact name.
func FuzzReportNames(f *testing.F) {
	for _, s := range []string{"java", "\x1b]2;pwned\a", "\x1b[2J", "x\nCRITICAL forged", "\u202e", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		snap := hostileSnapshot(name)
		findings := diagnose.Diagnose(snap, nil, nil)
		var text bytes.Buffer
		if err := writeReport(&text, snap, findings); err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(text.String(), "\n") {
			if !termsafe.Printable(line) {
				t.Fatalf("line %d of the report holds a control byte from %q: %q", i+1, name, line)
			}
		}
		if !strings.Contains(text.String(), termsafe.String(name)) {
			t.Fatalf("the report does not name the process as %q", termsafe.String(name))
		}
		var js bytes.Buffer
		if err := writeJSON(&js, snap, findings, version.Get().Build()); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Processes []struct{ Command string } `json:"processes"`
		}
		if err := json.Unmarshal(js.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		// JSON's own encoding of the name, invalid UTF-8 as U+FFFD, and
		// nothing of the terminal's escaping.
		var want string
		b, _ := json.Marshal(name)
		json.Unmarshal(b, &want)
		if got.Processes[0].Command != want {
			t.Fatalf("JSON has %q, want the exact name %q", got.Processes[0].Command, want)
		}
	})
}

// TestReportReusable: the --once report's port pressure has a REUSABLE
// column where a group has TIME_WAIT connect() takes over (its 95% is not
// a port exhaustion), "-" on the others, and none when no group has any.
func TestReportReusable(t *testing.T) {
	snap := &tcpinfo.Snapshot{Time: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC), Source: tcpinfo.SourceNetlink}
	snap.PortPressure = []tcpinfo.PressureGroup{
		{Local: netip.MustParseAddr("10.0.0.1"), Remote: netip.MustParseAddrPort("10.0.0.5:3306"), Used: 600, Capacity: 1000, Ratio: 0.6},
		{Local: netip.MustParseAddr("127.0.0.1"), Remote: netip.MustParseAddrPort("127.0.0.5:6379"), Used: 950, TimeWait: 950,
			ReuseAfter: time.Second, ReusableTimeWait: 900, Capacity: 1000, Ratio: 0.95},
	}
	var out bytes.Buffer
	if err := writeReport(&out, snap, nil); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"REUSABLE", "127.0.0.5:6379  950   950        900       1000      95.0%", "10.0.0.5:3306   600   0          -         1000      60.0%"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	snap.PortPressure = snap.PortPressure[:1]
	out.Reset()
	if err := writeReport(&out, snap, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "REUSABLE") {
		t.Errorf("a column for no reuse:\n%s", out.String())
	}
}
