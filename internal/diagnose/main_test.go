package diagnose_test

import (
	"testing"

	"github.com/tcpdash/tcpdash/internal/hostguard"
	"github.com/tcpdash/tcpdash/internal/loadgen"
)

func TestMain(m *testing.M) {
	loadgen.MaybeLeak()
	hostguard.Main(m)
}
