package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpdash/tcpdash/internal/loadgen"
	"github.com/tcpdash/tcpdash/internal/netns"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// TestIntegrationFileDescriptorLeak: a process that leaks a socket every
// 20 ms under a 512-file limit is named with its open files, its limit
// and a time left within 30% of when it really hits EMFILE, and a finding
// says so.
func TestIntegrationFileDescriptorLeak(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	to := netip.MustParseAddrPort("127.0.0.9:3306")
	loadgen.ClosingServer(t, to)
	pid, emfile := loadgen.StartDripper(t, "fd-leaker", to, 20*time.Millisecond, 512)

	var madeAt, predicted time.Time
	var seenFinding string
	streamProcesses(t, 30*time.Second, func(snap *fdSnapshot) bool {
		for _, p := range snap.Processes {
			if p.PID != pid {
				continue
			}
			if p.FdLimit != 512 || p.Fds == 0 {
				t.Fatalf("the leaker's files: %+v; want a limit of 512", p)
			}
			// The first forecast made at least 3 s before the end.
			if p.FdsLeftS != nil && predicted.IsZero() && *p.FdsLeftS > 3 {
				madeAt, predicted = snap.Time, snap.Time.Add(time.Duration(*p.FdsLeftS*float64(time.Second)))
			}
		}
		for _, f := range snap.Findings {
			if f.Kind == "fd_exhaustion" && strings.Contains(f.Title, "fd-leaker") {
				seenFinding = f.Title
			}
		}
		return predicted.IsZero() || seenFinding == ""
	})
	at, ok := <-emfile
	if !ok {
		t.Fatal("the leaker never hit EMFILE")
	}
	if predicted.IsZero() || seenFinding == "" {
		t.Fatalf("no forecast (%v) or no finding (%q)", predicted, seenFinding)
	}
	t.Logf("forecast EMFILE at %s, hit at %s; finding: %s", predicted.Format("15:04:05.000"), at.Format("15:04:05.000"), seenFinding)
	// Within 30% of the time that was left when the forecast was made.
	actual, forecast := at.Sub(madeAt), predicted.Sub(madeAt)
	if math.Abs((forecast - actual).Seconds()) > 0.3*actual.Seconds() {
		t.Errorf("at %s: forecast %v left, it took %v", madeAt.Format("15:04:05.000"), forecast, actual)
	}
}

// TestIntegrationPoolFillsUp: a process that opens a connection every
// 20 ms until it holds 300, under a 512-file limit, and then holds them (a
// connection pool filling up) is forecast to run out while it grows; once
// the /proc walks have seen its count of files hold still for RateWindow,
// neither its row nor a finding says it will. Its smoothed rate alone said
// "in about 18 s" for half a minute after it stopped. Time is the walks'
// (the counts are theirs), so a host whose walks are slow and rare cannot
// fail it; and "still" is the walks' counts, not the pool's word that it
// is full: a CI run once saw its count rise after the first walk after
// "full" (the runtime's own files, or a walk that read the directory as it
// changed), and the forecast rightly lasted RateWindow from that rise.
func TestIntegrationPoolFillsUp(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	to := netip.MustParseAddrPort("127.0.0.10:3306")
	loadgen.ClosingServer(t, to)
	pid, full := loadgen.StartPool(t, "pool-filler", to, 20*time.Millisecond, 512, 300)

	// fullAt is when the pool said it was full; changedAt the last walk
	// whose count of its files differed from the walk before.
	var fullAt, lastWalk, changedAt time.Time
	lastFds := -1
	var counts []string // the walks' counts once it was full, for the log
	forecasts, checked := 0, 0
	streamProcesses(t, 40*time.Second, func(snap *fdSnapshot) bool {
		if fullAt.IsZero() {
			select {
			case at, ok := <-full:
				if !ok {
					t.Error("the pool never filled up")
					return false
				}
				fullAt = at
			default:
			}
		}
		walk := snap.Owners.WalkTime
		i := slices.IndexFunc(snap.Processes, func(p fdProcess) bool { return p.PID == pid })
		if i < 0 {
			// Not listed (it holds 300 sockets: a walk that missed it):
			// nothing to check, and nothing counted as checked.
			return true
		}
		p := snap.Processes[i]
		if walk.After(lastWalk) {
			if p.Fds != lastFds {
				changedAt, lastFds = walk, p.Fds
				if !fullAt.IsZero() {
					counts = append(counts, fmt.Sprintf("%d at +%s", p.Fds, walk.Sub(fullAt).Round(time.Millisecond)))
				}
			}
			lastWalk = walk
		}
		settled := !fullAt.IsZero() && walk.After(fullAt) && walk.Sub(changedAt) > tcpinfo.RateWindow
		switch {
		case !settled && p.FdsLeftS != nil:
			forecasts++
		case settled && p.FdsLeftS != nil:
			t.Errorf("%s after the pool filled up at %d files (still since +%s): %.1f s left",
				snap.Time.Sub(fullAt).Round(time.Millisecond), p.Fds, changedAt.Sub(fullAt).Round(time.Millisecond), *p.FdsLeftS)
		}
		for _, f := range snap.Findings {
			if settled && f.Kind == "fd_exhaustion" && strings.Contains(f.Title, "pool-filler") {
				t.Errorf("%s after the pool filled up: %s", snap.Time.Sub(fullAt).Round(time.Millisecond), f.Title)
			}
		}
		if settled {
			checked++
		}
		return checked < 6
	})
	if forecasts == 0 || checked < 6 {
		t.Fatalf("%d forecasts while the pool grew, %d snapshots after: want a forecast, then 6 snapshots", forecasts, checked)
	}
	t.Logf("%d forecasts while it grew; none in %d snapshots from walks over %s after its count last changed; counts from the pool's \"full\": %s",
		forecasts, checked, tcpinfo.RateWindow, strings.Join(counts, ", "))
}

// fdSnapshot is what the file-descriptor tests read of a snapshot.
type fdSnapshot struct {
	Time   time.Time
	Owners struct {
		WalkTime time.Time `json:"walk_time"`
	}
	Processes []fdProcess
	Findings  []struct{ Kind, Title string }
}

// fdProcess is what they read of a process's row.
type fdProcess struct {
	PID      int
	Fds      int      `json:"fds"`
	FdLimit  int      `json:"fd_limit"`
	FdsLeftS *float64 `json:"fds_left_s"`
}

// streamProcesses runs the JSON stream, polling every 500 ms, and hands
// each snapshot to each until it returns false or timeout passes.
func streamProcesses(t *testing.T, timeout time.Duration, each func(*fdSnapshot) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"--json", "--interval", "500ms", "--ebpf", "off"}, strings.NewReader(""), w, io.Discard)
		w.Close()
	}()
	// Deferred, so that a t.Fatal in each ends the stream too.
	defer func() {
		cancel()
		r.Close() // the stream's next write fails, and it ends
		<-done
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var snap fdSnapshot
		if err := json.Unmarshal(sc.Bytes(), &snap); err != nil {
			t.Error(err)
			break
		}
		if !each(&snap) {
			break
		}
	}
}
