package tcpinfo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixtures are real dumps recorded by TestIntegrationRecordFixtures.
var fixtures = []struct {
	name   string
	family Family
}{{"dump_ipv4", IPv4}, {"dump_ipv6", IPv6}}

// readFixture splits a recorded stream of netlink messages.
func readFixture(t testing.TB, name string) []netlink.Message {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []netlink.Message
	for len(b) > 0 {
		n := int(binary.NativeEndian.Uint32(b))
		n = (n + 3) &^ 3
		var m netlink.Message
		if err := m.UnmarshalBinary(b[:n]); err != nil {
			t.Fatalf("fixture %s: %v", name, err)
		}
		msgs = append(msgs, m)
		b = b[n:]
	}
	return msgs
}

// multipart marks msgs as one multi-part reply, ended by NLMSG_DONE.
func multipart(msgs []netlink.Message) []netlink.Message {
	out := make([]netlink.Message, 0, len(msgs)+1)
	for _, m := range msgs {
		m.Header.Flags |= netlink.Multi
		out = append(out, m)
	}
	seq := uint32(0)
	if len(msgs) > 0 {
		seq = msgs[0].Header.Sequence
	}
	return append(out, netlink.Message{
		Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: seq},
		Data:   make([]byte, 4),
	})
}

func formatSocket(s *Socket) string {
	return fmt.Sprintf("%s %s %s %s timer=%d expires=%s q=%d/%d uid=%d inode=%d cookie=%d",
		s.Family, s.State, s.Local, s.Remote, s.Timer, s.Expires, s.RecvQ, s.SendQ, s.UID, s.Inode, s.Cookie)
}

// TestDumpFixtures replays recorded dumps through a fake netlink socket:
// the request must be a TCP dump of the right family and states, and the
// decoded sockets must match the golden text.
func TestDumpFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			msgs := readFixture(t, fx.name)
			conn := newConn(nltest.Dial(func(req []netlink.Message) ([]netlink.Message, error) {
				r := req[0]
				if r.Header.Type != sockDiagByFamily || r.Header.Flags != netlink.Request|netlink.Dump {
					t.Errorf("request header %+v", r.Header)
				}
				want, _ := request{family: fx.family, states: AnyState}.MarshalBinary()
				if !bytes.Equal(r.Data, want) {
					t.Errorf("request body %x, want %x", r.Data, want)
				}
				out := make([]netlink.Message, len(msgs))
				for i, m := range msgs {
					m.Header.Sequence = r.Header.Sequence
					out[i] = m
				}
				return multipart(out), nil
			}))
			var lines []string
			if err := conn.Dump(fx.family, AnyState, func(s *Socket) { lines = append(lines, formatSocket(s)) }); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", fx.name+".golden"), strings.Join(lines, "\n")+"\n")
		})
	}
}

// TestDumpDeduplicates replays a dump in which the kernel repeated sockets
// across a datagram boundary, as it does under churn.
func TestDumpDeduplicates(t *testing.T) {
	msgs := readFixture(t, "dump_ipv4")
	repeated := append(append([]netlink.Message{}, msgs...), msgs[len(msgs)-3:]...)
	conn := newConn(nltest.Dial(func(req []netlink.Message) ([]netlink.Message, error) {
		for i := range repeated {
			repeated[i].Header.Sequence = req[0].Header.Sequence
		}
		return multipart(repeated), nil
	}))
	n := 0
	if err := conn.Dump(IPv4, AnyState, func(*Socket) { n++ }); err != nil {
		t.Fatal(err)
	}
	if n != len(msgs) {
		t.Errorf("got %d sockets from %d messages with 3 repeats, want %d", n, len(repeated), len(msgs))
	}
}

func TestDumpError(t *testing.T) {
	conn := newConn(nltest.Dial(func(req []netlink.Message) ([]netlink.Message, error) {
		// As the kernel does: errno, then the request it refused.
		orig, err := req[0].MarshalBinary()
		if err != nil {
			return nil, err
		}
		return []netlink.Message{{
			Header: netlink.Header{Type: netlink.Error, Sequence: req[0].Header.Sequence},
			Data:   append(binary.NativeEndian.AppendUint32(nil, errno(unix.ENOENT)), orig...),
		}}, nil
	}))
	err := conn.Dump(IPv4, AnyState, func(*Socket) {})
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("error %v, want one wrapping ENOENT", err)
	}
	if !unsupported(err) {
		t.Errorf("ENOENT from a dump should select the /proc fallback")
	}
}

func TestSocketUnmarshalMalformed(t *testing.T) {
	good := readFixture(t, "dump_ipv4")[0].Data
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "short inet_diag message"},
		{"truncated", good[:diagMsgLen-1], "short inet_diag message"},
		{"bad family", withByte(good, 0, 7), "unknown family 7"},
		{"state zero", withByte(good, 1, 0), "unknown state 0"},
		{"state too big", withByte(good, 1, 13), "unknown state 13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Socket
			err := s.UnmarshalBinary(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Attributes after the fixed part are ignored, not misread.
	var s Socket
	if err := s.UnmarshalBinary(append(bytes.Clone(good), 8, 0, 1, 0, 0, 0, 0, 0)); err != nil {
		t.Fatalf("message with an attribute: %v", err)
	}
}

// errno encodes a negated errno as nlmsgerr's int32 field.
func errno(e unix.Errno) uint32 { return uint32(-int32(e)) }

func withByte(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}

func TestSocketUnmarshalMapped(t *testing.T) {
	b := make([]byte, diagMsgLen)
	b[0], b[1] = byte(IPv6), byte(Established)
	binary.BigEndian.PutUint16(b[4:], 8080)
	copy(b[8:24], []byte{10: 0xff, 11: 0xff, 12: 192, 13: 0, 14: 2, 15: 1})
	var s Socket
	if err := s.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got := s.Local.String(); got != "192.0.2.1:8080" {
		t.Errorf("mapped local address %s, want 192.0.2.1:8080", got)
	}
	if s.Family != IPv6 {
		t.Errorf("family %s, want ipv6: it came from the IPv6 table", s.Family)
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := gocmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// TestIntegrationRecordFixtures rewrites testdata/dump_*.bin from a real
// dump of a small population. It runs only with TCPDASH_RECORD=1.
func TestIntegrationRecordFixtures(t *testing.T) {
	if os.Getenv("TCPDASH_RECORD") == "" {
		t.Skip("set TCPDASH_RECORD=1 to re-record the dump fixtures")
	}
	if !netns.Run(t) {
		return
	}
	pop, err := loadgen.Build(loadgen.Spec{Established: 2, TimeWait: 4, HalfClosed: 1, IPv6: 1, Mapped: 1, Listeners: 1, Dests: 2, Ports: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, fx := range fixtures {
		req, _ := request{family: fx.family, states: AnyState}.MarshalBinary()
		msgs, err := c.Execute(netlink.Message{
			Header: netlink.Header{Type: sockDiagByFamily, Flags: netlink.Request | netlink.Dump},
			Data:   req,
		})
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for _, m := range msgs {
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
		if err := os.WriteFile(filepath.Join("testdata", fx.name+".bin"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestForEachMessage feeds recorded datagrams, and broken ones, to the
// splitter the real receive path uses.
func TestForEachMessage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "dump_ipv4.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := len(readFixture(t, "dump_ipv4"))
	done := make([]byte, 20)
	binary.NativeEndian.PutUint32(done, 20)
	binary.NativeEndian.PutUint16(done[4:], uint16(netlink.Done))
	enoent := bytes.Clone(done)
	binary.NativeEndian.PutUint16(enoent[4:], uint16(netlink.Error))
	binary.NativeEndian.PutUint32(enoent[16:], errno(unix.ENOENT))

	n := 0
	count := func(netlink.Message) error { n++; return nil }
	if fin, err := forEachMessage(b, count); err != nil || fin || n != want {
		t.Fatalf("datagram without DONE: done=%v err=%v, %d messages, want %d", fin, err, n, want)
	}
	n = 0
	if fin, err := forEachMessage(append(bytes.Clone(b), done...), count); err != nil || !fin || n != want {
		t.Fatalf("datagram ending in DONE: done=%v err=%v, %d messages", fin, err, n)
	}
	if _, err := forEachMessage(enoent, count); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("NLMSG_ERROR: error %v, want ENOENT", err)
	}
	for _, cut := range []int{1, 15, 17, len(b) - 1} {
		if _, err := forEachMessage(b[:cut], count); err == nil {
			t.Errorf("datagram cut at %d bytes: no error", cut)
		}
	}
	huge := bytes.Clone(b)
	binary.NativeEndian.PutUint32(huge, 1<<30)
	if _, err := forEachMessage(huge, count); err == nil {
		t.Error("message longer than its datagram: no error")
	}
}

func FuzzForEachMessage(f *testing.F) {
	for _, fx := range fixtures {
		b, err := os.ReadFile(filepath.Join("testdata", fx.name+".bin"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Socket
		forEachMessage(b, func(m netlink.Message) error { return s.UnmarshalBinary(m.Data) })
	})
}
