package openers

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestAttachRawTracepoint: a program attaches to a tracepoint the kernel
// has, through a close-on-exec file that closes cleanly, and a name the
// kernel lacks is refused with the kernel's own answer.
func TestAttachRawTracepoint(t *testing.T) {
	netns.Require(t, os.Geteuid() == 0, "eBPF needs root")
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.RawTracepoint,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "GPL",
	})
	if err != nil {
		netns.Require(t, false, "eBPF programs: "+err.Error())
	}
	defer prog.Close()

	if f, err := attachRawTracepoint("tcpdash_no_such_tracepoint", prog); err == nil {
		f.Close()
		t.Fatal("a tracepoint the kernel lacks was attached to")
	} else if !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), "BPF_RAW_TRACEPOINT_OPEN") {
		t.Errorf("a tracepoint the kernel lacks: %v, want ENOENT from BPF_RAW_TRACEPOINT_OPEN", err)
	}

	f, err := attachRawTracepoint("inet_sock_set_state", prog)
	if err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd flags %#x (%v), want close-on-exec", flags, err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("detach: %v", err)
	}
}
