package tcpinfo

import (
	"math"
	"time"
)

// procRates measures each process's CLOSE_WAIT growth from walk to walk.
// A process's counts change only when a /proc walk runs (sockets newer
// than the walk have no owner yet), so a rate between two snapshots reads
// 0 between walks and a burst after each; measured over the time between
// the walks, and smoothed, it is the true rate, and the findings built on
// it do not flap from one poll to the next.
type procRates struct {
	walk  time.Time
	byPID map[int]*procRate
}

type procRate struct {
	closeWait, files int
	at               time.Time // the walk the counts are from
	grewAt           time.Time // the last walk that saw more files than the one before
	perS, filesPerS  float64
	known            bool
}

// update puts each process's rate on its row, learning from a walk newer
// than the last; rows of a walk already seen keep the rates it gave.
func (r *procRates) update(procs []ProcessCount, walk time.Time) {
	if r.byPID == nil {
		r.byPID = map[int]*procRate{}
	}
	fresh := walk.After(r.walk)
	for i := range procs {
		p := &procs[i]
		pr := r.byPID[p.PID]
		n := p.States[CloseWait]
		switch {
		case pr == nil:
			pr = &procRate{closeWait: n, files: p.Files.Open, at: walk}
			r.byPID[p.PID] = pr
		case fresh && walk.After(pr.at):
			dt := walk.Sub(pr.at).Seconds()
			growth := float64(n-pr.closeWait) / dt
			files := float64(p.Files.Open-pr.files) / dt
			if pr.known {
				// The exponential average of the growth, weighted by the
				// time it covers: one long gap counts as much as several
				// short ones.
				w := 1 - math.Exp(-dt/RateWindow.Seconds())
				pr.perS += w * (growth - pr.perS)
				pr.filesPerS += w * (files - pr.filesPerS)
			} else {
				pr.perS, pr.filesPerS, pr.known = growth, files, true
			}
			if p.Files.Open > pr.files {
				pr.grewAt = walk
			}
			pr.closeWait, pr.files, pr.at = n, p.Files.Open, walk
		}
		p.CloseWaitPerS, p.RateKnown, p.FilesPerS = pr.perS, pr.known, pr.filesPerS
		p.FilesLeft = -1
		// A forecast needs growth now: the last walk grew, or one within
		// RateWindow of it. The smoothed rate outlives the growth by tens
		// of seconds, and a connection pool that filled up and stopped
		// read as running out of files in seconds long after it stopped.
		growing := !pr.grewAt.IsZero() && pr.at.Sub(pr.grewAt) <= RateWindow
		if pr.known && growing && pr.filesPerS > 0 && p.Files.Limit > 0 {
			// From the walk's count: the next walk brings it up to date.
			left := time.Duration(float64(p.Files.Limit-p.Files.Open) / pr.filesPerS * float64(time.Second))
			p.FilesLeft = max(left, 0)
		}
	}
	if fresh {
		r.walk = walk
		// A fresh walk's rows have just taken its time as their counts'
		// (no rate is from a later walk), so the rest are not in it: no set
		// of the rows, which was garbage every poll.
		for pid, pr := range r.byPID {
			if !pr.at.Equal(walk) {
				delete(r.byPID, pid) // gone, or holds no socket now
			}
		}
	}
}
