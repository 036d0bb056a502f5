package cgroups

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/procfs"
)

// A Resolver maps cgroup-v2 ids (directory inodes) to paths and names. It
// opens a cgroup by its id, as a file handle, and reads back where it is;
// where the kernel or the process's privileges do not allow that, it walks
// the cgroup2 mount once, and again, at most once a second, when an id it
// has not seen turns up: cgroups come and go with services and pods. A
// cgroup is named when it is first resolved. It is safe for concurrent
// use.
type Resolver struct {
	// Mount is where the cgroup2 hierarchy is mounted (walked), Root the
	// path in the hierarchy that the mount shows ("/" unless a cgroup
	// namespace hides more).
	Mount, Root string
	Namer       *Namer

	mu       sync.Mutex
	paths    map[uint64]string
	names    map[uint64]string
	walked   time.Time
	rewalkAt time.Duration
	handles  handleState
	missing  map[uint64]time.Time // ids not found, and when
}

// handleState is what opening cgroups by handle has done so far here.
type handleState int

const (
	handlesUntried handleState = iota
	handlesWork
	handlesRefused // by the kernel (before 5.5) or for want of CAP_DAC_READ_SEARCH
)

// fileIDKernfs is FILEID_KERNFS: since Linux 5.5 a cgroup's file handle
// is this type and its 64-bit id, which is what sockets carry.
const fileIDKernfs = 0xfe

// ErrNoCgroup2 says the host has no cgroup2 mount: every socket reports
// the root (a cgroup-v1-only host).
var ErrNoCgroup2 = errors.New("no cgroup2 mount")

// NewResolver finds the cgroup2 mount in this mount namespace or, failing
// that, in pid 1's (through /proc/1/root), as ip netns exec hides it.
func NewResolver() (*Resolver, error) {
	for _, src := range []struct{ mountinfo, prefix string }{
		{"/proc/self/mountinfo", ""}, {"/proc/1/mountinfo", "/proc/1/root"},
	} {
		mount, root, err := FindMount(src.mountinfo)
		if err == nil {
			return &Resolver{Mount: src.prefix + mount, Root: root, Namer: NewNamer(), rewalkAt: time.Second}, nil
		}
	}
	return nil, ErrNoCgroup2
}

// FindMount reads a mountinfo file for the cgroup2 mount: its mount point
// and the hierarchy path it shows.
func FindMount(mountinfo string) (mount, root string, err error) {
	f, err := procfs.Open(mountinfo)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options... - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, after := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(after) < 1 || after[0] != "cgroup2" {
			continue
		}
		return unescape(fields[4]), unescape(fields[3]), nil
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	return "", "", fmt.Errorf("%s: %w", mountinfo, ErrNoCgroup2)
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Resolve returns the path and name of cgroup id, or ok false if no
// cgroup has that id (it went away, or it is on another mount).
func (r *Resolver) Resolve(id uint64) (path, name string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	path, ok = r.paths[id]
	if !ok {
		// A cgroup that went away leaves its id on its sockets; asked for
		// each poll, it is looked for at most once a second.
		if at, gone := r.missing[id]; gone && time.Since(at) < r.rewalkAt {
			return "", "", false
		}
		if path, ok = r.open(id); !ok && r.handles != handlesWork {
			// Not opened, and not known to be gone: walk, if not lately.
			if time.Since(r.walked) >= r.rewalkAt {
				r.walk()
			}
			if path, ok = r.paths[id]; ok && r.handles == handlesUntried {
				r.handles = handlesRefused // the walk found what a handle did not
			}
		}
		if !ok {
			if r.missing == nil || len(r.missing) >= 1<<12 {
				r.missing = map[uint64]time.Time{}
			}
			r.missing[id] = time.Now()
			return "", "", false
		}
		delete(r.missing, id)
		if r.paths == nil {
			r.paths = map[uint64]string{}
		}
		r.paths[id] = path
	}
	name, ok = r.names[id]
	if !ok {
		if r.names == nil {
			r.names = map[uint64]string{}
		}
		name = r.Namer.Name(path)
		r.names[id] = name
	}
	return path, name, true
}

// open finds cgroup id by opening it as a file handle and reading back
// the path of what it opened. It needs no walk of the hierarchy: on a
// Kubernetes node's thousands of cgroups a walk cost a one-shot snapshot
// tens of milliseconds. A mount reached through another process's root
// is walked instead: the path read back would not be below it.
func (r *Resolver) open(id uint64) (string, bool) {
	if r.handles == handlesRefused || strings.HasPrefix(r.Mount, "/proc/") {
		return "", false
	}
	mount, err := unix.Open(r.Mount, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer unix.Close(mount)
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], id)
	fd, err := unix.OpenByHandleAt(mount, unix.NewFileHandle(fileIDKernfs, b[:]), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		if !errors.Is(err, unix.ESTALE) { // not "no such cgroup": handles do not work here
			r.handles = handlesRefused
		}
		return "", false
	}
	defer unix.Close(fd)
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", false
	}
	rel, ok := strings.CutPrefix(target, r.Mount)
	if !ok || rel != "" && !strings.HasPrefix(rel, "/") {
		return "", false
	}
	r.handles = handlesWork
	return filepath.Join(r.Root, "/", rel), true
}

// walk reads every cgroup directory's inode.
func (r *Resolver) walk() {
	r.walked = time.Now()
	paths := map[uint64]string{}
	_ = filepath.WalkDir(r.Mount, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		rel, _ := filepath.Rel(r.Mount, p)
		paths[st.Ino] = filepath.Join(r.Root, "/", rel)
		return nil
	})
	r.paths = paths
	clear(r.names) // a cgroup can be renamed
}

// ID is the id of the cgroup at path in the hierarchy (/system.slice/
// nginx.service): the inode of its directory, as sockets carry it.
func (r *Resolver) ID(path string) (uint64, error) {
	rel, ok := strings.CutPrefix(path, strings.TrimSuffix(r.Root, "/"))
	if !ok || !strings.HasPrefix(path, "/") {
		return 0, fmt.Errorf("want a path below %s in the cgroup2 hierarchy, such as /system.slice/nginx.service", r.Root)
	}
	fi, err := os.Stat(filepath.Join(r.Mount, rel))
	if err != nil {
		return 0, fmt.Errorf("no such cgroup (%s under %s)", path, r.Mount)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok {
		return 0, fmt.Errorf("not a cgroup: %s is not a directory", path)
	}
	return st.Ino, nil
}
