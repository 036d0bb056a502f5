package procfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadFileMatchesOS: procfs files (no size, some pollable) and a
// regular one read the same as os.ReadFile reads them.
func TestReadFileMatchesOS(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("0123456789abcdef"), 4096+3), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/proc/self/mountinfo", "/proc/net/snmp", "/proc/sys/net/ipv4/ip_local_port_range", "/proc/self/cmdline", big} {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		// cmdline is this process's, read twice: the same; mountinfo could
		// change between the reads only if something mounted meanwhile.
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, os.ReadFile %d", p, len(got), len(want))
		}
	}
}

// TestReadFileBounds: a file over the limit is refused, not read whole;
// one exactly at it is read; an absent one is fs.ErrNotExist.
func TestReadFileBounds(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(strings.Repeat("x", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(p, 1000); err != nil || len(b) != 1000 {
		t.Errorf("at the limit: %d bytes, %v", len(b), err)
	}
	if _, err := ReadFile(p, 999); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "absent"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent: %v", err)
	}
	if _, err := ReadFile("/proc/self/mountinfo", 10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("mountinfo over 10 bytes: %v", err)
	}
}

// TestFileReadClose: Read ends in io.EOF; a closed file says so and a
// second Close is nothing.
func TestFileReadClose(t *testing.T) {
	f, err := Open("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil || len(b) == 0 {
		t.Fatalf("%q, %v", b, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := f.Read(make([]byte, 8)); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
}
