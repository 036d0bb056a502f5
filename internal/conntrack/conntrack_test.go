package conntrack

import (
	"errors"
	"testing"
)

// BenchmarkRead is one poll's read of the table, in this namespace: with
// the socket kept, and dialed for every read (as it was).
func BenchmarkRead(b *testing.B) {
	for _, redial := range []bool{false, true} {
		b.Run(map[bool]string{false: "kept", true: "dialed-each-read"}[redial], func(b *testing.B) {
			r := New(0, nil)
			defer r.Close()
			if _, err := r.Read(); errors.Is(err, ErrAbsent) {
				b.Skip(err)
			}
			for b.Loop() {
				if _, err := r.Read(); err != nil {
					b.Fatal(err)
				}
				if redial {
					r.Close()
				}
			}
		})
	}
}
