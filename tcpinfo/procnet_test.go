package tcpinfo

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseProcNetFixtures(t *testing.T) {
	for _, fx := range []struct {
		file   string
		family Family
	}{{"proc_net_tcp", IPv4}, {"proc_net_tcp6", IPv6}} {
		t.Run(fx.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", fx.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var lines []string
			if err := ParseProcNet(f, fx.family, func(s *Socket) { lines = append(lines, formatSocket(s)) }); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", fx.file+".golden"), strings.Join(lines, "\n")+"\n")
		})
	}
}

func TestParseProcNetMalformed(t *testing.T) {
	const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	const good = "   0: 0100007F:C8B8 0100007F:4E84 06 00000000:00000000 03:0000176F 00000000     0        0 0 3 00000000d2e1b57f\n"
	tests := []struct {
		name, line, want string
	}{
		{"truncated line", good[:40], "line 2: 5 fields"},
		{"bad address", strings.Replace(good, "0100007F:C8B8", "0100007G:C8B8", 1), "line 2: local address"},
		{"short address", strings.Replace(good, "0100007F:C8B8", "00007F:C8B8", 1), "line 2: local address"},
		{"port too wide", strings.Replace(good, ":4E84", ":4E8400", 1), "line 2: remote address"},
		{"bad state", strings.Replace(good, " 06 ", " 0Z ", 1), "bad state"},
		{"state out of range", strings.Replace(good, " 06 ", " 0D ", 1), "bad state"},
		{"bad timer", strings.Replace(good, "03:0000176F", "03-0000176F", 1), "timer"},
		{"negative uid", strings.Replace(good, "     0        0 0", "    -1        0 0", 1), "uid"},
		{"too long", strings.Repeat("x", 70<<10), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ParseProcNet(strings.NewReader(header+tt.line), IPv4, func(*Socket) {})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// A file cut off mid-line by a short read is an error, not a socket.
	n := 0
	err := ParseProcNet(strings.NewReader(header+good+good[:60]), IPv4, func(*Socket) { n++ })
	if err == nil {
		t.Errorf("truncated file parsed without error")
	}
	// The header alone is an empty table.
	if err := ParseProcNet(strings.NewReader(header), IPv4, func(*Socket) { t.Error("socket from a header") }); err != nil {
		t.Error(err)
	}
}

func TestParseProcNetTimeWaitExpiry(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "proc_net_tcp"))
	if err != nil {
		t.Fatal(err)
	}
	var tw []Socket
	ParseProcNet(bytes.NewReader(b), IPv4, func(s *Socket) {
		if s.State == TimeWait {
			tw = append(tw, *s)
		}
	})
	// 0x176F clock ticks at USER_HZ=100 is 59.99 s.
	if len(tw) != 1 || tw[0].Expires.Milliseconds() != 59990 || tw[0].Inode != 0 {
		t.Fatalf("TIME_WAIT sockets %+v, want one expiring in 59.99s with no inode", tw)
	}
}

func FuzzParseProcNet(f *testing.F) {
	for _, name := range []string{"proc_net_tcp", "proc_net_tcp6"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, name == "proc_net_tcp6")
	}
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		family := IPv4
		if v6 {
			family = IPv6
		}
		_ = ParseProcNet(bytes.NewReader(b), family, func(s *Socket) {
			if !s.State.Valid() {
				t.Fatalf("parsed invalid state %d", s.State)
			}
		})
	})
}

func FuzzSocketUnmarshal(f *testing.F) {
	for _, fx := range fixtures {
		for _, m := range readFixture(f, fx.name) {
			f.Add(m.Data)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Socket
		if err := s.UnmarshalBinary(b); err == nil && !s.State.Valid() {
			t.Fatalf("decoded invalid state %d", s.State)
		}
	})
}

func FuzzParsePortRange(f *testing.F) {
	f.Add([]byte("32768\t60999\n"), []byte(""))
	f.Add([]byte("1024 65535"), []byte("8080,9000-9100\n"))
	f.Add([]byte("40000 40010"), []byte("39990-40005,40005,40010-40020"))
	f.Fuzz(func(t *testing.T, rng, reserved []byte) {
		r, err := ParsePortRange(rng, reserved)
		if err != nil {
			return
		}
		// Capacity is exactly the ports connect() may pick.
		n := 0
		for p := range 1 << 16 {
			if r.Ephemeral(uint16(p)) {
				n++
			}
		}
		if r.Capacity() != n {
			t.Fatalf("range %q reserved %q: capacity %d, but %d ports are ephemeral", rng, reserved, r.Capacity(), n)
		}
	})
}
