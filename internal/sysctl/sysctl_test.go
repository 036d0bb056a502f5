package sysctl

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("1-2,", 2000) + "3\n" // 8 KiB: more than os.ReadFile's first read
	for name, content := range map[string]string{"empty": "", "long": long, "full": strings.Repeat("x", MaxSize)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := ReadFile(filepath.Join(dir, "empty")); err != nil || len(b) != 0 {
		t.Errorf("empty: %q, %v", b, err)
	}
	if b, err := ReadFile(filepath.Join(dir, "long")); err != nil || string(b) != long {
		t.Errorf("long: %d bytes, %v", len(b), err)
	}
	if _, err := ReadFile(filepath.Join(dir, "full")); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("a value that fills the buffer: %v, want refused", err)
	}
	if _, err := Read(dir, "no.such.key"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent key: %v", err)
	}
	if v, err := Read(dir, "long"); err != nil || v != strings.TrimSuffix(long, "\n") {
		t.Errorf("Read trims the newline: %v", err)
	}
}
