package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const nobody = 65534

// needRoot skips tests that plant another user's files.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("TCPDASH_REQUIRE_NETNS") != "" {
			t.Fatal("these tests chown files to uid 65534 and need root (TCPDASH_REQUIRE_NETNS is set)")
		}
		t.Skip("needs root to plant files owned by another user")
	}
}

func TestRefusals(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	secret := filepath.Join(base, "secret")
	if err := os.WriteFile(secret, []byte("TOPSECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A sticky, world-writable directory like /tmp, where nobody plants
	// things for root to trip over.
	sticky := filepath.Join(base, "sticky")
	mustMkdir(t, sticky, 0o1777)
	// A directory nobody owns.
	theirs := filepath.Join(base, "theirs")
	mustMkdir(t, theirs, 0o755)
	must(t, os.Chown(theirs, nobody, nobody))
	// Our own directory, where files are planted by root as if by others.
	ours := filepath.Join(base, "ours")
	mustMkdir(t, ours, 0o755)
	must(t, os.Symlink(secret, filepath.Join(ours, "link")))
	must(t, os.WriteFile(filepath.Join(ours, "nobodys"), []byte("x"), 0o644))
	must(t, os.Chown(filepath.Join(ours, "nobodys"), nobody, nobody))
	must(t, os.WriteFile(filepath.Join(ours, "groupw"), []byte("x"), 0o664))
	must(t, os.Chmod(filepath.Join(ours, "groupw"), 0o664))
	must(t, os.Link(secret, filepath.Join(ours, "hardlink")))
	must(t, unix.Mkfifo(filepath.Join(ours, "fifo"), 0o600))
	must(t, os.Symlink(ours, filepath.Join(base, "dirlink")))
	must(t, os.WriteFile(filepath.Join(ours, "good"), []byte("ok"), 0o600))

	for _, tc := range []struct{ path, want string }{
		{filepath.Join(sticky, "state.json"), "writable by others"},
		{filepath.Join(theirs, "state.json"), "owned by uid 65534"},
		{filepath.Join(ours, "link"), "symlink"},
		{filepath.Join(ours, "nobodys"), "owned by uid 65534"},
		{filepath.Join(ours, "groupw"), "writable by others"},
		{filepath.Join(ours, "hardlink"), "hard links"},
		{filepath.Join(ours, "fifo"), "not a regular file"},
	} {
		t.Run(filepath.Base(filepath.Dir(tc.path))+"/"+filepath.Base(tc.path), func(t *testing.T) {
			_, err := ReadFile(tc.path)
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReadFile: %v, want a refusal saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "TOPSECRET") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("the refusal leaks content or spans lines: %q", err)
			}
			d, name, err := Split(tc.path, false, 0)
			if err == nil {
				err = d.WriteAtomic(name, []byte("new"), 0o600)
				d.Close()
			}
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("WriteAtomic: %v, want a refusal", err)
			}
		})
	}
	if b, _ := os.ReadFile(secret); string(b) != "TOPSECRET\n" {
		t.Fatalf("the secret changed: %q", b)
	}
	// A symlink above the file is resolved once (OpenSSH's realpath): a
	// link to a safe directory is fine.
	if b, err := ReadFile(filepath.Join(base, "dirlink", "good")); err != nil || string(b) != "ok" {
		t.Fatalf("through a safe directory link: %q, %v", b, err)
	}
}

func TestWriteAtomicAndRemove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	d, name, err := Split(filepath.Join(dir, "state.json"), true, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("created directory: %v, %v", st.Mode(), err)
	}
	if _, err := d.ReadFile(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	for _, content := range []string{"one", "two"} {
		if err := d.WriteAtomic(name, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		if b, err := d.ReadFile(name); err != nil || string(b) != content {
			t.Fatalf("read back %q, %v", b, err)
		}
	}
	if m, err := d.Mode(name); err != nil || m != 0o640 {
		t.Fatalf("mode %v, %v", m, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	must(t, d.Remove(name))
	must(t, d.Remove(name))
}

func mustMkdir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	must(t, os.Mkdir(p, 0o700))
	must(t, os.Chmod(p, mode))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadBounded: a runtime's file planted as a FIFO, a symlink to
// /dev/zero or a huge file is refused at once; a small one is read.
func TestReadBounded(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "config.v2.json")
	if err := os.WriteFile(good, []byte(`{"Name":"/web"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadBounded(good, 1<<20); err != nil || string(b) != `{"Name":"/web"}` {
		t.Errorf("a small file: %q, %v", b, err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{fifo: "not a regular file", zero: "symlink", big: "larger than"} {
		done := make(chan error, 1)
		go func() { _, err := ReadBounded(name, 1<<20); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want %q", filepath.Base(name), err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the read blocks", filepath.Base(name))
		}
	}
}
