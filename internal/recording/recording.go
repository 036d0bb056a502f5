// Package recording holds tcpdash's recording format: a header line, then
// one line per snapshot (the --json object, unchanged) and per event, as
// JSON lines in a stream of gzip members. A member is closed at least every
// MemberEvery of recorded time, so a recorder killed mid-way leaves a file
// readable up to its last closed member. The reader also takes a plain
// --json log, gzipped or not.
package recording

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode"
)

const (
	// Format names the format in the header's "format" field.
	Format = "tcpdash-recording"
	// Version is the newest format version this package reads and the one
	// it writes.
	Version = 1
	// MemberEvery bounds what a killed recorder can lose.
	MemberEvery = 60 * time.Second
	// maxLine bounds one line, so hostile input cannot exhaust memory.
	maxLine = 16 << 20
	// maxObjects bounds the JSON objects in one line: decoding one costs
	// a few hundred bytes however short it is ("{}" is two), so a line of
	// millions of empty findings would cost gigabytes. A snapshot with
	// --top 1000 holds about 20,000.
	maxObjects = 50_000
	// maxBlank bounds the whitespace between two lines.
	maxBlank = 1 << 20
	// maxMember bounds one gzip member decompressed: a recorder closes one
	// every MemberEvery, about a megabyte on a busy host.
	maxMember = 256 << 20
	// maxStream bounds a whole recording decompressed: a day at one
	// snapshot a second of a busy host is about 1.5 GB.
	maxStream = 8 << 30
	// maxEvents bounds a recording's events, and maxSysctlNames the
	// sysctls they name: tcpdash changes a handful per tuning batch.
	maxEvents      = 100_000
	maxSysctlNames = 1_000
	// maxSnapshots bounds a tape's index, a few hundred bytes each: a
	// week at one a second. Lines of a few bytes would otherwise make
	// gigabytes of index out of a small file.
	maxSnapshots = 1_000_000
)

// Header describes where and how a recording was made.
type Header struct {
	Format     string            `json:"format"`
	Version    int               `json:"version"`
	Start      time.Time         `json:"start"`
	Host       string            `json:"host"`
	Kernel     string            `json:"kernel"`
	Netns      string            `json:"netns,omitempty"`
	PortRange  [2]int            `json:"port_range"`
	Sysctls    map[string]string `json:"sysctls,omitempty"`
	IntervalMS int64             `json:"interval_ms"`
	Tcpdash    string            `json:"tcpdash"`
	// Filter is --filter's expression: every snapshot is over the
	// sockets it selects. Empty: all.
	Filter string `json:"filter,omitempty"`
}

// Event is something that happened between snapshots: today, a sysctl
// that tcpdash changed.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // "sysctl"
	Name string    `json:"name"`
	Old  string    `json:"old"`
	New  string    `json:"new"`
}

// Record is one line after the header: a snapshot or an event.
type Record struct {
	Time time.Time
	// Snapshot is the --json object exactly as it was logged, or nil.
	Snapshot json.RawMessage
	Event    *Event

	// at and size place the line in the decompressed stream, for a Tape
	// that keeps the file compressed and finds lines again.
	at   int64
	size int
	// states and findings are the snapshot's fields of those names, raw,
	// for a Tape's index.
	states, findings []byte
}

// ErrNewer is returned for a recording in a format newer than Version.
var ErrNewer = errors.New("recording is in a newer format")

// Writer writes a recording. It is not safe for concurrent use.
type Writer struct {
	w     io.Writer
	gz    *gzip.Writer
	since time.Time // the open member's first record
	open  bool
}

// NewWriter writes h, in a member of its own, to w.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Format, h.Version = Format, Version
	// The best compression costs little at one line a second, and a busy
	// host's lines are mostly numbers that change: 15% smaller than the default.
	gz, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
	rw := &Writer{w: w, gz: gz}
	if err := rw.line(h); err != nil {
		return nil, err
	}
	if err := rw.gz.Close(); err != nil {
		return nil, fmt.Errorf("write recording header: %w", err)
	}
	return rw, nil
}

// Snapshot appends one --json line taken at t.
func (w *Writer) Snapshot(t time.Time, line []byte) error {
	line = bytes.TrimRight(line, "\n")
	if !json.Valid(line) || len(line) == 0 || line[0] != '{' || bytes.IndexByte(line, '\n') >= 0 {
		return errors.New("record snapshot: not one JSON object")
	}
	return w.record(t, line)
}

// Event appends e.
func (w *Writer) Event(e Event) error {
	b, err := json.Marshal(struct {
		Event Event `json:"event"`
	}{e})
	if err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	return w.record(e.Time, b)
}

func (w *Writer) record(t time.Time, line []byte) error {
	if w.open && t.Sub(w.since) >= MemberEvery {
		if err := w.gz.Close(); err != nil {
			return fmt.Errorf("close recording member: %w", err)
		}
		w.open = false
	}
	if !w.open {
		w.gz.Reset(w.w)
		w.since, w.open = t, true
	}
	if _, err := w.gz.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write recording: %w", err)
	}
	return nil
}

func (w *Writer) line(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.gz.Write(append(b, '\n'))
	return err
}

// Close closes the open member; it does not close the underlying writer.
func (w *Writer) Close() error {
	if !w.open {
		return nil
	}
	w.open = false
	if err := w.gz.Close(); err != nil {
		return fmt.Errorf("close recording: %w", err)
	}
	return nil
}

// Reader reads a recording or a --json log.
type Reader struct {
	// Header is nil for a --json log.
	Header *Header
	// Truncated reports, once Next has returned io.EOF, that the input
	// ended inside a line or a gzip member: what was complete was read.
	Truncated bool

	br   *bufio.Reader
	line int
	next []byte // a first line read while looking for the header
	// pos counts the decompressed bytes read; start is where the line
	// readLine returned last begins, nextStart where next does.
	pos, start, nextStart int64
}

// NewReader reads the header, if any, from r.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("not a tcpdash recording: it ends before its first line")
		}
		if err != nil {
			return nil, fmt.Errorf("not a tcpdash recording: %w", err)
		}
		br = bufio.NewReader(gz)
	}
	rd := &Reader{br: br}
	first, err := rd.readLine()
	if err == io.EOF {
		if rd.Truncated {
			return nil, errors.New("not a tcpdash recording: it ends before its first line")
		}
		return nil, errors.New("empty: no snapshots in it")
	}
	if err != nil {
		return nil, err
	}
	var probe struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if first[0] != '{' || json.Unmarshal(first, &probe) != nil {
		return nil, errors.New("not a tcpdash recording or --json log: its first line is not a JSON object")
	}
	if probe.Format == "" {
		rd.next, rd.nextStart = first, rd.start // a --json log: the first line is a snapshot
		return rd, nil
	}
	if probe.Format != Format {
		return nil, fmt.Errorf("not a tcpdash recording: format %q", probe.Format)
	}
	if probe.Version > Version {
		return nil, fmt.Errorf("%w (version %d; this tcpdash reads up to %d): use a newer tcpdash", ErrNewer, probe.Version, Version)
	}
	var h Header
	if err := json.Unmarshal(first, &h); err != nil {
		return nil, fmt.Errorf("recording header: %w", err)
	}
	rd.Header = &h
	return rd, nil
}

// Next returns the next record, or io.EOF at the end.
func (r *Reader) Next() (Record, error) {
	b, at := r.next, r.nextStart
	r.next = nil
	if b == nil {
		var err error
		if b, err = r.readLine(); err != nil {
			return Record{}, err
		}
		at = r.start
	}
	if b[0] != '{' {
		return Record{}, fmt.Errorf("line %d: not a JSON object", r.line)
	}
	// Counted before decoding: a brace inside a string counts too, which
	// only errs on the safe side.
	if n := bytes.Count(b, []byte("{")); n > maxObjects {
		return Record{}, fmt.Errorf("line %d: %d JSON objects in one line, more than the %d a snapshot can hold", r.line, n, maxObjects)
	}
	// One pass over the line finds the fields an index needs; the rest is
	// decoded, and checked, when the snapshot is.
	rec := Record{at: at, size: len(b)}
	var when, event []byte
	err := objectMembers(b, func(key string, val []byte) error {
		switch key {
		case "time":
			when = val
		case "event":
			event = val
		case "states":
			rec.states = val
		case "findings":
			rec.findings = val
		}
		return nil
	})
	if err != nil {
		return Record{}, fmt.Errorf("line %d: not a JSON object", r.line)
	}
	if event != nil && string(event) != "null" {
		var e Event
		if json.Unmarshal(event, &e) != nil {
			return Record{}, fmt.Errorf("line %d: an event that is not one", r.line)
		}
		return Record{Time: e.Time, Event: &e, at: at, size: len(b)}, nil
	}
	var ts string
	t, err := time.Time{}, json.Unmarshal(when, &ts)
	if err == nil {
		t, err = time.Parse(time.RFC3339Nano, ts)
	}
	if err != nil {
		return Record{}, fmt.Errorf("line %d: a snapshot without a valid \"time\"", r.line)
	}
	rec.Time, rec.Snapshot = t, json.RawMessage(b)
	return rec, nil
}

// readLine returns the next non-empty line without its newline. A line
// cut short by the end of the input, or by a gzip member cut short, is
// dropped and marks the reader Truncated.
func (r *Reader) readLine() ([]byte, error) {
	blank := 0
	for {
		if r.pos > maxStream {
			return nil, fmt.Errorf("more than %d GiB decompressed: not a recording tcpdash wrote", maxStream>>30)
		}
		at := r.pos
		b, err := r.readRaw()
		r.pos += int64(len(b))
		if err == io.EOF && json.Valid(b) && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
			err = nil // a last line without its newline, but whole
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) || (err == io.EOF && len(b) > 0) {
				r.Truncated = true
				return nil, io.EOF
			}
			if err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("corrupt at line %d: %w", r.line+1, err)
		}
		r.line++
		t := bytes.TrimSpace(b)
		if len(t) == 0 {
			if blank += len(b); blank > maxBlank {
				return nil, fmt.Errorf("corrupt at line %d: more than %d KiB of blank lines", r.line, maxBlank>>10)
			}
			continue
		}
		r.start = at + int64(len(b)-len(bytes.TrimLeftFunc(b, unicode.IsSpace)))
		return t, nil
	}
}

// readRaw reads up to and including '\n', at most maxLine bytes. It
// returns what it read with io.EOF when the input ends first.
func (r *Reader) readRaw() ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("a line longer than %d MiB", maxLine>>20)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, err
		}
	}
}
