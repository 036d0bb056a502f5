package tcpinfo

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tcpdash/tcpdash/internal/jsonw"
	"github.com/tcpdash/tcpdash/internal/jsonw/jsonwtest"
)

// TestJSONWriterIsMarshal: the hand-written JSON of a snapshot is, byte for
// byte, what json.Marshal makes of the same contract types, on random
// values of every field (zero and not, absent and present, strings that
// need escaping, floats that need an exponent). A field added to a type in
// json.go and not to its writer fails it.
func TestJSONWriterIsMarshal(t *testing.T) {
	jsonwtest.Same(t, 3000, func(r *rand.Rand) (any, func(*jsonw.W)) {
		var j jsonSnapshot
		jsonwtest.Fill(reflect.ValueOf(&j).Elem(), r)
		return &j, j.write
	})
}
