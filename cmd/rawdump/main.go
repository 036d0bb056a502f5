// Command rawdump is the floor for a TCP socket snapshot: the least work
// any inet_diag tool can do. It dumps every TCP socket of both families,
// in one walk of the kernel's tables (TCPDIAG_GETSOCK, which asks for
// AF_UNSPEC), into one reused buffer and counts them, decoding nothing
// else. The benchmark scripts measure tcpdash and ss against it on the
// same population, in the same run.
//
// With -per-family it dumps IPv4, then IPv6 (SOCK_DIAG_BY_FAMILY), as ss
// does: each of those walks every socket of both families, so the kernel
// walks them twice. It was the floor until tcpdash dumped both in one.
//
// With -dport, the kernel runs a one-instruction filter program
// (dport == PORT) on each socket and copies only those it accepts: the
// floor for a filtered snapshot, which is the kernel's walk of its
// tables.
//
//	rawdump [-per-family] [-dport PORT]   prints the number of TCP sockets
//	                                      (with that destination port)
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rawdump:", err)
		os.Exit(1)
	}
}

func run() error {
	dport := flag.Int("dport", -1, "only sockets with this destination port, filtered by the kernel")
	perFamily := flag.Bool("per-family", false, "dump IPv4, then IPv6, as ss does: the kernel walks its tables twice")
	flag.Parse()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 64<<10)
	total := 0
	// AF_UNSPEC under TCPDIAG_GETSOCK: both families in one walk.
	families := []byte{unix.AF_UNSPEC}
	if *perFamily {
		families = []byte{unix.AF_INET, unix.AF_INET6}
	}
	for seq, family := range families {
		// struct nlmsghdr + struct inet_diag_req_v2 (by family) or struct
		// inet_diag_req (both): every state, no extensions.
		size, msgType, states := 56, uint16(20), 4 // SOCK_DIAG_BY_FAMILY
		if family == unix.AF_UNSPEC {
			size, msgType, states = 60, 18, 52 // TCPDIAG_GETSOCK
		}
		req := make([]byte, 16+size)
		if *dport >= 0 {
			// An INET_DIAG_REQ_BYTECODE attribute: struct inet_diag_bc_op
			// {code INET_DIAG_BC_D_EQ, yes 8 (accept), no 12 (reject)},
			// then the port in the next op's no.
			attr := make([]byte, 4+8)
			binary.NativeEndian.PutUint16(attr[0:], uint16(len(attr)))
			binary.NativeEndian.PutUint16(attr[2:], 1) // INET_DIAG_REQ_BYTECODE
			attr[4], attr[5] = 12, 8
			binary.NativeEndian.PutUint16(attr[6:], 12)
			binary.NativeEndian.PutUint16(attr[10:], uint16(*dport))
			req = append(req, attr...)
		}
		binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
		binary.NativeEndian.PutUint16(req[4:], msgType)
		binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
		binary.NativeEndian.PutUint32(req[8:], uint32(seq+1))
		if family != unix.AF_UNSPEC {
			req[16], req[17] = family, unix.IPPROTO_TCP
		}
		binary.NativeEndian.PutUint32(req[16+states:], 1<<13-2) // idiag_states: all
		if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	recv:
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return fmt.Errorf("recv: %w", err)
			}
			for b := buf[:n]; len(b) >= 16; {
				l := int(binary.NativeEndian.Uint32(b))
				switch binary.NativeEndian.Uint16(b[4:]) {
				case unix.NLMSG_DONE:
					break recv
				case unix.NLMSG_ERROR:
					return fmt.Errorf("dump: error %d", int32(binary.NativeEndian.Uint32(b[16:])))
				}
				total++
				if l < 16 || l > len(b) {
					return fmt.Errorf("a message of %d bytes in %d", l, len(b))
				}
				b = b[(l+3)&^3:]
			}
		}
	}
	fmt.Println(total)
	return nil
}
