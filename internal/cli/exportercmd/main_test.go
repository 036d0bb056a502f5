package exportercmd

import (
	"testing"

	"github.com/tcpdash/tcpdash/internal/hostguard"
	"github.com/tcpdash/tcpdash/internal/loadgen"
)

// TestMain lets the binary double as a leaking process for the tests, and
// fails the suite if any test changed the host's sysctls.
func TestMain(m *testing.M) {
	loadgen.MaybeLeak()
	hostguard.Main(m)
}
