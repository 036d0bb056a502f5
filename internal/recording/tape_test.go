package recording

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestTape(t *testing.T) {
	tape, err := Load(bytes.NewReader(record(t, 30)))
	if err != nil {
		t.Fatal(err)
	}
	if tape.Len() != 30 || tape.Truncated || tape.Header == nil || len(tape.Events) != 1 {
		t.Fatalf("len %d, truncated %v, header %v, events %v", tape.Len(), tape.Truncated, tape.Header, tape.Events)
	}
	if got := tape.States(7)[1]; got != 7 {
		t.Errorf("ESTABLISHED at 7 = %d", got)
	}
	if !bytes.Equal(tape.Line(12), snapLine(12)) {
		t.Errorf("line 12 = %s", tape.Line(12))
	}
	// The event lands between snapshots 10 and 11.
	if v := tape.Sysctls(10)["net.ipv4.tcp_fin_timeout"]; v != "" {
		t.Errorf("fin_timeout at 10 = %q, want unset (the header has none)", v)
	}
	if v := tape.Sysctls(11)["net.ipv4.tcp_fin_timeout"]; v != "30" {
		t.Errorf("fin_timeout at 11 = %q, want 30", v)
	}
	s, err := tape.Snapshot(5)
	if err != nil || s.Total != 5 || !s.Time.Equal(t0.Add(5*time.Second)) {
		t.Errorf("snapshot 5: %v, %+v", err, s)
	}
}

func TestSeek(t *testing.T) {
	tape, err := Load(bytes.NewReader(record(t, 120))) // 14:03:00 to 14:04:59
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   string
		want int
	}{
		{"14:03:00", 0},
		{"14:03:10", 10},
		{"14:04", 60},
		{"14:03:10.5", 10}, // the snapshot in force
		{"+90s", 90},
		{"+1m30s", 90},
		{"+0s", 0},
		{"2026-11-27T14:04:59Z", 119},
		{"2026-11-27T15:04:59+01:00", 119},
		{"14:05:00", 119}, // within an interval of the end
	} {
		got, err := tape.Seek(c.in)
		if err != nil || got != c.want {
			t.Errorf("Seek(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"14:02:59", "14:10", "+1h", "+-5s", "yesterday", "25:00", "2026-11-27T14:02:00Z", ""} {
		_, err := tape.Seek(in)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("Seek(%q) = %v, want a one-line error", in, err)
		}
	}
}

// A recording that runs past midnight reads an early clock time as the
// next day's.
func TestSeekPastMidnight(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2026, 11, 27, 23, 59, 50, 0, time.UTC)
	w, err := NewWriter(&buf, Header{Start: start, IntervalMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		at := start.Add(time.Duration(i) * time.Second)
		w.Snapshot(at, []byte(`{"time":"`+at.Format(time.RFC3339Nano)+`","states":{}}`))
	}
	w.Close()
	tape, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if i, err := tape.Seek("00:00:05"); err != nil || i != 15 {
		t.Errorf("Seek(00:00:05) = %d, %v; want 15", i, err)
	}
}

func TestStarts(t *testing.T) {
	lines := []string{
		`{"time":"2026-11-27T14:03:00Z","states":{},"findings":[]}`,
		`{"time":"2026-11-27T14:03:01Z","states":{},"findings":[{"kind":"close_wait_leak","subject":"pid 1 (a)","severity":"warning"}]}`,
		`{"time":"2026-11-27T14:03:02Z","states":{},"findings":[{"kind":"close_wait_leak","subject":"pid 1 (a)","severity":"critical"},{"kind":"syn_recv","severity":"warning"}]}`,
		`{"time":"2026-11-27T14:03:03Z","states":{},"findings":[{"kind":"syn_recv","severity":"warning"}]}`,
		`{"time":"2026-11-27T14:03:04Z","states":{},"findings":[{"kind":"close_wait_leak","subject":"pid 1 (a)","severity":"warning"}]}`,
	}
	tape, err := Load(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range tape.Starts() {
		got = append(got, s.Finding.ID()+"@"+string(rune('0'+s.Index)))
	}
	if want := "close_wait_leak pid 1 (a)@1 syn_recv@2 close_wait_leak pid 1 (a)@4"; strings.Join(got, " ") != want {
		t.Errorf("starts %q, want %q", strings.Join(got, " "), want)
	}
}

func TestLoadBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"out of order": `{"time":"2026-11-27T14:03:01Z","states":{}}` + "\n" + `{"time":"2026-11-27T14:03:00Z","states":{}}`,
		"bad states":   `{"time":"2026-11-27T14:03:01Z","states":[1,2]}`,
		"bad severity": `{"time":"2026-11-27T14:03:01Z","findings":[{"severity":"dire"}]}`,
		"only header":  `{"format":"tcpdash-recording","version":1}`,
	} {
		_, err := Load(strings.NewReader(in))
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line error", name, err)
		}
	}
}

// FuzzLoad: whatever the input, Load returns a tape or one line of error,
// and every snapshot in a tape can be asked for.
func FuzzLoad(f *testing.F) {
	f.Add(record(f, 70))
	f.Add([]byte(`{"time":"2026-11-27T14:03:01Z","states":{"LISTEN":1},"findings":[{"kind":"syn_recv","severity":"info"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tape, err := Load(bytes.NewReader(b))
		runtime.ReadMemStats(&after)
		// The bound on what an input can cost: a line, its objects and
		// the members kept, whatever the input's compression ratio.
		if cost := after.TotalAlloc - before.TotalAlloc; cost > 256<<20+64*uint64(len(b)) {
			t.Fatalf("%d bytes of input cost %d MiB", len(b), cost>>20)
		}
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		// Every line the tape finds again is the one the reader read.
		_, recs, _ := readAll(t, b)
		var lines []json.RawMessage
		for _, r := range recs {
			if r.Snapshot != nil {
				lines = append(lines, r.Snapshot)
			}
		}
		for i := range min(tape.Len(), 100) {
			if i < len(lines) && !bytes.Equal(tape.Line(i), lines[i]) {
				t.Fatalf("line %d = %q, the reader read %q", i, tape.Line(i), lines[i])
			}
			if s, err := tape.Snapshot(i); err == nil && !s.Time.Equal(tape.Time(i)) {
				t.Fatalf("snapshot %d time %v, indexed %v", i, s.Time, tape.Time(i))
			}
		}
		tape.Starts()
	})
}

// TestTapeMembers: a gzipped tape keeps the file compressed and finds
// each line again in its member, across members, in any order, and in a
// file cut inside its last member.
func TestTapeMembers(t *testing.T) {
	whole := record(t, 250) // five members of snapshots
	for _, b := range [][]byte{whole, whole[:len(whole)-30]} {
		tape, err := Load(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if len(tape.members) < 5 || tape.frames[0].line != nil {
			t.Fatalf("%d members; lines kept %v", len(tape.members), tape.frames[0].line != nil)
		}
		if cut := len(b) < len(whole); cut != tape.Truncated || cut && tape.Len() >= 250 || !cut && tape.Len() != 250 {
			t.Fatalf("cut %v: truncated %v, %d snapshots", cut, tape.Truncated, tape.Len())
		}
		for _, i := range []int{0, tape.Len() - 1, 61, 59, 120, 3, tape.Len() / 2, tape.Len() - 2, 0} {
			if got := tape.Line(i); !bytes.Equal(got, snapLine(i)) {
				t.Fatalf("line %d = %s, want %s", i, got, snapLine(i))
			}
		}
	}
}

// BenchmarkTapeLine: finding a line again, in a member not in the cache.
func BenchmarkTapeLine(b *testing.B) {
	tape, err := Load(bytes.NewReader(record(b, 600)))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		tape.Line((i * 61) % tape.Len())
	}
}

// TestLoadHostile: recordings made to exhaust memory or time are refused
// in one line, quickly: a line of a million empty findings, a gzip member
// of a valid snapshot and then only newlines, a flood of events.
func TestLoadHostile(t *testing.T) {
	gz := func(parts ...[]byte) []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		for _, p := range parts {
			zw.Write(p)
		}
		zw.Close()
		return b.Bytes()
	}
	snap := []byte(`{"time":"2026-11-27T14:03:01Z","states":{"LISTEN":1}}` + "\n")
	events := []byte(`{"format":"tcpdash-recording","version":1}` + "\n")
	for i := range maxEvents + 1 {
		events = fmt.Appendf(events, `{"event":{"time":"2026-11-27T14:03:01Z","kind":"sysctl","name":"net.x%d","old":"1","new":"2"}}`+"\n", i%10)
	}
	names := []byte(`{"format":"tcpdash-recording","version":1}` + "\n")
	for i := range maxSysctlNames + 1 {
		names = fmt.Appendf(names, `{"event":{"time":"2026-11-27T14:03:01Z","kind":"sysctl","name":"net.x%d","old":"1","new":"2"}}`+"\n", i)
	}
	for name, tc := range map[string]struct {
		in   []byte
		want string
		took time.Duration // the most refusing it may take; 0: 5s
	}{
		"a million empty findings":   {gz([]byte(`{"time":"2026-11-27T14:03:01Z","findings":[`), bytes.Repeat([]byte("{},"), 1e6), []byte("{}]}\n")), "JSON objects in one line", 0},
		"newlines after a snapshot":  {gz(snap, bytes.Repeat([]byte("\n"), 64<<20)), "blank lines", 0},
		"a flood of events":          {gz(events, snap), "events", 0},
		"events naming many sysctls": {gz(names, snap), "sysctls", 0},
		// Read to the bound: a week's index at one a second.
		"a million tiny snapshots": {gz(bytes.Repeat([]byte(`{"time":"2026-11-27T14:03:01Z"}`+"\n"), maxSnapshots+1)), "snapshots", 30 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := Load(bytes.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%v, want one line about %s", err, tc.want)
			}
			if d := time.Since(start); d > cmp.Or(tc.took, 5*time.Second) {
				t.Errorf("refused after %v", d)
			}
		})
	}
}
