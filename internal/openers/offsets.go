package openers

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// offsets are where the program reads a socket's fields, from the running
// kernel's BTF: struct layouts change between kernels, and the program is
// assembled for the one it runs on (no compiler, no CO-RE relocations).
type offsets struct {
	protocol  int32 // struct sock: sk_protocol (u16)
	family    int32 // sock_common: skc_family (u16)
	num       int32 // skc_num: local port, host order (u16)
	dport     int32 // skc_dport: remote port, network order (u16)
	rcvSaddr  int32 // skc_rcv_saddr (u32)
	daddr     int32 // skc_daddr (u32)
	v6Saddr   int32 // skc_v6_rcv_saddr (16 bytes)
	v6Daddr   int32 // skc_v6_daddr (16 bytes)
	net       int32 // skc_net: a struct net pointer
	netCookie int32 // struct net: net_cookie (u64)
}

var errNoBTF = errors.New("the kernel has no BTF (/sys/kernel/btf/vmlinux): tcpdash cannot lay out its program")

// kernelOffsets reads the offsets from the kernel's BTF.
func kernelOffsets() (offsets, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return offsets{}, fmt.Errorf("%w: %w", errNoBTF, err)
	}
	return offsetsFrom(spec)
}

func offsetsFrom(spec *btf.Spec) (offsets, error) {
	var sock, net *btf.Struct
	if err := spec.TypeByName("sock", &sock); err != nil {
		return offsets{}, fmt.Errorf("BTF: struct sock: %w", err)
	}
	if err := spec.TypeByName("net", &net); err != nil {
		return offsets{}, fmt.Errorf("BTF: struct net: %w", err)
	}
	var o offsets
	var missing []string
	find := func(s *btf.Struct, name string, size int, dst *int32) {
		off, sz, ok := member(s, name)
		if !ok || (size > 0 && sz != size) {
			missing = append(missing, fmt.Sprintf("%s.%s", s.Name, name))
			return
		}
		*dst = int32(off)
	}
	find(sock, "sk_protocol", 2, &o.protocol)
	find(sock, "skc_family", 2, &o.family)
	find(sock, "skc_num", 2, &o.num)
	find(sock, "skc_dport", 2, &o.dport)
	find(sock, "skc_rcv_saddr", 4, &o.rcvSaddr)
	find(sock, "skc_daddr", 4, &o.daddr)
	find(sock, "skc_v6_rcv_saddr", 16, &o.v6Saddr)
	find(sock, "skc_v6_daddr", 16, &o.v6Daddr)
	find(sock, "skc_net", 8, &o.net)
	find(net, "net_cookie", 8, &o.netCookie)
	if len(missing) > 0 {
		return offsets{}, fmt.Errorf("BTF: this kernel's sockets lack %v", missing)
	}
	return o, nil
}

// member finds a field by name in s, looking into nested structs and
// unions (sock_common's fields sit in anonymous unions, and struct sock
// holds sock_common as __sk_common), and returns its byte offset and size.
func member(s btf.Type, name string) (offset, size int, ok bool) {
	var members []btf.Member
	switch t := btf.UnderlyingType(s).(type) {
	case *btf.Struct:
		members = t.Members
	case *btf.Union:
		members = t.Members
	default:
		return 0, 0, false
	}
	for _, m := range members {
		if m.BitfieldSize != 0 || m.Offset%8 != 0 {
			continue
		}
		if m.Name == name {
			sz, err := btf.Sizeof(m.Type)
			if err != nil {
				return 0, 0, false
			}
			return int(m.Offset / 8), sz, true
		}
		switch btf.UnderlyingType(m.Type).(type) {
		case *btf.Struct, *btf.Union:
			if off, sz, ok := member(m.Type, name); ok {
				return int(m.Offset/8) + off, sz, true
			}
		}
	}
	return 0, 0, false
}
