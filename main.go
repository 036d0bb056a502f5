// Command tcpdash shows what the kernel's TCP sockets are doing, second by
// second, names who holds them, says why connections fail, and tunes the
// kernel safely. Everything but the exit status and handing over to
// tcpdash-exporter is in internal/cli, the signals that stop a command
// included: a one-shot snapshot starts without them.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/tcpdash/tcpdash/internal/cli"
)

func main() {
	err := cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if x, ok := errors.AsType[*cli.Exec](err); ok {
		err = x.Run()
	}
	os.Exit(cli.ExitCode(err, os.Stderr))
}
