package tcpinfo

import (
	"strings"
	"testing"
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
