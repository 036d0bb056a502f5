package tcpinfo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// An Owner is a process holding a socket.
type Owner struct {
	PID     int
	Command string
}

// Owners maps socket inodes to the processes holding them, as read from
// /proc/<pid>/fd. Reading it costs a readlink per open file on the host,
// which is what makes `ss -p` slow, so callers refresh it rarely.
type Owners struct {
	byInode map[uint32]int32 // index into procs
	procs   []Owner
	// Time is when the walk started; Took how long it took.
	Time time.Time
	Took time.Duration
	// Hidden counts processes whose open files could not be read: other
	// users' processes, when not running as root.
	Hidden int
	// Elsewhere counts processes skipped because they live in another
	// network namespace: none of their sockets can be in this one's dump.
	Elsewhere int
}

// Lookup returns the owner of a socket inode.
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
	start := time.Now()
	o := &Owners{byInode: make(map[uint32]int32), Time: start}
	ourNetns, err := os.Readlink(filepath.Join(procRoot, "self/ns/net"))
	if err != nil {
		return nil, fmt.Errorf("tcpinfo: own network namespace: %w", err)
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
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		switch ns, err := w.readlink(filepath.Join(procRoot, name, "ns/net")); {
		case errors.Is(err, fs.ErrPermission):
			o.Hidden++
			continue
		case err != nil: // gone, or a kernel thread
			continue
		case ns != ourNetns:
			o.Elsewhere++
			continue
		}
		idx := int32(-1)
		err = w.sockets(filepath.Join(procRoot, name, "fd"), func(inode uint32) {
			if idx < 0 {
				idx = int32(len(o.procs))
				o.procs = append(o.procs, Owner{PID: pid, Command: command(procRoot, name)})
			}
			o.byInode[inode] = idx
		})
		if errors.Is(err, fs.ErrPermission) {
			o.Hidden++
		}
	}
	o.Took = time.Since(start)
	return o, nil
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

func command(procRoot, pid string) string {
	b, err := os.ReadFile(filepath.Join(procRoot, pid, "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// Owner walks are refreshed no sooner than MinOwnersAge, and no sooner
// than OwnersCostFactor times the last walk took, so attribution costs at
// most a sixtieth of a core however many files the host has open.
const (
	MinOwnersAge     = 5 * time.Second
	OwnersCostFactor = 60
)

// Stale reports whether o is due for a refresh at now. A nil o is.
func (o *Owners) Stale(now time.Time) bool {
	return o == nil || now.Sub(o.Time) >= max(MinOwnersAge, OwnersCostFactor*o.Took)
}
