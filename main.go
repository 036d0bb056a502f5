// Command tcpdash shows what the kernel's TCP sockets are doing, second by
// second, names who holds them, says why connections fail, and tunes the
// kernel safely. Everything but signals, the exit status and handing over
// to tcpdash-exporter is in internal/cli.
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/tcpdash/tcpdash/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if x, ok := errors.AsType[*cli.Exec](err); ok {
		err = x.Run()
	}
	os.Exit(cli.ExitCode(err, os.Stderr))
}
