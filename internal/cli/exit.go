package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/tuning"
)

// Exit statuses. exitChanged is tune's "changed, but …": the kernel was
// changed and something after that failed; the message names each key's
// value now.
const (
	exitRefused = 1
	exitUsage   = 2
	exitChanged = 3
)

// ExitCode prints err the house way and maps it to an exit status:
// 2 for bad usage, 3 when sysctls were changed but not as asked, 1 for
// everything else (nothing changed).
func ExitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	// Errors quote what users typed and paths and names from outside:
	// one printable line each.
	fmt.Fprintf(stderr, "tcpdash: error: %s\n", termsafe.Error(err))
	var u usageError
	if errors.As(err, &u) {
		if u.usage != "" {
			fmt.Fprint(stderr, u.usage)
		} else {
			help := "tcpdash --help"
			if u.cmd != "" && u.cmd != cmdMain {
				help = "tcpdash " + u.cmd + " --help"
			}
			fmt.Fprintf(stderr, "tcpdash: hint: %s lists the flags and what they take\n", help)
		}
		return exitUsage
	}
	var h hinted
	if errors.As(err, &h) {
		fmt.Fprintf(stderr, "tcpdash: hint: %s\n", termsafe.String(h.hint))
	}
	var changed *tuning.ChangedError
	if errors.As(err, &changed) {
		return exitChanged
	}
	return exitRefused
}
