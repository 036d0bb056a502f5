package tcpinfo

import (
	"strings"
	"testing"

	"github.com/tcpdash/tcpdash/internal/filter"
)

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		rng, reserved string
		capacity      int
		ephemeral     []uint16
		notEphemeral  []uint16
		err           string
	}{
		{rng: "32768\t60999\n", capacity: 28232, ephemeral: []uint16{32768, 60999}, notEphemeral: []uint16{32767, 61000}},
		{rng: "32768 60999", reserved: "40000,50000-50009\n", capacity: 28232 - 11,
			ephemeral: []uint16{39999, 50010}, notEphemeral: []uint16{40000, 50005}},
		{rng: "1024 2047", reserved: "80,1024-1030,70000", err: "bad entry"},
		{rng: "1024 2047", reserved: "80,1030-1024", err: "bad entry"},
		{rng: "1024 2047", reserved: "80,1020-1030", capacity: 1024 - 7},
		{rng: "60999 32768", err: "LOW must be below HIGH"},
		{rng: "32768", err: "two ports"},
		{rng: "abc def", err: "two ports"},
	}
	for _, tt := range tests {
		t.Run(tt.rng+"/"+tt.reserved, func(t *testing.T) {
			r, err := ParsePortRange([]byte(tt.rng), []byte(tt.reserved))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Capacity() != tt.capacity {
				t.Errorf("capacity %d, want %d", r.Capacity(), tt.capacity)
			}
			for _, p := range tt.ephemeral {
				if !r.Ephemeral(p) {
					t.Errorf("port %d should be ephemeral", p)
				}
			}
			for _, p := range tt.notEphemeral {
				if r.Ephemeral(p) {
					t.Errorf("port %d should not be ephemeral", p)
				}
			}
		})
	}
}

// TestAutoboundIsSSs: a socket on a reserved port inside the range reads
// as autobound, as ss reads it, in the dashboard's filter as in the dump's
// (one model, PortRange.Autobound); connect() never picks it, so it is
// not Ephemeral.
func TestAutoboundIsSSs(t *testing.T) {
	ports, err := ParsePortRange([]byte("40000 40999"), []byte("40500"))
	if err != nil {
		t.Fatal(err)
	}
	if !ports.Autobound(40500) || ports.Ephemeral(40500) || ports.Autobound(41000) {
		t.Fatalf("reserved 40500: autobound %v, ephemeral %v; 41000 autobound %v", ports.Autobound(40500), ports.Ephemeral(40500), ports.Autobound(41000))
	}
	f, err := filter.Parse("autobound")
	if err != nil {
		t.Fatal(err)
	}
	q := Query{Narrow: f}
	var e filter.Entry
	s := sock(Established, "10.0.0.1:40500", "10.0.0.5:3306", 0)
	if !q.matches(s, -1, ports, &e) {
		t.Error("the dashboard's autobound leaves out a socket on a reserved port in the range; ss and the dump count it")
	}
}
