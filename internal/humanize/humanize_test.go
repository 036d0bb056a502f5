package humanize

import "testing"

func TestInt(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 28232: "28,232",
		1234567: "1,234,567", -1000: "-1,000", -100: "-100", -123456: "-123,456"} {
		if got := Int(n); got != want {
			t.Errorf("Int(%d) = %q, want %q", n, got, want)
		}
	}
}
