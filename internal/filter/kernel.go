package filter

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Run is a Go model of the kernel's interpreter (inet_diag_bc_run): it
// reports whether program accepts e. Tests hold the compiler to it, and
// it to the real kernel.
func Run(program []byte, e Entry) bool {
	pc, n := 0, len(program)
	for n-pc > 0 {
		code, yes := program[pc], int(program[pc+1])
		no := int(binary.NativeEndian.Uint16(program[pc+2:]))
		ok := true
		operand := func(i int) []byte { return program[pc+4+i:] }
		switch code {
		case bcNop:
		case bcJmp:
			ok = false
		case bcSrcEQ, bcSrcGE, bcSrcLE, bcDstEQ, bcDstGE, bcDstLE:
			port := binary.NativeEndian.Uint16(operand(2))
			p := e.Dst.Port()
			if code == bcSrcEQ || code == bcSrcGE || code == bcSrcLE {
				p = e.Src.Port()
			}
			switch code {
			case bcSrcEQ, bcDstEQ:
				ok = p == port
			case bcSrcGE, bcDstGE:
				ok = p >= port
			default:
				ok = p <= port
			}
		case bcAuto:
			ok = e.Autobound
		case bcSrcCond, bcDstCond:
			ok = hostcond(code == bcSrcCond, operand(0), e)
		case bcCgroupCond:
			ok = e.Cgroup == binary.NativeEndian.Uint64(operand(0))
		default:
			ok = false // the audit refuses what this model does not know
		}
		step := no
		if ok {
			step = yes
		}
		if step <= 0 {
			return false // an unaudited program; the kernel refuses it
		}
		pc += step
	}
	return pc == n
}

// hostcond is INET_DIAG_BC_S_COND / D_COND on the kernel's view of a
// socket: addresses as it holds them (an IPv6 socket's v4-mapped address
// as ::ffff:a.b.c.d).
func hostcond(src bool, cond []byte, e Entry) bool {
	family, bits := cond[0], int(cond[1])
	port := int32(binary.NativeEndian.Uint32(cond[4:]))
	ap := e.Dst
	if src {
		ap = e.Src
	}
	if port != -1 && int(port) != int(ap.Port()) {
		return false
	}
	addr := kernelAddr(e.Family, ap.Addr())
	want := cond[8:]
	if family != afUnspec && family != e.Family {
		if e.Family == afInet6 && family == afInet {
			m := addr[:12]
			if string(m) == "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff" && prefixMatch(addr[12:], want, bits) {
				return true
			}
		}
		return false
	}
	if bits == 0 {
		return true
	}
	return prefixMatch(addr, want, bits)
}

// kernelAddr is the address as the kernel stores it for a socket of the
// family: 4 bytes for IPv4, 16 for IPv6 (mapped when it is an IPv4 one).
func kernelAddr(family uint8, a netip.Addr) []byte {
	if family == afInet6 {
		b := a.As16()
		return b[:]
	}
	b := a.Unmap().As4()
	return b[:]
}

// Audit is a Go model of the kernel's check of a program before it runs
// (inet_diag_bc_audit): every op known and whole, every jump on an op
// boundary of the program or to its end, or 4 bytes beyond. The kernel
// answers EINVAL where this returns an error.
func Audit(program []byte) error {
	n := len(program)
	for pc := 0; n-pc > 0; {
		rest := n - pc
		if rest < 4 {
			return errors.New("an op cut short")
		}
		code, yes := program[pc], int(program[pc+1])
		no := int(binary.NativeEndian.Uint16(program[pc+2:]))
		min := 4
		switch code {
		case bcSrcCond, bcDstCond:
			if rest < 4+8 {
				return errors.New("a host condition cut short")
			}
			switch program[pc+4] {
			case afUnspec:
				min = 12
			case afInet:
				min = 16
			case afInet6:
				min = 28
			default:
				return errors.New("a host condition of an unknown family")
			}
			if int(program[pc+5]) > 8*(min-12) || rest < min {
				return errors.New("a host condition with a bad prefix length")
			}
		case bcSrcEQ, bcSrcGE, bcSrcLE, bcDstEQ, bcDstGE, bcDstLE:
			min = 8
			if rest < min {
				return errors.New("a port comparison cut short")
			}
		case bcCgroupCond:
			min = 12
			if rest < min {
				return errors.New("a cgroup condition cut short")
			}
		case bcAuto, bcJmp, bcNop:
		default:
			return errors.New("an unknown op")
		}
		if code != bcNop {
			if no < min || no > rest+4 || no&3 != 0 {
				return errors.New("a false jump out of bounds")
			}
			if no < rest && !validTarget(program, n-(rest-no)) {
				return errors.New("a false jump into the middle of an op")
			}
		}
		if yes < min || yes > rest+4 || yes&3 != 0 {
			return errors.New("a true jump out of bounds")
		}
		pc += yes
	}
	if pc := walkYes(program); pc != n {
		return errors.New("the program does not end on an op")
	}
	return nil
}

// validTarget is the kernel's valid_cc: target is reached by walking the
// program from its start along yes.
func validTarget(program []byte, target int) bool {
	for pc := 0; pc <= len(program); {
		if pc == target {
			return true
		}
		if pc > target || pc+4 > len(program) {
			return false
		}
		yes := int(program[pc+1])
		if yes < 4 || yes&3 != 0 {
			return false
		}
		pc += yes
	}
	return false
}

func walkYes(program []byte) int {
	pc := 0
	for pc < len(program) && pc+4 <= len(program) {
		yes := int(program[pc+1])
		if yes == 0 {
			return -1
		}
		pc += yes
	}
	return pc
}
