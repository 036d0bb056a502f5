package exportercmd

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/tcpdash/tcpdash/internal/cli"
	"github.com/tcpdash/tcpdash/internal/netns"
)

// runCLI runs tcpdash's command line, as the tests in internal/cli do.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = cli.Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// listeningOn waits for the exporter to say where it listens, on stderr,
// and returns the address.
func listeningOn(t *testing.T, stderr *syncBuffer) (addr string) {
	t.Helper()
	re := regexp.MustCompile(`listening on (127\.0\.0\.1:[0-9]+)`)
	netns.WaitFor(t, "the exporter to listen", func() bool {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return addr
}
