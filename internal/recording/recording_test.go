package recording

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC)

func snapLine(i int) []byte {
	return fmt.Appendf(nil, `{"time":%q,"total":%d,"states":{"ESTABLISHED":%d},"findings":[]}`,
		t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i, i)
}

// record writes n snapshots a second apart, with an event after the tenth.
func record(t testing.TB, n int) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Start: t0, Host: "h", Kernel: "6.18", PortRange: [2]int{32768, 60999}, IntervalMS: 1000, Tcpdash: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := w.Snapshot(t0.Add(time.Duration(i)*time.Second), append(snapLine(i), '\n')); err != nil {
			t.Fatal(err)
		}
		if i == 10 {
			if err := w.Event(Event{Time: t0.Add(10500 * time.Millisecond), Kind: "sysctl", Name: "net.ipv4.tcp_fin_timeout", Old: "60", New: "30"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(t testing.TB, b []byte) (*Reader, []Record, error) {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, nil, err
	}
	var recs []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return r, recs, nil
		}
		if err != nil {
			return r, recs, err
		}
		recs = append(recs, rec)
	}
}

func TestRoundTrip(t *testing.T) {
	b := record(t, 150)
	r, recs, err := readAll(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if r.Header == nil || r.Header.Host != "h" || r.Header.Version != Version || r.Header.PortRange != [2]int{32768, 60999} {
		t.Fatalf("header %+v", r.Header)
	}
	if r.Truncated {
		t.Error("a complete recording reads as truncated")
	}
	if len(recs) != 151 {
		t.Fatalf("%d records, want 150 snapshots and 1 event", len(recs))
	}
	i := 0
	for _, rec := range recs {
		if rec.Event != nil {
			if rec.Event.Name != "net.ipv4.tcp_fin_timeout" || rec.Event.New != "30" || !rec.Time.Equal(t0.Add(10500*time.Millisecond)) {
				t.Errorf("event %+v", rec.Event)
			}
			continue
		}
		if !bytes.Equal(rec.Snapshot, snapLine(i)) || !rec.Time.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("snapshot %d: %s at %v", i, rec.Snapshot, rec.Time)
		}
		i++
	}
	// The header is a member of its own, and 150 s of snapshots close a
	// member at least every 60 s: 1 + 3 members.
	if n := members(t, b); n != 4 {
		t.Errorf("%d gzip members, want 4", n)
	}
}

// members counts gzip members; a *bytes.Reader is an io.ByteReader, so
// gzip reads no further than each member's end.
func members(t *testing.T, b []byte) int {
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; ; n++ {
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, zr); err != nil {
			t.Fatal(err)
		}
		if err := zr.Reset(br); err == io.EOF {
			return n
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// A recorder killed at any byte leaves a file that reads back every
// snapshot of its closed members, in order, and says it was cut short.
func TestTruncated(t *testing.T) {
	b := record(t, 150)
	full := 150 + 1
	for cut := 1; cut < len(b); cut += 7 {
		r, recs, err := readAll(t, b[:cut])
		if err != nil {
			if r == nil && strings.Contains(err.Error(), "ends before its first line") {
				continue
			}
			t.Fatalf("cut at %d of %d: %v", cut, len(b), err)
		}
		if !r.Truncated {
			t.Fatalf("cut at %d of %d: not reported as truncated", cut, len(b))
		}
		if len(recs) > full { // a cut in the last trailer leaves every record
			t.Fatalf("cut at %d: %d records", cut, len(recs))
		}
		i := 0
		for _, rec := range recs {
			if rec.Snapshot != nil {
				if !bytes.Equal(rec.Snapshot, snapLine(i)) {
					t.Fatalf("cut at %d: snapshot %d is %s", cut, i, rec.Snapshot)
				}
				i++
			}
		}
	}
}

func TestJSONLog(t *testing.T) {
	var plain bytes.Buffer
	for i := range 5 {
		plain.Write(append(snapLine(i), '\n'))
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(plain.Bytes())
	zw.Close()
	for name, b := range map[string][]byte{"plain": plain.Bytes(), "gzip": zipped.Bytes()} {
		r, recs, err := readAll(t, b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Header != nil || r.Truncated || len(recs) != 5 || !bytes.Equal(recs[4].Snapshot, snapLine(4)) {
			t.Errorf("%s: header %v, truncated %v, %d records", name, r.Header, r.Truncated, len(recs))
		}
	}
	// A log whose last line was cut short.
	cut := plain.Bytes()[:plain.Len()-5]
	r, recs, err := readAll(t, cut)
	if err != nil || !r.Truncated || len(recs) != 4 {
		t.Errorf("cut log: %v, truncated %v, %d records", err, r.Truncated, len(recs))
	}
}

func TestBadInput(t *testing.T) {
	newer := []byte(`{"format":"tcpdash-recording","version":2}` + "\n")
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"empty":   {nil, "empty"},
		"garbage": {[]byte("\x00\x01garbage\n"), "not a tcpdash recording or --json log"},
		"text":    {[]byte("State Recv-Q\n"), "not a tcpdash recording or --json log"},
		"other":   {[]byte(`{"format":"pcap"}` + "\n"), `format "pcap"`},
		"newer":   {newer, "use a newer tcpdash"},
		"no time": {[]byte(`{"total":1}` + "\n"), `without a valid "time"`},
		"bad gz":  {[]byte{0x1f, 0x8b, 0, 0}, "not a tcpdash recording"},
		"line 2":  {append(snapLine(0), "\n[1,2]\n"...), "line 2: not a JSON object"},
	} {
		_, _, err := readAll(t, tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", name, err, tc.want)
		}
		if name == "newer" && !errors.Is(err, ErrNewer) {
			t.Errorf("newer: %v is not ErrNewer", err)
		}
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{})
	for _, bad := range []string{"", "[1]", `{"a":1}` + "\n" + `{"b":2}`, "{"} {
		if err := w.Snapshot(t0, []byte(bad)); err == nil {
			t.Errorf("Snapshot(%q) accepted", bad)
		}
	}
}

// At 1 Hz a recording costs at most 300 bytes a snapshot; these snapshots
// are smaller than real ones, so this guards the framing, not the target.
func BenchmarkWrite(b *testing.B) {
	for b.Loop() {
		record(b, 3600)
	}
	b.ReportMetric(float64(len(record(b, 3600)))/3600, "B/snapshot")
}

func FuzzReader(f *testing.F) {
	f.Add(record(f, 70))
	f.Add(append(snapLine(0), '\n'))
	f.Add([]byte(`{"format":"tcpdash-recording","version":1}` + "\n" + `{"event":{"time":"2026-11-27T14:03:00Z"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		for range 10000 {
			rec, err := r.Next()
			if err != nil {
				return
			}
			if (rec.Snapshot == nil) == (rec.Event == nil) {
				t.Fatalf("record is neither or both: %+v", rec)
			}
		}
	})
}
