// Package humanize formats numbers the way the dashboard and the findings
// print them.
package humanize

import "strconv"

// Int formats n with thousands separators: 28232 → "28,232".
func Int(n int) string {
	s := strconv.Itoa(n)
	start := 0
	if n < 0 {
		start = 1
	}
	for i := len(s) - 3; i > start; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
