package tcpinfo

import "testing"

// BenchmarkCookieWindow: a dump's worth of fresh cookies, as the kernel
// hands them out (increasing, with gaps), through the window.
func BenchmarkCookieWindow(b *testing.B) {
	var w cookieWindow
	cookies := make([]uint64, 200_000)
	c := uint64(1 << 20)
	for i := range cookies {
		c += uint64(1 + i%7)
		cookies[i] = c
	}
	for b.Loop() {
		w.reset()
		for _, c := range cookies {
			w.seen(c)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(cookies)), "ns/cookie")
}
