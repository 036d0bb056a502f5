package diagnose

import (
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
	jsonwtest.Same(t, 2000, func(r *rand.Rand) (any, func(*jsonw.W)) {
		var fs []Finding
		jsonwtest.Fill(reflect.ValueOf(&fs).Elem(), r)
		for k := range fs { // a severity is one of three
			fs[k].Severity = Severity(r.IntN(3))
		}
		// None is [], as the JSON lines have it.
		return append([]Finding{}, fs...), func(w *jsonw.W) { WriteJSON(w, fs) }
	})
}
