package recording

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzObjectMembers: on every valid JSON object, objectMembers finds the
// members encoding/json finds, values byte for byte; on anything else it
// returns or errs, never panics, in time linear in the input.
func FuzzObjectMembers(f *testing.F) {
	for _, s := range []string{`{"time":"2026-11-27T14:03:01Z","states":{"LISTEN":1},"findings":[{"title":"a \"b\" {c}"}]}`,
		`{}`, `{"a":[1,{"b":[]}],"c":null}`, `{"k\u0065y":"v"}`, `{"a":"\\"}`, `[1]`, `{"a":}`, `{"a":"x"`, `{"a":[}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := map[string]string{}
		err := objectMembers(b, func(key string, val []byte) error {
			got[key] = string(val)
			return nil
		})
		var want map[string]json.RawMessage
		if json.Unmarshal(b, &want) != nil || want == nil || !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
			return // not an object: anything but a panic is fine
		}
		if err != nil {
			t.Fatalf("a valid object %q: %v", b, err)
		}
		for k, v := range want {
			if got[k] != string(v) {
				t.Fatalf("member %q = %q, encoding/json says %q", k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d members, encoding/json finds %d", len(got), len(want))
		}
	})
}
