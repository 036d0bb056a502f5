package tuning

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/safefile"
)

// DefaultLockWait is how long a second tcpdash waits for a batch in
// progress before it refuses.
const DefaultLockWait = 3 * time.Second

// A batch is applied as a transaction:
//
//  1. take the lock beside the state file, held until the outcome is
//     recorded;
//  2. re-read every key: each must still have the value the plan saw;
//  3. record the batch as pending (fsync'd) and audit the intent: if
//     either cannot be written, refuse with nothing changed;
//  4. write each key and read it back;
//  5. on any failure restore every key touched, the failing one
//     included, and verify; record the outcome.
//
// A process killed in step 4 leaves a pending record, which the next run
// reports and which undo restores. Undo is recorded as pending too, so an
// interrupted undo is finished by the next one.

// Record statuses.
const (
	statusApplied = "applied"
	statusPending = "pending"
)

// record is the state file's content.
type record struct {
	Time  time.Time `json:"time"`
	Netns string    `json:"netns"`
	// NetnsCookie is the namespace's SO_NETNS_COOKIE: Linux reuses a gone
	// namespace's inode, never its cookie. Files from before it have none.
	NetnsCookie uint64 `json:"netns_cookie,omitempty"`
	// Status is "applied" for a finished batch and "pending" while a batch
	// or its undo is being written: a pending record was interrupted.
	// Files from before it had no status: applied.
	Status string `json:"status,omitempty"`
	// Action is "apply" or "undo"; PID is the process that wrote it.
	Action  string   `json:"action,omitempty"`
	PID     int      `json:"pid,omitempty"`
	Changes []Change `json:"changes"`
	// Prior is the applied batch a pending one replaces: the record goes
	// back to it if the new batch is rolled back.
	Prior *record `json:"prior,omitempty"`
}

func (r *record) pending() bool { return r != nil && r.Status == statusPending }

// ErrInterrupted says a batch was interrupted and must be undone first.
var ErrInterrupted = errors.New("a batch was interrupted")

// A ChangedError says the kernel was changed but something after that
// failed: the values are not what the caller asked for, or not recorded
// as they should be. Now is each touched key's value as read back.
type ChangedError struct {
	Err error
	Now []Setting
}

func (e *ChangedError) Error() string {
	var now []string
	for _, s := range e.Now {
		v := s.Value
		if !s.Exists {
			v = "(unreadable)"
		}
		now = append(now, s.Key+"="+v)
	}
	return fmt.Sprintf("%v; values now: %s", e.Err, strings.Join(now, ", "))
}

func (e *ChangedError) Unwrap() error { return e.Err }

// Apply writes a plan as a transaction (see above). An error that is not
// a *ChangedError means nothing was changed.
func (s *System) Apply(p Plan) error {
	if len(p.Changes) == 0 {
		return nil
	}
	tx, err := s.begin()
	if err != nil {
		return err
	}
	defer tx.end()
	prior, err := tx.load()
	if err != nil {
		return err
	}
	if prior.pending() {
		return fmt.Errorf("%w (%s): run tcpdash tune undo to restore it first; nothing changed", ErrInterrupted, prior.describe())
	}
	if err := s.recheck(p.Changes); err != nil {
		return err
	}
	rec := &record{Time: s.opts.Now(), Netns: s.opts.Netns, NetnsCookie: s.opts.NetnsCookie, Status: statusPending, Action: "apply",
		PID: os.Getpid(), Changes: p.Changes, Prior: prior}
	if err := s.recordIntent(tx, rec, prior, p.Changes); err != nil {
		return err
	}
	if n, err := s.writeAll(p.Changes); err != nil {
		return s.rollback(tx, p.Changes[:n+1], prior, err)
	}
	if err := s.audit("apply", p.Changes); err != nil {
		return s.changed(fmt.Errorf("applied, but the audit log could not record it (tcpdash tune undo still restores it): %w", err), p.Changes)
	}
	rec.Status, rec.Prior = statusApplied, nil
	if err := tx.save(rec); err != nil {
		return s.changed(fmt.Errorf("applied, but the batch could not be marked done (tcpdash tune undo restores it): %w", err), p.Changes)
	}
	return nil
}

// recordIntent makes rec, a pending record, the state file's, and audits
// its intent, both durably, before the kernel is touched. If either fails
// the record goes back to was, and nothing has changed.
func (s *System) recordIntent(tx *txn, rec, was *record, changes []Change) error {
	if err := tx.save(rec); err != nil {
		return fmt.Errorf("cannot record the %s for undo, so nothing changed: %w", rec.Action, err)
	}
	if err := s.audit("intent "+rec.Action, changes); err != nil {
		if rerr := tx.save(was); rerr != nil {
			err = fmt.Errorf("%w (and restoring the record failed: %v)", err, rerr)
		}
		return fmt.Errorf("cannot write the audit log, so nothing changed: %w", err)
	}
	return nil
}

// writeAll writes each change, returning the index of the one that failed.
func (s *System) writeAll(changes []Change) (int, error) {
	for i, c := range changes {
		t, err := s.tunable(c.Key)
		if err == nil {
			err = s.write(t, c.New)
		}
		if err != nil {
			return i, err
		}
	}
	return len(changes), nil
}

// rollback restores every touched key, the failing one included, newest
// first, and records the outcome.
func (s *System) rollback(tx *txn, touched []Change, prior *record, cause error) error {
	if failed := s.restore(touched); len(failed) > 0 {
		_ = s.audit("rollback-failed", touched)
		return s.changed(fmt.Errorf("%w; restoring the batch failed too: %s (the batch stays on record: tcpdash tune undo retries)",
			cause, strings.Join(failed, "; ")), touched)
	}
	_ = s.audit("rollback", touched)
	if err := tx.save(prior); err != nil {
		return fmt.Errorf("%w (every key was restored, but the record of the batch could not be cleared: %v)", cause, err)
	}
	if len(touched) > 1 {
		return fmt.Errorf("%w (nothing changed: the %d keys written were restored)", cause, len(touched))
	}
	return fmt.Errorf("%w (nothing changed)", cause)
}

// restore puts every change's Old value back where the key differs from
// it, newest first, and returns what failed.
func (s *System) restore(changes []Change) []string {
	var failed []string
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		t, ok := Lookup(c.Key)
		if !ok {
			failed = append(failed, c.Key+": not a known key")
			continue
		}
		now, err := s.read(t)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && t.Same(now, c.Old)) {
			continue // a key that is gone, or already back, holds nothing of ours
		}
		if err := s.write(t, c.Old); err != nil {
			failed = append(failed, err.Error())
		}
	}
	return failed
}

// recheck refuses if any key no longer has the value the plan saw.
func (s *System) recheck(changes []Change) error {
	for _, c := range changes {
		t, err := s.tunable(c.Key)
		if err != nil {
			return err
		}
		now, err := s.read(t)
		if err != nil {
			return explain(c.Key, "", err)
		}
		if !t.Same(now, c.Old) {
			return fmt.Errorf("%s is now %s, not the %s it was when the change was planned: look again; nothing changed",
				c.Key, display(now), display(c.Old))
		}
	}
	return nil
}

// changed wraps err with the values of the changes' keys now.
func (s *System) changed(err error, changes []Change) error {
	ce := &ChangedError{Err: err}
	for _, c := range changes {
		st := Setting{Tunable: Tunable{Key: c.Key}}
		if t, ok := Lookup(c.Key); ok {
			if v, rerr := s.read(t); rerr == nil {
				st.Value, st.Exists = display(v), true
			}
		}
		ce.Now = append(ce.Now, st)
	}
	return ce
}

// PlanUndo returns the plan that restores the values from before the
// last batch. For a finished batch it refuses if any key changed since;
// for an interrupted one it restores every key that differs from its old
// value. Every value to restore must pass the checks tune set makes.
func (s *System) PlanUndo() (Plan, error) {
	rec, err := s.lastRecord()
	if err != nil {
		return Plan{}, err
	}
	var p Plan
	for i := len(rec.Changes) - 1; i >= 0; i-- {
		c := rec.Changes[i]
		t, err := s.tunable(c.Key)
		if err != nil {
			return Plan{}, fmt.Errorf("the state file names %w", err)
		}
		if _, err := t.Check(c.Old); err != nil {
			return Plan{}, fmt.Errorf("the state file would set %s to %q, which tune set refuses (%v): not trusted, nothing changed",
				c.Key, display(c.Old), err)
		}
		now, err := s.current(c.Key)
		if err != nil {
			return Plan{}, err
		}
		switch {
		case t.Same(now, c.Old):
			continue
		case !rec.pending() && !t.Same(now, c.New):
			return Plan{}, fmt.Errorf("%s is now %s, not the %s tcpdash set: something else changed it, so undo would clobber that",
				c.Key, display(now), display(c.New))
		}
		p.Changes = append(p.Changes, Change{Key: c.Key, Old: now, New: c.Old})
	}
	return p, nil
}

// Undo applies an undo plan and forgets the batch. It is recorded as
// pending first, so a killed undo is finished by the next one.
func (s *System) Undo(p Plan) error {
	tx, err := s.begin()
	if err != nil {
		return err
	}
	defer tx.end()
	rec, err := tx.load()
	if err != nil {
		return err
	}
	if rec == nil {
		return errors.New("nothing to undo: no batch applied by tcpdash is on record")
	}
	if err := s.recheck(p.Changes); err != nil {
		return err
	}
	if len(p.Changes) > 0 {
		undoing := *rec
		undoing.Status, undoing.Action, undoing.PID = statusPending, "undo", os.Getpid()
		if err := s.recordIntent(tx, &undoing, rec, p.Changes); err != nil {
			return err
		}
		if n, err := s.writeAll(p.Changes); err != nil {
			return s.changed(fmt.Errorf("%w (the batch stays on record: tcpdash tune undo retries)", err), p.Changes[:n+1])
		}
		if err := s.audit("undo", p.Changes); err != nil {
			return s.changed(fmt.Errorf("restored, but the audit log could not record it: %w", err), p.Changes)
		}
	}
	if err := tx.save(nil); err != nil {
		return s.changed(fmt.Errorf("every value was restored, but the record could not be removed (the next tcpdash tune undo clears it): %w", err), p.Changes)
	}
	return nil
}

// Interrupted describes a batch that was interrupted, or returns "".
func (s *System) Interrupted() (string, error) {
	rec, err := s.lastRecord()
	if err != nil || !rec.pending() {
		return "", nil
	}
	return fmt.Sprintf("%s (%s): tcpdash tune undo restores it", ErrInterrupted, rec.describe()), nil
}

func (r *record) describe() string {
	return fmt.Sprintf("%s of %d key(s) by pid %d at %s", r.Action, len(r.Changes), r.PID, r.Time.UTC().Format(time.RFC3339))
}

// lastRecord reads the state file without the lock, for planning. The
// transaction reads it again under the lock.
func (s *System) lastRecord() (*record, error) {
	if s.opts.StateFile == "" {
		return nil, errors.New("no state file: undo is off")
	}
	d, name, err := safefile.Split(s.opts.StateFile, false, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("nothing to undo: no batch applied by tcpdash is on record")
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	rec, err := readRecord(d, name, s.opts.Netns, s.opts.NetnsCookie)
	if err == nil && rec == nil {
		err = errors.New("nothing to undo: no batch applied by tcpdash is on record")
	}
	return rec, err
}

func readRecord(d *safefile.Dir, name, netns string, cookie uint64) (*record, error) {
	r, err := readRaw(d, name)
	if r == nil || err != nil {
		return r, err
	}
	if r.NetnsCookie != 0 && cookie != 0 && r.NetnsCookie != cookie {
		if r.Netns == netns {
			// The inode is this namespace's, the cookie is not: the batch
			// was made in a namespace that is gone, whose inode Linux
			// gave to this one. Nothing of it may be restored here.
			return nil, fmt.Errorf("%w: the last batch (%s) was applied in a network namespace that no longer exists (its %s is this namespace's now): "+
				"nothing of it can be restored here; tcpdash tune discard removes its record, audited", ErrGone, r.describe(), netns)
		}
		return nil, fmt.Errorf("the last batch was applied in network namespace %s, this is %s: undo it there, or give this namespace its own --state-file", r.Netns, netns)
	}
	if r.Netns != netns {
		return nil, fmt.Errorf("the last batch was applied in network namespace %s, this is %s: undo it there, or give this namespace its own --state-file", r.Netns, netns)
	}
	return r, nil
}

// readRaw reads the record as it is, whichever namespace it is of; nil
// when there is none.
func readRaw(d *safefile.Dir, name string) (*record, error) {
	data, err := d.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v): move it aside to start afresh", filepath.Join(d.Path(), name), firstLine(err))
	}
	if r.Status == "" {
		r.Status = statusApplied
	}
	return &r, nil
}

// ErrGone is returned for a record of a network namespace that no longer
// exists.
var ErrGone = errors.New("the namespace of the record is gone")

// PlanDiscard describes the record Discard would remove, whichever
// namespace it is of; it changes nothing.
func (s *System) PlanDiscard() (string, error) {
	if s.opts.StateFile == "" {
		return "", errors.New("no state file: undo is off")
	}
	d, name, err := safefile.Split(s.opts.StateFile, false, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errors.New("nothing to discard: no batch is on record")
	}
	if err != nil {
		return "", err
	}
	defer d.Close()
	r, err := readRaw(d, name)
	if err == nil && r == nil {
		err = errors.New("nothing to discard: no batch is on record")
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s, %s in network namespace %s: %s", r.describe(), r.Status, r.Netns, changesText(r.Changes)), nil
}

// Discard removes the record without restoring anything, under the lock,
// and audits it: the way out for a record whose namespace is gone. It
// changes no sysctl.
func (s *System) Discard() error {
	tx, err := s.begin()
	if err != nil {
		return err
	}
	defer tx.end()
	r, err := readRaw(tx.dir, tx.name)
	if err != nil {
		return err
	}
	if r == nil {
		return errors.New("nothing to discard: no batch is on record")
	}
	if err := s.audit("discard (netns "+r.Netns+", nothing restored)", r.Changes); err != nil {
		return fmt.Errorf("nothing discarded: the audit log could not record it: %w", err)
	}
	return tx.save(nil)
}

func changesText(changes []Change) string {
	var out []string
	for _, c := range changes {
		out = append(out, c.String())
	}
	return strings.Join(out, "; ")
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// A txn holds the lock on the state file.
type txn struct {
	s    *System
	dir  *safefile.Dir
	name string
	lock *os.File
}

// begin takes the lock beside the state file. Without a state file (only
// allowed with NoUndo) there is nothing to lock or record.
func (s *System) begin() (*txn, error) {
	if !s.opts.NoUndo && (s.opts.StateFile == "" || s.opts.AuditLog == "") {
		return nil, errors.New("no state file or audit log given: undo would be impossible; pass --no-undo to change sysctls without a record")
	}
	tx := &txn{s: s}
	if s.opts.StateFile == "" {
		return tx, nil
	}
	d, name, err := safefile.Split(s.opts.StateFile, true, 0o700)
	if err != nil {
		return nil, fmt.Errorf("state file: %w; nothing changed", err)
	}
	// A state file that cannot be trusted is refused before a lock file
	// is made beside it.
	if f, err := d.Open(name, unix.O_RDONLY, 0); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		d.Close()
		return nil, fmt.Errorf("state file: %w; nothing changed", err)
	}
	lock, err := d.Open(name+".lock", unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("lock: %w; nothing changed", err)
	}
	deadline := time.Now().Add(s.opts.LockWait)
	for {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil || !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		holder := "another tcpdash"
		var buf [16]byte
		if n, _ := lock.ReadAt(buf[:], 0); n > 0 {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); perr == nil {
				holder = fmt.Sprintf("tcpdash pid %d", pid)
			}
		}
		lock.Close()
		d.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is changing sysctls with %s: try again when it is done; nothing changed", holder, s.opts.StateFile)
		}
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	// Name the holder for whoever waits next; the lock, not the pid,
	// is what excludes.
	_ = lock.Truncate(0)
	_, _ = lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &txn{s: s, dir: d, name: name, lock: lock}, nil
}

func (tx *txn) end() {
	if tx.lock != nil {
		tx.lock.Close() // closing the last descriptor releases the flock
	}
	if tx.dir != nil {
		tx.dir.Close()
	}
}

// load reads the record under the lock; nil means none.
func (tx *txn) load() (*record, error) {
	if tx.dir == nil {
		return nil, nil
	}
	return readRecord(tx.dir, tx.name, tx.s.opts.Netns, tx.s.opts.NetnsCookie)
}

// save replaces the record durably; nil removes it.
func (tx *txn) save(r *record) error {
	if tx.dir == nil {
		return nil
	}
	if r == nil {
		return tx.dir.Remove(tx.name)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return tx.dir.WriteAtomic(tx.name, append(b, '\n'), 0o600)
}

// audit appends one line per change and syncs it: an intent line must be
// on disk before the kernel is touched.
func (s *System) audit(action string, changes []Change) error {
	if s.opts.AuditLog == "" || len(changes) == 0 {
		return nil
	}
	var b strings.Builder
	now := s.opts.Now().UTC().Format(time.RFC3339)
	for _, c := range changes {
		fmt.Fprintf(&b, "%s user=%s netns=%s %s %s\n", now, s.opts.User, s.opts.Netns, action, c)
	}
	d, name, err := safefile.Split(s.opts.AuditLog, true, 0o750)
	if err != nil {
		return err
	}
	defer d.Close()
	f, err := d.Open(name, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o640)
	if err != nil {
		return err
	}
	_, err = f.WriteString(b.String())
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit log %s: %w", f.Name(), err)
	}
	return nil
}
