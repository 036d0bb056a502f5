// Package jsonwtest helps tests hold a hand-written JSON writer to
// json.Marshal: Fill sets a value of the contract's types at random, and
// Same compares the two on many.
package jsonwtest

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tcpdash/tcpdash/internal/jsonw"
)

// Strings and floats that a writer must treat as json.Marshal does:
// escapes (HTML, control, U+2028, invalid UTF-8) and exponents.
var (
	strs   = []string{"", "", "a", "web-1", "10.0.0.1", "fe80::1%eth0", "<script>&", "\"quoted\"\\", "tab\tnew\nline", "\x00\x1b[2J", "bad \xff utf-8", "\u2028", "日本語"}
	floats = []float64{0, 0, 1, -1, 0.5, 12.34, 1e-7, 3e-9, 1e21, 1.5e22, 123456.789, math.Copysign(0, -1)}
)

// Fill sets v, and everything in it, to random values, zero often: a
// pointer or a slice is nil, empty or filled. Unexported fields are left.
func Fill(v reflect.Value, r *rand.Rand) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				Fill(v.Field(i), r)
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			Fill(v.Index(i), r)
		}
	case reflect.Pointer:
		if r.IntN(2) == 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		Fill(v.Elem(), r)
	case reflect.Slice:
		switch n := r.IntN(4); n {
		case 0:
			v.SetZero()
		default:
			v.Set(reflect.MakeSlice(v.Type(), n-1, n-1))
			for i := range n - 1 {
				Fill(v.Index(i), r)
			}
		}
	case reflect.String:
		v.SetString(strs[r.IntN(len(strs))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Int16, reflect.Int8:
		v.SetInt([]int64{0, 1, -1, 2, 127}[r.IntN(5)])
	case reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Uint16, reflect.Uint8:
		v.SetUint([]uint64{0, 1, 2, 255}[r.IntN(4)])
	case reflect.Float64:
		v.SetFloat(floats[r.IntN(len(floats))])
	default:
		panic("jsonwtest.Fill: " + v.Type().String())
	}
}

// Same fails t unless, for rounds values made by next, write puts
// exactly what json.Marshal makes of want.
func Same(t *testing.T, rounds int, next func(r *rand.Rand) (want any, write func(*jsonw.W))) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(rounds), 1))
	for i := range rounds {
		want, write := next(r)
		wb, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var w jsonw.W
		write(&w)
		if got, err := w.Bytes(); err != nil || !bytes.Equal(got, wb) {
			t.Fatalf("value %d: the writer and json.Marshal differ (%v)\nwriter:  %s\nMarshal: %s", i, err, got, wb)
		}
	}
}
