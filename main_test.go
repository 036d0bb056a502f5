package main

import (
	"testing"

	"github.com/tcpdash/tcpdash/internal/hostguard"
)

// TestMain fails the suite if any test changed the host's sysctls.
func TestMain(m *testing.M) { hostguard.Main(m) }
