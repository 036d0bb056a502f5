// Package termsafe makes strings from outside printable before a terminal
// sees them. tcpdash runs as root and prints what others chose: a process
// names itself with prctl(PR_SET_NAME), a hostname, a file's lines. A raw
// ESC]2;…BEL retitles the terminal, ESC[2J clears it, a newline forges a
// report line; here every such byte is shown as an escape instead.
package termsafe

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns s with every control character (C0, DEL, C1), every
// invisible formatting character (bidirectional overrides and the like)
// and every byte that is not UTF-8 written as a Go-style escape: `\x1b`,
// `\n`, `\u202e`. Printable text, non-ASCII letters included, is kept.
func String(s string) string {
	if printable(s) {
		return s // the common case allocates nothing
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Error is String of err's message; "" for nil.
func Error(err error) string {
	if err == nil {
		return ""
	}
	return String(err.Error())
}

// printable reports whether String would keep s as it is.
func printable(s string) bool {
	return !strings.ContainsRune(s, '\\') && Printable(s)
}

// Printable reports whether s has nothing a terminal would act on: no
// control or format character and no byte that is not UTF-8.
func Printable(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
				return false
			}
			i += size - 1
		}
	}
	return true
}

// unsafeRune is a C1 control, or a format character such as U+202E that
// reorders or hides what follows it.
func unsafeRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || unicode.Is(unicode.Cf, r) || r == 0x2028 || r == 0x2029
}

// JSON returns a JSON text with every rune a terminal would act on written
// as a \u escape: the same JSON value, safe to print. Bytes that are not
// UTF-8 become \ufffd, as a JSON decoder reads them. Valid JSON has no raw
// C0 control, so only C1 and format characters, which it allows inside
// strings, need it.
func JSON(b []byte) []byte {
	if Printable(string(bytes.Trim(b, "\t\r\n"))) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			out = append(out, `\ufffd`...)
		case r == '\t' || r == '\n' || r == '\r':
			out = append(out, byte(r)) // whitespace between tokens
		case r < 0x20 || r == 0x7f || unsafeRune(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
