package openers

import (
	"errors"
	"os"
	"testing"
)

// TestKernelOffsets: the running kernel's BTF lays out every field the
// program reads, where a kernel with BTF has them.
func TestKernelOffsets(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); errors.Is(err, os.ErrNotExist) {
		t.Skip("the kernel has no BTF")
	}
	o, err := kernelOffsets()
	if err != nil {
		t.Fatal(err)
	}
	// sock_common is struct sock's first member, and its address pair
	// comes first (skc_addrpair), daddr before rcv_saddr.
	if o.daddr != 0 || o.rcvSaddr != 4 || o.dport != 12 || o.num != 14 || o.family != 16 {
		t.Errorf("sock_common as laid out since 2.6: %+v", o)
	}
	if o.protocol <= o.family || o.v6Daddr <= o.net || o.netCookie <= 0 {
		t.Errorf("offsets %+v", o)
	}
	t.Logf("%+v", o)
}
