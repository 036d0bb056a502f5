// Package safefile opens the files tcpdash keeps (the tuning state file,
// its lock, the audit log, the persist file) so that no one else can aim
// them. tcpdash runs as root: a symlink planted where it writes, or a file
// another user made, would otherwise turn its writes into someone else's.
//
// The rules are the ones sudo and OpenSSH apply. Every directory on the
// way is opened without following symlinks and must be owned by root or
// the caller and not writable by group or others (sticky directories such
// as /tmp are allowed on the way, not as the file's own directory). The
// file itself is opened relative to its checked directory with O_NOFOLLOW
// and trusted only if it is a regular file with one link, owned by the
// caller and not writable by group or others.
package safefile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrUnsafe is wrapped by every refusal to trust a file or directory.
var ErrUnsafe = errors.New("not safe to use")

// unsafeError names the path and what is wrong with it, and nothing of
// its content.
type unsafeError struct{ path, why string }

func (e *unsafeError) Error() string { return fmt.Sprintf("refusing %s: %s", e.path, e.why) }
func (e *unsafeError) Unwrap() error { return ErrUnsafe }

// A Dir is a checked directory; files are opened relative to it, so that a
// directory swapped after the check is not followed.
type Dir struct {
	f    *os.File
	path string
	uid  int
}

// OpenDir opens and checks the directory path. With create, missing
// directories are made, mode 0755 (the last one with perm).
func OpenDir(path string, create bool, perm os.FileMode) (*Dir, error) {
	if path == "" {
		return nil, errors.New("no directory given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// Symlinks above the file are resolved once, as OpenSSH does; the walk
	// below then refuses any link that appears in between.
	resolved, missing := resolveExisting(abs)
	uid := os.Geteuid()
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /: %w", err)
	}
	parts := strings.Split(strings.Trim(resolved, "/"), "/")
	parts = append(parts, missing...)
	if resolved == "/" {
		parts = missing
	}
	cur := "/"
	for i, name := range parts {
		if name == "" {
			continue
		}
		last := i == len(parts)-1
		if err := checkDir(fd, cur, uid, false); err != nil {
			unix.Close(fd)
			return nil, err
		}
		next := filepath.Join(cur, name)
		nfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			mode := uint32(0o755)
			if last {
				mode = uint32(perm.Perm())
			}
			if err = unix.Mkdirat(fd, name, mode); err == nil || errors.Is(err, unix.EEXIST) {
				nfd, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
			return nil, &unsafeError{next, "not a directory, or a symlink"}
		case err != nil:
			return nil, &fs.PathError{Op: "open", Path: next, Err: err}
		}
		fd, cur = nfd, next
	}
	if err := checkDir(fd, cur, uid, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Dir{f: os.NewFile(uintptr(fd), cur), path: cur, uid: uid}, nil
}

// resolveExisting resolves symlinks in the longest existing prefix of abs
// and returns it with the names below it that do not exist yet.
func resolveExisting(abs string) (string, []string) {
	var missing []string
	for p := abs; ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r, missing
		}
		if p == "/" {
			return "/", missing
		}
		missing = append([]string{filepath.Base(p)}, missing...)
	}
}

// checkDir checks one directory. Directories on the way may be sticky
// and world-writable (others cannot replace what root made there); the
// file's own directory may not be writable by anyone else at all.
func checkDir(fd int, path string, uid int, own bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if int(st.Uid) != 0 && int(st.Uid) != uid {
		return &unsafeError{path, fmt.Sprintf("the directory is owned by uid %d, not root or uid %d", st.Uid, uid)}
	}
	writable := st.Mode&0o022 != 0
	sticky := st.Mode&unix.S_ISVTX != 0
	if writable && (own || !sticky) {
		return &unsafeError{path, fmt.Sprintf("the directory is writable by others (mode %#o): make it 0755 or tighter", st.Mode&0o7777)}
	}
	return nil
}

// Path is the directory's checked path.
func (d *Dir) Path() string { return d.path }

// Close closes the directory.
func (d *Dir) Close() error { return d.f.Close() }

func (d *Dir) fd() int { return int(d.f.Fd()) }

// Open opens name in d without following a symlink and checks that the
// file is the caller's own. A missing file is fs.ErrNotExist.
func (d *Dir) Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	if strings.ContainsRune(name, '/') || name == "" || name == "." || name == ".." {
		return nil, fmt.Errorf("%q is not a file name", name)
	}
	path := filepath.Join(d.path, name)
	f, err := openNoFollow(d.fd(), name, path, flag, perm)
	if err != nil {
		return nil, err
	}
	if err := d.checkFile(f); err != nil {
		f.Close()
		return nil, err
	}
	// O_NONBLOCK kept a planted FIFO from hanging the open; files want
	// ordinary blocking I/O from here on.
	if err := unix.SetNonblock(int(f.Fd()), false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (d *Dir) checkFile(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return &unsafeError{f.Name(), "not a regular file"}
	case int(st.Uid) != d.uid:
		return &unsafeError{f.Name(), fmt.Sprintf("owned by uid %d, not uid %d", st.Uid, d.uid)}
	case st.Mode&0o022 != 0:
		return &unsafeError{f.Name(), fmt.Sprintf("writable by others (mode %#o)", st.Mode&0o777)}
	case st.Nlink > 1:
		return &unsafeError{f.Name(), fmt.Sprintf("it has %d hard links", st.Nlink)}
	}
	return nil
}

// ReadFile reads name whole, with the checks of Open.
func (d *Dir) ReadFile(name string) ([]byte, error) {
	f, err := d.Open(name, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Mode returns the permission bits of name, for keeping them on rewrite.
func (d *Dir) Mode(name string) (os.FileMode, error) {
	f, err := d.Open(name, unix.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Mode().Perm(), nil
}

// WriteAtomic replaces name with data: a new temporary file in d, fsync,
// rename over name, fsync of d. Readers see the old file or the new one,
// after a crash too. An existing name must pass the checks of Open.
func (d *Dir) WriteAtomic(name string, data []byte, perm os.FileMode) error {
	path := filepath.Join(d.path, name)
	if old, err := d.Open(name, unix.O_RDONLY, 0); err == nil {
		old.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmpName := "." + name + "." + hex.EncodeToString(rnd[:])
	tmp, err := d.Open(tmpName, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fail := func(err error) error {
		tmp.Close()
		_ = unix.Unlinkat(d.fd(), tmpName, 0)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	// Chmod, not only the umask-filtered create mode: perm is exact.
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		_ = unix.Unlinkat(d.fd(), tmpName, 0)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := unix.Renameat(d.fd(), tmpName, d.fd(), name); err != nil {
		_ = unix.Unlinkat(d.fd(), tmpName, 0)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := unix.Fsync(d.fd()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Remove removes name from d durably; a missing name is not an error.
func (d *Dir) Remove(name string) error {
	err := unix.Unlinkat(d.fd(), name, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return &fs.PathError{Op: "remove", Path: filepath.Join(d.path, name), Err: err}
	}
	return unix.Fsync(d.fd())
}

// Split opens path's directory (creating it with perm if create) and
// returns it with the file's name.
func Split(path string, create bool, perm os.FileMode) (*Dir, string, error) {
	if path == "" {
		return nil, "", errors.New("no file given")
	}
	dir, name := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	d, err := OpenDir(dir, create, perm)
	if err != nil {
		return nil, "", err
	}
	return d, name, nil
}

// ReadFile reads the file at path with every check; a missing file or
// directory is fs.ErrNotExist.
func ReadFile(path string) ([]byte, error) {
	d, name, err := Split(path, false, 0)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadFile(name)
}

// ReadBounded reads a file others keep (a container runtime's state) as
// outside input: its last component is not followed if a symlink, the
// open does not block (a FIFO), it must be a regular file, and it is read
// only up to limit bytes; a longer file is an error, not a partial read.
func ReadBounded(path string, limit int64) ([]byte, error) {
	f, err := openNoFollow(unix.AT_FDCWD, path, path, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &unsafeError{path, "not a regular file"}
	}
	if st.Size > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// openNoFollow opens name relative to dirfd without following a symlink
// at its end and without blocking (a planted FIFO), naming path in errors.
func openNoFollow(dirfd int, name, path string, flag int, perm os.FileMode) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, uint32(perm.Perm()))
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, &unsafeError{path, "it is a symlink"}
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
