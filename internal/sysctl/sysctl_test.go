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
	// Each buffer's edge: a value that fills one is read again into the next.
	for _, n := range []int{255, 256, 257, 4095, 4096, 4097} {
		v := strings.Repeat("7", n)
		p := filepath.Join(dir, "edge")
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := ReadFile(p); err != nil || string(b) != v {
			t.Errorf("%d bytes: read %d, %v", n, len(b), err)
		}
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

func TestParsePortRange(t *testing.T) {
	for _, tc := range []struct {
		in      string
		lo, hi  int
		wantErr string
	}{
		{"32768\t60999", 32768, 60999, ""},
		{" 1024 65535 ", 1024, 65535, ""},
		{"40000 40000", 40000, 40000, ""},
		{"60999 32768", 0, 0, "LOW must be below HIGH"},
		{"0 100", 0, 0, "1-65535"},
		{"1 65536", 0, 0, "1-65535"},
		{"a b", 0, 0, "whole numbers"},
		{"1", 0, 0, "two ports"},
		{"", 0, 0, "two ports"},
	} {
		lo, hi, err := ParsePortRange(tc.in)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: %v, want an error with %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || lo != tc.lo || hi != tc.hi):
			t.Errorf("%q: %d %d %v, want %d %d", tc.in, lo, hi, err, tc.lo, tc.hi)
		}
	}
}

// FuzzParsePortRange: any text is a range in bounds or one error line.
func FuzzParsePortRange(f *testing.F) {
	f.Add("32768\t60999")
	f.Add("1 65535")
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := ParsePortRange(s)
		if err == nil && (lo < 1 || hi > 65535 || lo > hi) {
			t.Fatalf("%q: %d %d accepted", s, lo, hi)
		}
	})
}
