package filter

import (
	"encoding/binary"
	"fmt"
)

// The kernel's bytecode operations (include/uapi/linux/inet_diag.h).
const (
	bcNop        = 0
	bcJmp        = 1
	bcSrcGE      = 2
	bcSrcLE      = 3
	bcDstGE      = 4
	bcDstLE      = 5
	bcAuto       = 6
	bcSrcCond    = 7
	bcDstCond    = 8
	bcDevCond    = 9
	bcMarkCond   = 10
	bcSrcEQ      = 11
	bcDstEQ      = 12
	bcCgroupCond = 13
)

// Each operation is struct inet_diag_bc_op {u8 code; u8 yes; u16 no},
// followed by its operand. The kernel runs a program from its start: a
// true condition moves on by yes bytes, a false one jumps by no. A program
// accepts a socket when it ends exactly at its last byte, and rejects it
// when it jumps 4 bytes beyond.
//
// Programs are built as ss builds them (ssfilter_bytecompile): every
// fragment falls through its end when true and jumps 4 bytes past its end
// when false, so fragments compose by concatenation and relocation.

// Bytecode compiles the expression to INET_DIAG_REQ_BYTECODE. It returns
// nil when there is no expression: the states alone need no program.
func (f *Filter) Bytecode() ([]byte, error) {
	if f.expr == nil {
		return nil, nil
	}
	b, err := compile(f.expr)
	if err == nil && len(b) > maxProgram {
		return nil, &Error{Expr: f.text, Pos: len(f.text), Msg: fmt.Sprintf("the filter compiles to %d bytes; the kernel takes at most %d", len(b), maxProgram)}
	}
	return b, err
}

// maxProgram keeps every jump within the u16 of an op, and the request
// within one netlink attribute.
const maxProgram = 32 << 10

func op(code byte, yes int, no int) []byte {
	b := make([]byte, 4, yes)
	b[0], b[1] = code, byte(yes)
	binary.NativeEndian.PutUint16(b[2:], uint16(no))
	return b
}

func compile(n node) ([]byte, error) {
	switch n := n.(type) {
	case portNode:
		code := map[string][2]byte{"=": {bcSrcEQ, bcDstEQ}, ">=": {bcSrcGE, bcDstGE}, "<=": {bcSrcLE, bcDstLE}}[n.op]
		c := code[1]
		if n.src {
			c = code[0]
		}
		// The port is the no field of a second, inert op.
		b := op(c, 8, 12)
		b = append(b, 0, 0, 0, 0)
		binary.NativeEndian.PutUint16(b[6:], n.port)
		return b, nil
	case hostNode:
		c := byte(bcDstCond)
		if n.src {
			c = bcSrcCond
		}
		alen := 0
		switch n.family {
		case afInet:
			alen = 4
		case afInet6:
			alen = 16
		}
		size := 4 + 8 + alen
		b := op(c, size, size+4)
		// struct inet_diag_hostcond {u8 family; u8 prefix_len; int port; __be32 addr[]}
		cond := make([]byte, 8, 8+alen)
		cond[0], cond[1] = n.family, byte(n.bits)
		binary.NativeEndian.PutUint32(cond[4:], uint32(int32(n.port)))
		if alen > 0 {
			cond = append(cond, n.addr.AsSlice()...)
		}
		return append(b, cond...), nil
	case autoNode:
		return op(bcAuto, 4, 8), nil
	case *cgroupNode:
		if n.id == 0 {
			return nil, fmt.Errorf("filter: cgroup %s: not resolved to an id", n.path)
		}
		b := op(bcCgroupCond, 12, 16)
		return binary.NativeEndian.AppendUint64(b, n.id), nil
	case notNode:
		a, err := compile(n.x)
		if err != nil {
			return nil, err
		}
		// a true: jump 8 from the JMP, 4 past the end; a false: lands on
		// the end, true.
		return append(a, op(bcJmp, 4, 8)...), nil
	case andNode:
		a, b, err := compileBoth(n.l, n.r)
		if err != nil {
			return nil, err
		}
		relocate(a, len(b))
		return append(a, b...), nil
	case orNode:
		a, b, err := compileBoth(n.l, n.r)
		if err != nil {
			return nil, err
		}
		// a true: the JMP skips b to the end; a false: lands on b.
		out := append(a, op(bcJmp, 4, len(b)+4)...)
		return append(out, b...), nil
	}
	return nil, fmt.Errorf("filter: cannot compile %T", n)
}

func compileBoth(l, r node) (a, b []byte, err error) {
	if a, err = compile(l); err == nil {
		b, err = compile(r)
	}
	return a, b, err
}

// relocate makes every jump of a to its own failure (4 past its end) a
// jump to the failure of a followed by reloc more bytes: ss's
// ssfilter_patch. It walks the program as the kernel's audit does, op by
// op along yes.
func relocate(a []byte, reloc int) {
	for i := 0; i < len(a); {
		rest := len(a) - i
		no := int(binary.NativeEndian.Uint16(a[i+2:]))
		if a[i] != bcNop && no == rest+4 {
			binary.NativeEndian.PutUint16(a[i+2:], uint16(no+reloc))
		}
		i += int(a[i+1])
	}
}
