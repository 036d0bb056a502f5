package tcpinfo

import (
	"os"
	"testing"

	"github.com/tcpdash/tcpdash/internal/loadgen"
)

func TestMain(m *testing.M) {
	loadgen.MaybeLeak()
	os.Exit(m.Run())
}
