package tuning_test

import (
	"testing"

	"github.com/tcpdash/tcpdash/internal/hostguard"
)

func TestMain(m *testing.M) { hostguard.Main(m) }
