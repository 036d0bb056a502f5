package termsafe

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nginx", "nginx"},
		{"python3", "python3"},
		{"käse-Ω", "käse-Ω"},
		{"\ufffd", "\ufffd"},
		{"\x1b]2;pwned\a", `\x1b]2;pwned\x07`},
		{"\x1b[2J", `\x1b[2J`},
		{"a\nFAKE LINE", `a\nFAKE LINE`},
		{"tab\there", `tab\there`},
		{"c1\u009bm", `c1\u009bm`},
		{"rtl\u202eevil", `rtl\u202eevil`},
		{"bad\xffutf8", `bad\xffutf8`},
		{`back\slash`, `back\\slash`}, // so an escape shown is never ambiguous
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"nginx", "\x1b]2;x\a", "a\nb", "\xff", "\u202e", "\u009b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if !Printable(out) {
			t.Fatalf("String(%q) = %q still has a control or format character", s, out)
		}
		if String(out) != strings.ReplaceAll(out, `\`, `\\`) {
			t.Fatalf("escaping is not plain: %q", out)
		}
	})
}

func TestJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":"plain é"}`:      `{"a":"plain é"}`,
		"{\"a\":\"\u009b2J\"}": `{"a":"\u009b2J"}`,
		"{\"a\":\"x\u202ey\"}": `{"a":"x\u202ey"}`,
		"{\"a\":\"bad \xff\"}": `{"a":"bad \ufffd"}`,
		"{\"a\":\"\u2028\"}":   `{"a":"\u2028"}`,
	} {
		got := JSON([]byte(in))
		if string(got) != want {
			t.Errorf("JSON(%q) = %q, want %q", in, got, want)
		}
		if !Printable(string(got)) {
			t.Errorf("JSON(%q) = %q is not printable", in, got)
		}
	}
}
