package diagnose

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tcpdash/tcpdash/internal/jsonw"
	"github.com/tcpdash/tcpdash/internal/jsonw/jsonwtest"
)

// TestWriteJSONIsMarshal: findings written by hand are, byte for byte,
// what json.Marshal makes of them, on random findings (a field added to
// Finding and not to its writer fails it).
func TestWriteJSONIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for i := range 2000 {
		var fs []Finding
		jsonwtest.Fill(reflect.ValueOf(&fs).Elem(), r)
		for k := range fs { // a severity is one of three
			fs[k].Severity = Severity(r.IntN(3))
		}
		want, err := json.Marshal(append([]Finding{}, fs...)) // none is [], as the JSON lines have it
		if err != nil {
			t.Fatal(err)
		}
		var w jsonw.W
		WriteJSON(&w, fs)
		if got, err := w.Bytes(); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("findings %d: the writer and json.Marshal differ (%v)\nwriter:  %s\nMarshal: %s", i, err, got, want)
		}
	}
}
