package openers

import (
	"github.com/cilium/ebpf/asm"
)

// TCP states and address families as the kernel numbers them.
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpClose       = 7
	afInet6        = 10
	ipprotoTCP     = 6
	bpfRBNoWakeup  = 1 // BPF_RB_NO_WAKEUP
)

// The kinds of event the program sends.
const (
	kindConnected = 1 // connect() succeeded: who called it, and the 4-tuple
	kindFailed    = 2 // connect() failed (SYN_SENT → CLOSE): who, and where to
	kindReset     = 3 // an established connection was reset (ESTABLISHED → CLOSE)
)

// The event record, as the program writes it and the reader decodes it.
const (
	evKind    = 0  // u8
	evFamily  = 2  // u16
	evSport   = 4  // u16, host order
	evDport   = 6  // u16, network order
	evNetns   = 8  // u64: the namespace's cookie (SO_NETNS_COOKIE)
	evTgid    = 16 // u32: the process
	evCgroup  = 24 // u64: its cgroup v2 id
	evComm    = 32 // [16]byte: its command
	evSaddr   = 48 // [16]byte: 4 bytes for IPv4
	evDaddr   = 64 // [16]byte
	eventSize = 80
)

// The caller of connect(), as the program keeps it between SYN_SENT (in
// the caller's context, before the local port is chosen) and the state
// after it (in softirq context, with the port).
const (
	pvTgid      = 0  // u32
	pvCgroup    = 8  // u64
	pvComm      = 16 // [16]byte
	pendingSize = 32
)

// Stack slots, below the frame pointer.
const (
	stackEvent   = -80  // eventSize bytes
	stackKey     = -88  // the pending map's key: the socket's address
	stackPending = -120 // pendingSize bytes
	stackScratch = -128 // 8 bytes
)

// program is the raw tracepoint handler for inet_sock_set_state(sk,
// oldstate, newstate). It records the caller of connect() when a TCP
// socket enters SYN_SENT, and when it leaves SYN_SENT sends the caller with
// the connection's 4-tuple (connected) or its destination (failed). An
// established connection that goes straight to CLOSE was reset. It is
// assembled here, with the offsets of the running kernel, so building
// tcpdash needs no C compiler.
func program(o offsets, pending, events, stats int) asm.Instructions {
	probeRead := func(dst int16, size int32, skOff int32) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, int32(dst)),
			asm.Mov.Imm(asm.R2, size),
			asm.Mov.Reg(asm.R3, asm.R7),
			asm.Add.Imm(asm.R3, skOff),
			asm.FnProbeReadKernel.Call(),
		}
	}
	// zero clears n bytes of the stack at at, through R1 (a map key
	// must be wholly written before the kernel reads it).
	zero := func(at int16, n int16) asm.Instructions {
		ins := asm.Instructions{asm.Mov.Imm(asm.R1, 0)}
		for i := int16(0); i < n; i += 8 {
			ins = append(ins, asm.StoreMem(asm.RFP, at+i, asm.R1, asm.DWord))
		}
		return ins
	}
	stackPtr := func(reg asm.Register, at int16) asm.Instructions {
		return asm.Instructions{asm.Mov.Reg(reg, asm.RFP), asm.Add.Imm(reg, int32(at))}
	}

	var ins asm.Instructions
	add := func(more ...asm.Instruction) { ins = append(ins, more...) }
	addAll := func(more asm.Instructions) { ins = append(ins, more...) }

	add(
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R7, asm.R6, 0, asm.DWord),  // sk
		asm.LoadMem(asm.R8, asm.R6, 8, asm.DWord),  // oldstate
		asm.LoadMem(asm.R9, asm.R6, 16, asm.DWord), // newstate
	)
	addAll(zero(stackScratch, 8))
	// TCP only: the tracepoint fires for SCTP and MPTCP too.
	addAll(probeRead(stackScratch, 2, o.protocol))
	add(
		asm.LoadMem(asm.R1, asm.RFP, stackScratch, asm.Half),
		asm.JNE.Imm(asm.R1, ipprotoTCP, "exit"),
		asm.JEq.Imm(asm.R9, tcpSynSent, "record"),
		asm.JEq.Imm(asm.R8, tcpSynSent, "resolve"),
		asm.JNE.Imm(asm.R8, tcpEstablished, "exit"),
		asm.JNE.Imm(asm.R9, tcpClose, "exit"),
	)
	// A reset: no caller to name.
	addAll(zero(stackEvent, eventSize))
	add(
		asm.StoreImm(asm.RFP, stackEvent+evKind, kindReset, asm.Byte),
		asm.Ja.Label("fill"),
	)

	// SYN_SENT: remember the caller, by the socket's address.
	record := zero(stackPending, pendingSize)
	record[0] = record[0].WithSymbol("record")
	addAll(record)
	add(
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.RFP, stackPending+pvTgid, asm.R0, asm.Word),
		asm.FnGetCurrentCgroupId.Call(),
		asm.StoreMem(asm.RFP, stackPending+pvCgroup, asm.R0, asm.DWord),
	)
	addAll(stackPtr(asm.R1, stackPending+pvComm))
	add(
		asm.Mov.Imm(asm.R2, 16),
		asm.FnGetCurrentComm.Call(),
		asm.StoreMem(asm.RFP, stackKey, asm.R7, asm.DWord),
		asm.LoadMapPtr(asm.R1, pending),
	)
	addAll(stackPtr(asm.R2, stackKey))
	addAll(stackPtr(asm.R3, stackPending))
	add(
		asm.Mov.Imm(asm.R4, 0),
		asm.FnMapUpdateElem.Call(),
		asm.Ja.Label("exit"),
	)

	// Leaving SYN_SENT: the caller, if it was seen, and where it went.
	add(
		asm.StoreMem(asm.RFP, stackKey, asm.R7, asm.DWord).WithSymbol("resolve"),
		asm.LoadMapPtr(asm.R1, pending),
	)
	addAll(stackPtr(asm.R2, stackKey))
	add(
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
	)
	addAll(zero(stackEvent, eventSize))
	add(
		asm.LoadMem(asm.R1, asm.R0, pvTgid, asm.Word),
		asm.StoreMem(asm.RFP, stackEvent+evTgid, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.R0, pvCgroup, asm.DWord),
		asm.StoreMem(asm.RFP, stackEvent+evCgroup, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.R0, pvComm, asm.DWord),
		asm.StoreMem(asm.RFP, stackEvent+evComm, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.R0, pvComm+8, asm.DWord),
		asm.StoreMem(asm.RFP, stackEvent+evComm+8, asm.R1, asm.DWord),
		asm.LoadMapPtr(asm.R1, pending),
	)
	addAll(stackPtr(asm.R2, stackKey))
	add(
		asm.FnMapDeleteElem.Call(),
		asm.StoreImm(asm.RFP, stackEvent+evKind, kindConnected, asm.Byte),
		asm.JEq.Imm(asm.R9, tcpEstablished, "fill"),
		asm.StoreImm(asm.RFP, stackEvent+evKind, kindFailed, asm.Byte),
		asm.JEq.Imm(asm.R9, tcpClose, "fill"),
		asm.Ja.Label("exit"),
	)

	// The socket's addresses, ports and namespace.
	fill := probeRead(stackEvent+evFamily, 2, o.family)
	fill[0] = fill[0].WithSymbol("fill")
	addAll(fill)
	addAll(probeRead(stackEvent+evSport, 2, o.num))
	addAll(probeRead(stackEvent+evDport, 2, o.dport))
	addAll(probeRead(stackScratch, 8, o.net))
	add(
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, stackEvent+evNetns),
		asm.Mov.Imm(asm.R2, 8),
		asm.LoadMem(asm.R3, asm.RFP, stackScratch, asm.DWord),
		asm.Add.Imm(asm.R3, o.netCookie),
		asm.FnProbeReadKernel.Call(),
		asm.LoadMem(asm.R1, asm.RFP, stackEvent+evFamily, asm.Half),
		asm.JEq.Imm(asm.R1, afInet6, "v6"),
	)
	addAll(probeRead(stackEvent+evSaddr, 4, o.rcvSaddr))
	addAll(probeRead(stackEvent+evDaddr, 4, o.daddr))
	add(asm.Ja.Label("send"))
	v6 := probeRead(stackEvent+evSaddr, 16, o.v6Saddr)
	v6[0] = v6[0].WithSymbol("v6")
	addAll(v6)
	addAll(probeRead(stackEvent+evDaddr, 16, o.v6Daddr))

	// Send, without waking the reader (it reads every readEvery); a full
	// ring counts in stats[0].
	add(asm.LoadMapPtr(asm.R1, events).WithSymbol("send"))
	addAll(stackPtr(asm.R2, stackEvent))
	add(
		asm.Mov.Imm(asm.R3, eventSize),
		asm.Mov.Imm(asm.R4, bpfRBNoWakeup),
		asm.FnRingbufOutput.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.StoreImm(asm.RFP, stackKey, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, stats),
	)
	addAll(stackPtr(asm.R2, stackKey))
	add(
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	)
	return ins
}
