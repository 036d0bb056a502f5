package jsonw

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// FuzzString: any string is quoted as json.Marshal quotes it.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\` + "\n\r\t\b\f\x00\x1f\x7f", "<a href='x'>&amp;</a>", "\u2028\u2029",
		"bad \xff\xfe utf-8 \xe2\x80", "fe80::1%eth0", "é日本\U0001F600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	})
}

// FuzzFloat: any finite float64 is written as json.Marshal writes it; NaN
// and the infinities are refused.
func FuzzFloat(f *testing.F) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 123456789e15,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 12.3456, 0.0001} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		var w W
		w.Float(v)
		got, err := w.Bytes()
		want, werr := json.Marshal(v)
		if werr != nil {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("%v: %s, %v; json.Marshal refuses it", v, got, err)
			}
			return
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%v: %s, %v; want %s", v, got, err, want)
		}
	})
}

func TestNesting(t *testing.T) {
	var w W
	w.Object()
	w.Key("a").Int(-1)
	w.Key("b").Array()
	w.Uint(1)
	w.Object()
	w.Key("c").Bool(true)
	w.Key("d").Null()
	w.End()
	w.Strings(nil)
	w.Strings([]string{})
	w.Strings([]string{"x", "y"})
	w.EndArray()
	w.Key("e").Raw([]byte(`{"f":2}`))
	w.Key("e2").Append(func(b []byte) []byte { return append(b, "[3]"...) })
	w.Key("g").Float(0.5)
	w.Key("h").String("<")
	w.End()
	got, err := w.Bytes()
	want := `{"a":-1,"b":[1,{"c":true,"d":null},null,[],["x","y"]],"e":{"f":2},"e2":[3],"g":0.5,"h":"\u003c"}`
	if err != nil || string(got) != want {
		t.Errorf("got %s, %v\nwant %s", got, err, want)
	}
	if !json.Valid(got) {
		t.Error("not valid JSON")
	}
}
