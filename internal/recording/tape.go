package recording

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tcpdash/tcpdash/internal/diagnose"
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
	// More says the tape holds the start of a recording only
	// (LoadStart): more snapshots may follow in the file.
	More bool
	// Events are the recorded events, in order.
	Events []Event

	frames []frame

	// For a gzipped file: the file (read where a member is, not held in
	// memory), its members, and the members last decompressed.
	src     io.ReaderAt
	srcSize int64
	closer  io.Closer
	members []member
	mu      sync.Mutex
	cache   [2]cachedMember
	next    int
}

type frame struct {
	time    time.Time
	line    json.RawMessage // a plain file's line; nil when gzipped
	at      int64           // where the line is in the decompressed stream
	size    int
	states  tcpinfo.StateCounts
	heads   []FindingHead
	sysctls map[string]string // shared with neighbours until an event
}

// A FindingHead is what the index keeps of a logged finding: enough to
// follow it over the recording (ID), to find its worst moment and to name
// it. Findings decodes the rest (detail, evidence) of one snapshot's.
type FindingHead struct {
	Kind     string            `json:"kind"`
	Subject  string            `json:"subject"`
	Title    string            `json:"title"`
	Severity diagnose.Severity `json:"severity"`
	Rank     float64           `json:"rank"`
}

// ID is the finding's identity over the recording, as diagnose.Finding's.
func (h FindingHead) ID() string {
	return diagnose.Finding{Kind: h.Kind, Subject: h.Subject}.ID()
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

// LoadFile loads the recording or --json log at path; errors name it. A
// gzipped recording stays in its file, which the tape reads a member at a
// time: Close the tape when done.
func LoadFile(path string) (*Tape, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // the *PathError names the file
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		// A pipe or a device: read it whole, bounded.
		defer f.Close()
		data, err := readBounded(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return loadNamed(path, bytes.NewReader(data), int64(len(data)), nil)
	}
	if fi.Size() > maxFile {
		f.Close()
		return nil, fmt.Errorf("%s: larger than %d GiB: split it, or replay a part (zcat | head)", path, maxFile>>30)
	}
	return loadNamed(path, f, fi.Size(), f)
}

func loadNamed(path string, src io.ReaderAt, size int64, closer io.Closer) (*Tape, error) {
	t, err := load(src, size, closer)
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// readBounded reads r whole, up to maxFile.
func readBounded(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("larger than %d GiB: split it, or replay a part (zcat | head)", maxFile>>30)
	}
	return data, nil
}

// maxFile bounds the file a tape is made of: a day's recording of a busy
// host is about 200 MB.
const maxFile = 2 << 30

// Load reads a recording or a --json log whole, into memory.
func Load(r io.Reader) (*Tape, error) {
	data, err := readBounded(r)
	if err != nil {
		return nil, err
	}
	return load(bytes.NewReader(data), int64(len(data)), nil)
}

// LoadStart reads the first snapshots of the recording at path, up to n,
// into a tape of their own: a day's recording takes seconds to index
// whole, and its first frame need not wait for that. More says more may
// follow; LoadFile reads the whole.
func LoadStart(path string, n int) (*Tape, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := &Tape{Header: rd.Header, More: true}
	if err := t.index(rd, n); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(t.frames) == 0 {
		return nil, fmt.Errorf("%s: no snapshots in it", path)
	}
	return t, nil
}

// Close releases the file a tape reads; it may be called more than once.
func (t *Tape) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closer == nil {
		return nil
	}
	c := t.closer
	t.closer = nil
	return c.Close()
}

func load(src io.ReaderAt, size int64, closer io.Closer) (*Tape, error) {
	rd, err := NewReader(bufio.NewReaderSize(io.NewSectionReader(src, 0, size), 1<<16))
	if err != nil {
		return nil, err
	}
	t := &Tape{Header: rd.Header}
	var magic [2]byte
	if n, _ := src.ReadAt(magic[:], 0); n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		t.src, t.srcSize, t.closer = src, size, closer
		if t.members, err = gzipMembers(src, size); err != nil {
			return nil, err
		}
	}
	if err := t.index(rd, -1); err != nil {
		return nil, err
	}
	if len(t.frames) == 0 {
		return nil, errors.New("no snapshots in it")
	}
	return t, nil
}

// index reads rd's records into t, up to limit snapshots (-1: all).
func (t *Tape) index(rd *Reader, limit int) error {
	titles := map[string]string{}
	sysctls, shared := map[string]string{}, false
	if rd.Header != nil {
		if len(rd.Header.Sysctls) > maxSysctlNames {
			return fmt.Errorf("the header names more than %d sysctls: not a recording tcpdash wrote", maxSysctlNames)
		}
		maps.Copy(sysctls, rd.Header.Sysctls)
	}
	for limit < 0 || len(t.frames) < limit {
		rec, err := rd.Next()
		if err == io.EOF {
			t.More = false // it was all there
			break
		}
		if err != nil {
			return err
		}
		if e := rec.Event; e != nil {
			if len(t.Events) == maxEvents {
				return fmt.Errorf("line %d: more than %d events: not a recording tcpdash wrote", rd.line, maxEvents)
			}
			t.Events = append(t.Events, *e)
			if e.Kind == "sysctl" {
				if _, ok := sysctls[e.Name]; !ok && len(sysctls) == maxSysctlNames {
					return fmt.Errorf("line %d: events name more than %d sysctls: not a recording tcpdash wrote", rd.line, maxSysctlNames)
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
		// The index decodes two fields of each line, not the line.
		var states tcpinfo.StateCounts
		var heads []FindingHead
		if rec.states != nil {
			if err := json.Unmarshal(rec.states, &states); err != nil {
				return fmt.Errorf("line %d: states: %w", rd.line, err)
			}
		}
		if rec.findings != nil {
			if err := json.Unmarshal(rec.findings, &heads); err != nil {
				return fmt.Errorf("line %d: findings: %w", rd.line, err)
			}
			// A day of snapshots repeats the same few titles: keep one
			// copy of each.
			for j := range heads {
				h := &heads[j]
				h.Kind, h.Subject, h.Title = intern(titles, h.Kind), intern(titles, h.Subject), intern(titles, h.Title)
			}
		}
		if len(t.frames) == maxSnapshots {
			return fmt.Errorf("line %d: more than %d snapshots: split the recording (zcat | head) and replay a part", rd.line, maxSnapshots)
		}
		if n := len(t.frames); n > 0 && rec.Time.Before(t.frames[n-1].time) {
			return fmt.Errorf("line %d: snapshot at %s is older than the one before it", rd.line, rec.Time.Format(time.RFC3339))
		}
		f := frame{time: rec.Time, at: rec.at, size: rec.size, states: states, heads: heads, sysctls: sysctls}
		shared = true
		if t.src == nil {
			f.line = rec.Snapshot
		}
		t.frames = append(t.frames, f)
	}
	t.Truncated = rd.Truncated
	return nil
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
	zr, err := gzip.NewReader(bufio.NewReader(io.NewSectionReader(t.src, int64(mb.from), int64(mb.to-mb.from))))
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
func gzipMembers(src io.ReaderAt, size int64) ([]member, error) {
	var out []member
	cr := &countingReader{r: io.NewSectionReader(src, 0, size)}
	br := bufio.NewReaderSize(cr, 1<<16)
	// Where the gzip reader is in the file: it reads through br a byte at
	// a time past a member's header (br is an io.ByteReader), so what br
	// holds unread is not yet consumed.
	pos := func() int { return int(cr.n) - br.Buffered() }
	var at int64
	for pos() < int(size) {
		from := pos()
		zr, err := gzip.NewReader(br)
		if err != nil {
			break
		}
		zr.Multistream(false)
		n, err := io.Copy(io.Discard, io.LimitReader(zr, maxMember+1))
		if n > maxMember {
			return nil, fmt.Errorf("a gzip member larger than %d MiB decompressed: not a recording tcpdash wrote", maxMember>>20)
		}
		out = append(out, member{from: from, to: pos(), at: at, size: n})
		at += n
		if err != nil {
			out[len(out)-1].to = int(size)
			break
		}
	}
	return out, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Findings are the findings logged with snapshot i (computed live, from
// it and the snapshot before it), decoded whole from its line; nil if the
// line does not hold them as findings.
func (t *Tape) Findings(i int) []diagnose.Finding {
	if len(t.frames[i].heads) == 0 {
		return nil
	}
	var all []diagnose.Finding
	_ = objectMembers(t.Line(i), func(key string, val []byte) error {
		if key == "findings" {
			if json.Unmarshal(val, &all) != nil {
				all = nil
			}
		}
		return nil
	})
	return all
}

// Heads are what the index keeps of the findings logged with snapshot i.
// Do not modify them.
func (t *Tape) Heads(i int) []FindingHead { return t.frames[i].heads }

func intern(seen map[string]string, s string) string {
	if v, ok := seen[s]; ok {
		return v
	}
	seen[s] = s
	return s
}

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

// Partial decodes only the named top-level fields of snapshot i (and its
// time): a report over a day of snapshots reads two fields of each, not
// every table.
func (t *Tape) Partial(i int, fields ...string) (*tcpinfo.Snapshot, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	err := objectMembers(t.Line(i), func(key string, val []byte) error {
		if key == "time" || slices.Contains(fields, key) {
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(key)
			b.Write(kb)
			b.WriteByte(':')
			b.Write(val)
		}
		return nil
	})
	b.WriteByte('}')
	var s tcpinfo.Snapshot
	if err == nil {
		err = s.UnmarshalJSON(b.Bytes())
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot %d (%s): %w", i+1, t.frames[i].time.Format(time.RFC3339), err)
	}
	return &s, nil
}

// A Start is where a finding starts: present at a snapshot, absent from
// the one before it (or the first snapshot).
type Start struct {
	Index   int
	Finding FindingHead
}

// Starts lists where findings start, in order.
func (t *Tape) Starts() []Start {
	var out []Start
	before := map[string]bool{}
	for i, f := range t.frames {
		now := make(map[string]bool, len(f.heads))
		for _, fd := range f.heads {
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
