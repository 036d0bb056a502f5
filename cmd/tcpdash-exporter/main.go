// Command tcpdash-exporter is tcpdash's Prometheus exporter, the program
// `tcpdash exporter` runs; it takes the same flags. It is its own binary
// so that tcpdash does not pay the Prometheus client's start-up.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tcpdash/tcpdash/internal/cli"
	"github.com/tcpdash/tcpdash/internal/cli/exportercmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := exportercmd.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode(err, os.Stderr))
}
