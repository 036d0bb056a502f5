package tcpinfo

import (
	"bytes"
	"encoding/json"
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
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 3000 {
		var j jsonSnapshot
		if i > 0 { // the zero snapshot first
			jsonwtest.Fill(reflect.ValueOf(&j).Elem(), r)
		}
		want, err := json.Marshal(&j)
		if err != nil {
			t.Fatal(err)
		}
		var w jsonw.W
		j.write(&w)
		got, err := w.Bytes()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("value %d: the writer and json.Marshal differ (%v)\nwriter:  %s\nMarshal: %s", i, err, got, want)
		}
	}
}
