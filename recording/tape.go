package recording

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tcpdash/tcpdash/diagnose"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// A Tape is a whole recording, indexed for replay: each snapshot's time,
// state counts and findings are read once, as it loads; the rest of a
// snapshot is decoded when asked for. A gzipped file stays compressed in
// memory (a busy host's snapshot is 16 KB of JSON and 400 bytes of gzip),
// and a snapshot's line is found again by decompressing its member, the
// last few of which are kept. It is safe for concurrent use.
type Tape struct {
	// Header is nil for a --json log.
	Header *Header
	// Truncated says the input ended inside a line or a gzip member: the
	// tape holds what was complete.
	Truncated bool
	// Events are the recorded events, in order.
	Events []Event

	frames []frame

	// For a gzipped file: the file, its members, and the members last
	// decompressed.
	data    []byte
	members []member
	mu      sync.Mutex
	cache   [2]cachedMember
	next    int
}

type frame struct {
	time     time.Time
	line     json.RawMessage // a plain file's line; nil when gzipped
	at       int64           // where the line is in the decompressed stream
	size     int
	states   tcpinfo.StateCounts
	findings []diagnose.Finding
	sysctls  map[string]string // shared with neighbours until an event
}

// A member is one gzip member: its bytes in the file, and where its
// content starts in the decompressed stream.
type member struct {
	from, to int   // in the file
	at, size int64 // in the decompressed stream
}

type cachedMember struct {
	index   int // into members, plus one: zero is empty
	content []byte
}

// LoadFile loads the recording or --json log at path; errors name it.
func LoadFile(path string) (*Tape, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // the *PathError names the file
	}
	defer f.Close()
	t, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// maxFile bounds the file Load reads into memory (it stays compressed
// there): a day's recording of a busy host is about 200 MB.
const maxFile = 2 << 30

// Load reads a recording or a --json log whole.
func Load(r io.Reader) (*Tape, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("larger than %d GiB: split it, or replay a part (zcat | head)", maxFile>>30)
	}
	rd, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	t := &Tape{Header: rd.Header}
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		t.data = data
		if t.members, err = gzipMembers(data); err != nil {
			return nil, err
		}
	}
	sysctls, shared := map[string]string{}, false
	if rd.Header != nil {
		if len(rd.Header.Sysctls) > maxSysctlNames {
			return nil, fmt.Errorf("the header names more than %d sysctls: not a recording tcpdash wrote", maxSysctlNames)
		}
		maps.Copy(sysctls, rd.Header.Sysctls)
	}
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if e := rec.Event; e != nil {
			if len(t.Events) == maxEvents {
				return nil, fmt.Errorf("line %d: more than %d events: not a recording tcpdash wrote", rd.line, maxEvents)
			}
			t.Events = append(t.Events, *e)
			if e.Kind == "sysctl" {
				if _, ok := sysctls[e.Name]; !ok && len(sysctls) == maxSysctlNames {
					return nil, fmt.Errorf("line %d: events name more than %d sysctls: not a recording tcpdash wrote", rd.line, maxSysctlNames)
				}
				// Snapshots share the map until an event changes it; a run
				// of events between two snapshots clones it once.
				if shared {
					sysctls, shared = maps.Clone(sysctls), false
				}
				sysctls[e.Name] = e.New
			}
			continue
		}
		var head struct {
			States   tcpinfo.StateCounts `json:"states"`
			Findings []diagnose.Finding  `json:"findings"`
		}
		if err := json.Unmarshal(rec.Snapshot, &head); err != nil {
			return nil, fmt.Errorf("line %d: %w", rd.line, err)
		}
		if n := len(t.frames); n > 0 && rec.Time.Before(t.frames[n-1].time) {
			return nil, fmt.Errorf("line %d: snapshot at %s is older than the one before it", rd.line, rec.Time.Format(time.RFC3339))
		}
		f := frame{time: rec.Time, at: rec.at, size: rec.size, states: head.States, findings: head.Findings, sysctls: sysctls}
		shared = true
		if t.data == nil {
			f.line = rec.Snapshot
		}
		t.frames = append(t.frames, f)
	}
	t.Truncated = rd.Truncated
	if len(t.frames) == 0 {
		return nil, errors.New("no snapshots in it")
	}
	return t, nil
}

// Len is the number of snapshots.
func (t *Tape) Len() int { return len(t.frames) }

// Time is when snapshot i was taken.
func (t *Tape) Time(i int) time.Time { return t.frames[i].time }

// States are snapshot i's counts per state.
func (t *Tape) States(i int) tcpinfo.StateCounts { return t.frames[i].states }

// Line is snapshot i exactly as it was logged, findings included.
func (t *Tape) Line(i int) json.RawMessage {
	f := &t.frames[i]
	if f.line != nil {
		return f.line
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m := sort.Search(len(t.members), func(m int) bool { return t.members[m].at+t.members[m].size > f.at })
	content := t.member(m)
	from := f.at - t.members[m].at
	if m == len(t.members) || from < 0 || from+int64(f.size) > int64(len(content)) {
		return nil // cannot happen: the index was made from these bytes
	}
	return bytes.Clone(content[from : from+int64(f.size)])
}

// member returns member m decompressed, from the cache if it is there.
// t.mu is held.
func (t *Tape) member(m int) []byte {
	if m >= len(t.members) {
		return nil
	}
	for _, c := range t.cache {
		if c.index == m+1 {
			return c.content
		}
	}
	mb := t.members[m]
	zr, err := gzip.NewReader(bytes.NewReader(t.data[mb.from:mb.to]))
	var content []byte
	if err == nil {
		zr.Multistream(false)
		// A member cut short gives what it holds: its complete lines.
		content, _ = io.ReadAll(io.LimitReader(zr, maxMember))
	}
	t.cache[t.next] = cachedMember{m + 1, content}
	t.next = (t.next + 1) % len(t.cache)
	return content
}

// gzipMembers finds the members of a gzip stream: where each is in the
// file and in what it decompresses to. It stops at the first member that
// is cut short or corrupt, which it includes: what it holds is complete
// lines up to the cut.
func gzipMembers(data []byte) ([]member, error) {
	var out []member
	br := bytes.NewReader(data)
	var at int64
	for br.Len() > 0 {
		from := len(data) - br.Len()
		zr, err := gzip.NewReader(br)
		if err != nil {
			break
		}
		zr.Multistream(false)
		n, err := io.Copy(io.Discard, io.LimitReader(zr, maxMember+1))
		if n > maxMember {
			return nil, fmt.Errorf("a gzip member larger than %d MiB decompressed: not a recording tcpdash wrote", maxMember>>20)
		}
		out = append(out, member{from: from, to: len(data) - br.Len(), at: at, size: n})
		at += n
		if err != nil {
			out[len(out)-1].to = len(data)
			break
		}
	}
	return out, nil
}

// Findings are the findings logged with snapshot i: computed live, from
// it and the snapshot before it.
func (t *Tape) Findings(i int) []diagnose.Finding { return t.frames[i].findings }

// Sysctls are the sysctl values in force at snapshot i: the header's, with
// the events before it applied. Empty for a --json log. Do not modify it.
func (t *Tape) Sysctls(i int) map[string]string { return t.frames[i].sysctls }

// Snapshot decodes snapshot i.
func (t *Tape) Snapshot(i int) (*tcpinfo.Snapshot, error) {
	// UnmarshalJSON directly: through json.Unmarshal the line would be
	// scanned whole once more before the snapshot's own decoding.
	var s tcpinfo.Snapshot
	if err := s.UnmarshalJSON(t.Line(i)); err != nil {
		return nil, fmt.Errorf("snapshot %d (%s): %w", i+1, t.frames[i].time.Format(time.RFC3339), err)
	}
	// The port range in force, with its reserved ports, is in the
	// recording's sysctls rather than in each snapshot.
	sc := t.frames[i].sysctls
	if r, ok := sc["net.ipv4.ip_local_port_range"]; ok {
		if pr, err := tcpinfo.ParsePortRange([]byte(r), []byte(sc["net.ipv4.ip_local_reserved_ports"])); err == nil {
			s.PortRange = pr
		}
	}
	return &s, nil
}

// A Start is where a finding starts: present at a snapshot, absent from
// the one before it (or the first snapshot).
type Start struct {
	Index   int
	Finding diagnose.Finding
}

// Starts lists where findings start, in order.
func (t *Tape) Starts() []Start {
	var out []Start
	before := map[string]bool{}
	for i, f := range t.frames {
		now := make(map[string]bool, len(f.findings))
		for _, fd := range f.findings {
			if id := fd.ID(); !now[id] {
				now[id] = true
				if !before[id] {
					out = append(out, Start{i, fd})
				}
			}
		}
		before = now
	}
	return out
}

// Index is the snapshot in force at at: the last taken at or before it.
// It is -1 when at is before the first.
func (t *Tape) Index(at time.Time) int {
	lo, hi := 0, len(t.frames) // first frame after at
	for lo < hi {
		m := (lo + hi) / 2
		if t.frames[m].time.After(at) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo - 1
}

// ParseTime reads a moment of the recording as a user writes it: RFC 3339
// (2026-11-27T14:03:10Z), a clock time (14:03:10 or 14:03) in the
// recording's own time zone, or an offset from its first snapshot (+90s,
// +2m30s).
func (t *Tape) ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	first := t.frames[0].time
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("time %q: want an offset such as +90s or +2m30s", s)
		}
		return first.Add(d), nil
	}
	if at, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return at, nil
	}
	for _, layout := range []string{"15:04:05.999999999", "15:04"} {
		c, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		prec := time.Second
		if layout == "15:04" {
			prec = time.Minute
		}
		// The first such clock time at or after the start: in a recording
		// that runs past midnight, 00:10 is the next day's.
		y, mo, d := first.Date()
		at := time.Date(y, mo, d, c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), first.Location())
		if at.Before(first.Truncate(prec)) {
			at = at.AddDate(0, 0, 1)
		}
		return at, nil
	}
	return time.Time{}, fmt.Errorf("time %q: want a clock time (14:03:10), an offset (+90s) or RFC 3339 (2026-11-27T14:03:10Z)", s)
}

// Seek is ParseTime and Index together, refusing a moment outside the
// recording.
func (t *Tape) Seek(s string) (int, error) {
	at, err := t.ParseTime(s)
	if err != nil {
		return 0, err
	}
	first, last := t.frames[0], t.frames[len(t.frames)-1]
	const clock = "15:04:05"
	if at.Before(first.time.Truncate(time.Second)) {
		return 0, fmt.Errorf("time %q is before the recording starts (%s)", s, first.time.Format(clock))
	}
	end := last.time.Add(max(t.interval(), time.Second))
	if at.After(end) {
		return 0, fmt.Errorf("time %q is after the recording ends (%s)", s, last.time.Format(clock))
	}
	return max(t.Index(at), 0), nil
}

// interval is the recorded interval between snapshots.
func (t *Tape) interval() time.Duration {
	if t.Header != nil && t.Header.IntervalMS > 0 {
		return time.Duration(t.Header.IntervalMS) * time.Millisecond
	}
	if n := len(t.frames); n > 1 {
		return t.frames[n-1].time.Sub(t.frames[0].time) / time.Duration(n-1)
	}
	return time.Second
}
