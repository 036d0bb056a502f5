// Package jsonw writes JSON by hand, byte for byte as encoding/json
// writes the same values: strings escaped alike (HTML characters, U+2028
// and U+2029, invalid UTF-8), numbers formatted alike.
//
// It exists for the one-shot snapshot. encoding/json builds an encoder for
// each type by reflection the first time it meets it, and a snapshot's
// twenty types cost 1.7 ms of a `--once` that the raw dump it is measured
// against never pays; the second snapshot costs 0.03 ms. The types keep
// their struct tags as the contract, and each package's tests hold its
// writer to json.Marshal of the same value.
package jsonw

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// A W appends JSON values to a buffer. Objects and arrays nest: Key names
// an object's next value, and values in an array follow one another; W
// writes the commas.
type W struct {
	b        []byte
	more     []bool // per open object or array: a value is in it
	afterKey bool
	err      error
}

// ErrUnsupported is what Bytes returns after a NaN or an infinity, which
// JSON cannot hold (json.Marshal refuses them too).
var ErrUnsupported = errors.New("jsonw: NaN or infinity")

// Bytes returns what was written, or the first error.
func (w *W) Bytes() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	return w.b, nil
}

// value puts the comma before a value in an array or an object's key.
func (w *W) value() {
	if w.afterKey {
		w.afterKey = false
		return
	}
	if n := len(w.more); n > 0 {
		if w.more[n-1] {
			w.b = append(w.b, ',')
		}
		w.more[n-1] = true
	}
}

// Object opens an object; End closes it.
func (w *W) Object() *W {
	w.value()
	w.b = append(w.b, '{')
	w.more = append(w.more, false)
	return w
}

// Array opens an array; End closes it.
func (w *W) Array() *W {
	w.value()
	w.b = append(w.b, '[')
	w.more = append(w.more, false)
	return w
}

// End closes the innermost object (or array, with EndArray).
func (w *W) End() { w.close('}') }

// EndArray closes the innermost array.
func (w *W) EndArray() { w.close(']') }

func (w *W) close(c byte) {
	w.more = w.more[:len(w.more)-1]
	w.b = append(w.b, c)
}

// Key names the next value in an object. k is a name of the contract,
// which needs no escaping.
func (w *W) Key(k string) *W {
	w.value()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
	w.afterKey = true
	return w
}

// String writes a string.
func (w *W) String(s string) {
	w.value()
	w.b = AppendString(w.b, s)
}

// Int writes an integer.
func (w *W) Int(n int64) {
	w.value()
	w.b = strconv.AppendInt(w.b, n, 10)
}

// Uint writes an unsigned integer.
func (w *W) Uint(n uint64) {
	w.value()
	w.b = strconv.AppendUint(w.b, n, 10)
}

// Bool writes true or false.
func (w *W) Bool(v bool) {
	w.value()
	w.b = strconv.AppendBool(w.b, v)
}

// Null writes null.
func (w *W) Null() {
	w.value()
	w.b = append(w.b, "null"...)
}

// Raw writes a value already in JSON.
func (w *W) Raw(b []byte) {
	w.value()
	w.b = append(w.b, b...)
}

// Append writes a value in JSON that appendTo appends to the buffer: a
// type's own writer, without a buffer of its own for each value.
func (w *W) Append(appendTo func([]byte) []byte) {
	w.value()
	w.b = appendTo(w.b)
}

// Float writes a float64 as encoding/json does: like %f, but with an
// exponent below 1e-6 and from 1e21, its minus and zero trimmed (1e-07
// is 1e-7).
func (w *W) Float(f float64) {
	w.value()
	if math.IsInf(f, 0) || math.IsNaN(f) {
		if w.err == nil {
			w.err = ErrUnsupported
		}
		w.b = append(w.b, '0')
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.b = strconv.AppendFloat(w.b, f, format, -1, 64)
	if n := len(w.b); format == 'e' && n >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
		w.b[n-2] = w.b[n-1]
		w.b = w.b[:n-1]
	}
}

// Strings writes an array of strings, null for a nil slice.
func (w *W) Strings(s []string) {
	if s == nil {
		w.Null()
		return
	}
	w.Array()
	for _, v := range s {
		w.String(v)
	}
	w.EndArray()
}

const hex = "0123456789abcdef"

// AppendString appends s quoted as encoding/json quotes it: ", \ and the
// control characters escaped (\n, \r, \t, \b, \f short), <, > and & as
// \u003c, \u003e and \u0026, U+2028 and U+2029 escaped, and each byte of
// invalid UTF-8 as \ufffd.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
