package tcpinfo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcpdash/tcpdash/internal/procfs"
)

// An Owner is a process holding a socket.
type Owner struct {
	PID     int
	Command string
	// Cmdline is its command line, arguments joined by spaces and cut at
	// maxCmdline: two python3 processes are told apart by it.
	Cmdline string
}

// maxCmdline bounds a command line kept for display.
const maxCmdline = 256

// Owners maps socket inodes to the processes holding them, as read from
// /proc/<pid>/fd. Reading it costs a readlink per open file on the host,
// which is what makes `ss -p` slow, so callers refresh it rarely.
type Owners struct {
	byInode map[uint32]int32 // index into procs: the first holder seen
	// shared lists every holder of a socket held by more than one process
	// (inherited across fork, or passed with SCM_RIGHTS); nil if none.
	shared map[uint32][]int32
	procs  []Owner
	// fds is each process's open files and its soft RLIMIT_NOFILE (0:
	// unknown), beside procs.
	fds []FileCount
	// maxInode is the highest socket inode the walk saw: a socket above
	// it was most likely made after the walk.
	maxInode uint32
	// Time is when the walk started; Took how long it took.
	Time time.Time
	Took time.Duration
	// Hidden counts processes whose open files could not be read: other
	// users' processes, when not running as root, or processes outside
	// this user namespace.
	Hidden int
	// Elsewhere counts processes skipped because they live in another
	// network namespace: none of their sockets can be in this one's dump.
	Elsewhere int
	// ViaThreads counts processes whose main thread has exited, read
	// through /proc/<pid>/task/<tid>/fd; LeaderGone those whose remaining
	// threads could not be read either.
	ViaThreads, LeaderGone int
}

// Lookup returns the owner of a socket inode: its first holder.
func (o *Owners) Lookup(inode uint32) (Owner, bool) {
	if o == nil || inode == 0 {
		return Owner{}, false
	}
	i, ok := o.byInode[inode]
	if !ok {
		return Owner{}, false
	}
	return o.procs[i], true
}

// ReadOwners walks procRoot (normally /proc) for socket file descriptors
// of the processes in the caller's network namespace. Processes that exit
// during the walk are skipped.
func ReadOwners(procRoot string) (*Owners, error) {
	ourNetns, err := os.Readlink(filepath.Join(procRoot, "self/ns/net"))
	if err != nil {
		return nil, fmt.Errorf("tcpinfo: own network namespace: %w", err)
	}
	return ReadOwnersIn(procRoot, ourNetns)
}

// ReadOwnersIn walks procRoot for the sockets of the processes in the
// network namespace netns ("net:[4026532180]", as /proc/PID/ns/net reads).
func ReadOwnersIn(procRoot, netns string) (*Owners, error) {
	all, err := walkOwners(procRoot, netns)
	if err != nil {
		return nil, err
	}
	return all[netns], nil
}

// ReadOwnersAll walks procRoot once for the owners of the sockets of every
// network namespace, by namespace ("net:[4026532180]"): watching many
// namespaces costs one walk, not one each. Each of netns gets an entry,
// an empty one for a namespace no process is in.
func ReadOwnersAll(procRoot string, netns []string) (map[string]*Owners, error) {
	all, err := walkOwners(procRoot, "")
	if err != nil {
		return nil, err
	}
	for _, ns := range netns {
		if _, ok := all[ns]; !ok {
			var any *Owners
			for _, o := range all {
				any = o
				break
			}
			o := &Owners{byInode: map[uint32]int32{}}
			if any != nil {
				o.Time, o.Took, o.Hidden = any.Time, any.Took, any.Hidden
			}
			all[ns] = o
		}
	}
	return all, nil
}

// walkOwners reads the processes of namespace only, or of every namespace
// when only is "". A process whose namespace cannot be read counts as
// hidden in each namespace asked for: it may be in any of them.
func walkOwners(procRoot, only string) (map[string]*Owners, error) {
	start := time.Now()
	byNetns := map[string]*Owners{}
	get := func(ns string) *Owners {
		o, ok := byNetns[ns]
		if !ok {
			o = &Owners{byInode: make(map[uint32]int32), Time: start}
			byNetns[ns] = o
		}
		return o
	}
	if only != "" {
		get(only)
	}
	dir, err := os.Open(procRoot)
	if err != nil {
		return nil, err
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return nil, err
	}
	var w fdWalker
	hidden, elsewhere := 0, 0
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		ns, err := w.readlink(filepath.Join(procRoot, name, "ns/net"))
		thread := ""
		if errors.Is(err, fs.ErrNotExist) {
			// Gone, or a main thread that exited: it has no namespaces
			// left, its other threads do.
			thread, ns, err = liveThread(&w, procRoot, name)
		}
		switch {
		case errors.Is(err, fs.ErrPermission):
			hidden++
			continue
		case err != nil:
			continue
		case only != "" && ns != only:
			elsewhere++
			continue
		}
		o := get(ns)
		idx := int32(-1)
		add := func(inode uint32) {
			if idx < 0 {
				idx = int32(len(o.procs))
				o.procs = append(o.procs, Owner{PID: pid, Command: command(procRoot, name), Cmdline: cmdline(procRoot, name)})
			}
			o.add(inode, idx)
		}
		fdDir := filepath.Join(procRoot, name, "fd")
		if thread != "" {
			fdDir = filepath.Join(procRoot, name, "task", thread, "fd")
		}
		files, err := w.sockets(fdDir, add)
		if idx >= 0 {
			o.fds = append(o.fds, FileCount{Open: files, Limit: fileLimit(procRoot, name)})
		}
		switch {
		case errors.Is(err, fs.ErrPermission):
			o.Hidden++
		case thread != "" && files > 0:
			o.ViaThreads++
		case thread != "":
			o.LeaderGone++
		}
	}
	took := time.Since(start)
	for _, o := range byNetns {
		o.Hidden += hidden
		o.Elsewhere = elsewhere
		o.Took = took
	}
	return byNetns, nil
}

// add records that process idx holds inode.
func (o *Owners) add(inode uint32, idx int32) {
	o.maxInode = max(o.maxInode, inode)
	first, seen := o.byInode[inode]
	switch {
	case !seen:
		o.byInode[inode] = idx
	case first == idx: // another fd of the same process
	default:
		if o.shared == nil {
			o.shared = make(map[uint32][]int32)
		}
		holders := o.shared[inode]
		if len(holders) == 0 {
			holders = append(holders, first)
		}
		if !slices.Contains(holders, idx) {
			o.shared[inode] = append(holders, idx)
		}
	}
}

// heldBy reports whether pid holds the socket whose first holder is
// first.
func (o *Owners) heldBy(inode uint32, first int32, pid int) bool {
	if o.procs[first].PID == pid {
		return true
	}
	for _, h := range o.shared[inode] {
		if o.procs[h].PID == pid {
			return true
		}
	}
	return false
}

// liveThread finds a thread of a process whose main thread has exited,
// and that thread's network namespace. Threads share the process's files
// (CLONE_FILES), so one is enough.
func liveThread(w *fdWalker, procRoot, pid string) (tid, netns string, err error) {
	tasks, err := os.ReadDir(filepath.Join(procRoot, pid, "task"))
	if err != nil {
		return "", "", err
	}
	err = fs.ErrNotExist
	for _, t := range tasks {
		if t.Name() == pid {
			continue
		}
		if netns, err = w.readlink(filepath.Join(procRoot, pid, "task", t.Name(), "ns/net")); err == nil {
			return t.Name(), netns, nil
		}
	}
	return "", "", err
}

// socketInode parses "socket:[12345]".
func socketInode(link []byte) (uint32, bool) {
	const prefix = "socket:["
	if len(link) < len(prefix)+2 || string(link[:len(prefix)]) != prefix || link[len(link)-1] != ']' {
		return 0, false
	}
	n, err := parseDec(link[len(prefix) : len(link)-1])
	if err != nil || n == 0 || n > 1<<32-1 { // 0 is the kernel's "no inode"
		return 0, false
	}
	return uint32(n), true
}

// A FileCount is a process's open files against its soft RLIMIT_NOFILE:
// past it, socket() and accept() fail with EMFILE.
type FileCount struct {
	Open, Limit int // Limit 0: unknown or unlimited
}

// fileLimit reads the soft "Max open files" of /proc/PID/limits; 0 when
// it cannot, or when it is unlimited.
func fileLimit(procRoot, pid string) int {
	f, err := procfs.Open(filepath.Join(procRoot, pid, "limits"))
	if err != nil {
		return 0
	}
	defer f.Close()
	var buf [4096]byte // the file is about 1.6 KB
	n, _ := io.ReadFull(f, buf[:])
	for _, line := range bytes.Split(buf[:n], []byte{'\n'}) {
		if rest, ok := bytes.CutPrefix(line, []byte("Max open files")); ok {
			if f := bytes.Fields(rest); len(f) > 0 {
				if v, err := parseDec(f[0]); err == nil && v > 0 && v < 1<<31 {
					return int(v)
				}
			}
		}
	}
	return 0
}

// cmdline reads /proc/PID/cmdline: NUL-separated arguments.
func cmdline(procRoot, pid string) string {
	f, err := procfs.Open(filepath.Join(procRoot, pid, "cmdline"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var buf [maxCmdline]byte
	n, _ := io.ReadFull(f, buf[:])
	b := bytes.TrimRight(buf[:n], "\x00")
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}

func command(procRoot, pid string) string {
	b, err := procfs.ReadFile(filepath.Join(procRoot, pid, "comm"), 64) // TASK_COMM_LEN is 16
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// OwnersCostFactor bounds what attribution costs: a walk is repeated no
// sooner than this many times its own cost, so it takes at most a
// twentieth of a core however many files the host has open. Below that it
// runs at every poll, and a connection open across two polls is named.
const OwnersCostFactor = 20

// Stale reports whether o is due for a refresh at now, by a caller that
// would walk every `every` (its poll interval) while walks are cheap. A
// nil o is.
func (o *Owners) Stale(now time.Time, every time.Duration) bool {
	return o == nil || now.Sub(o.Time) >= max(every, OwnersCostFactor*o.Took)
}
