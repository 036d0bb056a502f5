package diagnose

import (
	"fmt"
	"strings"

	"github.com/tcpdash/tcpdash/internal/humanize"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// OwnerNotes says, in a line each, which sockets have no owner and why:
// what --once and the processes pane print under the processes. root
// says whether tcpdash runs as root, so that it is never told to.
func OwnerNotes(a tcpinfo.Attribution, root bool) []string {
	if !a.Enabled {
		return nil
	}
	var notes []string
	if a.Unowned > 0 {
		kinds := parts(a.UnownedTimeWait, "TIME_WAIT", a.UnownedHandshake, "handshakes", a.UnownedOrphan, "orphaned")
		if kinds != "" {
			kinds = " (" + kinds + ")"
		}
		clue := "their remote endpoint is the clue"
		unnamed := a.UnownedTimeWait - a.UnownedRemembered - a.TimeWaitFromOpener
		switch {
		case a.TimeWaitFromOpener > 0:
			clue = fmt.Sprintf("%s TIME_WAIT named by the process that opened the connection (eBPF, at connect())", humanize.Int(a.TimeWaitFromOpener))
			if a.UnownedRemembered > 0 {
				clue += fmt.Sprintf(", %s by the process that held it open", humanize.Int(a.UnownedRemembered))
			}
			clue += fmt.Sprintf("; %s not named", humanize.Int(unnamed))
		case a.UnownedRemembered > 0:
			clue = fmt.Sprintf("%s TIME_WAIT counted for the process and cgroup that held the connection open; %s never seen open",
				humanize.Int(a.UnownedRemembered), humanize.Int(unnamed))
		case a.UnownedTimeWait > 0 && a.Remembered == 0:
			clue += " (one snapshot cannot see who opened a TIME_WAIT socket; the dashboard and --json streams remember)"
		}
		if unnamed > 0 && a.Openers.Name == "" && a.Openers.Note != "" {
			clue += " — connections shorter than a poll are named with eBPF, here " + a.Openers.Note
		}
		notes = append(notes, fmt.Sprintf("%s sockets have no owner in the kernel%s: %s",
			humanize.Int(a.Unowned), kinds, clue))
	}
	if a.Unknown > 0 {
		var why []string
		if a.UnseenNewer > 0 {
			why = append(why, humanize.Int(a.UnseenNewer)+" opened after the /proc walk")
		}
		if a.UnseenHidden > 0 {
			if root {
				why = append(why, fmt.Sprintf("%s held by processes outside this user namespace (%d unreadable even to root)",
					humanize.Int(a.UnseenHidden), a.Hidden))
			} else {
				why = append(why, fmt.Sprintf("%s held by other users' processes (%d unreadable): run as root to see them",
					humanize.Int(a.UnseenHidden), a.Hidden))
			}
		}
		if a.UnseenLeaderGone > 0 {
			why = append(why, humanize.Int(a.UnseenLeaderGone)+" held by processes whose main thread exited and whose threads could not be read")
		}
		if a.UnseenOtherPIDNamespace > 0 {
			why = append(why, humanize.Int(a.UnseenOtherPIDNamespace)+" held by processes in another PID namespace, which /proc here does not list")
		}
		notes = append(notes, fmt.Sprintf("%s sockets belong to processes tcpdash did not see: %s",
			humanize.Int(a.Unknown), strings.Join(why, "; ")))
	}
	if o := a.Openers; o.Name != "" && (o.Lost > 0 || o.Dropped > 0) {
		notes = append(notes, fmt.Sprintf("the eBPF source missed events: %s lost in the kernel's ring buffer, %s past its bounds (their connections are not named)",
			humanize.Int(int(o.Lost)), humanize.Int(int(o.Dropped))))
	}
	if a.Shared > 0 {
		notes = append(notes, fmt.Sprintf("%s sockets are held by several processes (inherited across fork, or passed over a Unix socket): listed under each, counted once",
			humanize.Int(a.Shared)))
	}
	if a.ViaThreads > 0 {
		notes = append(notes, fmt.Sprintf("%d processes were read through a thread: their main thread has exited", a.ViaThreads))
	}
	return notes
}

// parts joins the non-zero counts with their names.
func parts(kv ...any) string {
	var out []string
	for i := 0; i+1 < len(kv); i += 2 {
		if n := kv[i].(int); n > 0 {
			out = append(out, humanize.Int(n)+" "+kv[i+1].(string))
		}
	}
	return strings.Join(out, ", ")
}
