package tcpinfo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Wire sizes from include/uapi/linux/inet_diag.h.
const (
	sockIDLen  = 48 // struct inet_diag_sockid
	reqV2Len   = 56 // struct inet_diag_req_v2
	reqLen     = 60 // struct inet_diag_req, TCPDIAG_GETSOCK's
	diagMsgLen = 72 // struct inet_diag_msg

	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	tcpDiagGetSock   = 18 // TCPDIAG_GETSOCK: a dump of both families
	ipprotoTCP       = 6

	attrCgroupID = 21 // INET_DIAG_CGROUP_ID: u64, sent without an idiag_ext bit
	attrInfo     = 2  // INET_DIAG_INFO: struct tcp_info, when idiag_ext asks
	extInfo      = 1 << (attrInfo - 1)

	reqBytecode = 1 // INET_DIAG_REQ_BYTECODE: a filter program, after the request
)

// errShortMessage reports an inet_diag_msg shorter than its fixed part.
var errShortMessage = errors.New("tcpinfo: short inet_diag message")

// request is a dump's request: no socket id, no extensions but tcp_info
// when asked, and optionally a filter program for the kernel to run on
// every socket before copying it.
//
// For one family it is struct inet_diag_req_v2 (SOCK_DIAG_BY_FAMILY). For
// BothFamilies it is the older struct inet_diag_req (TCPDIAG_GETSOCK),
// which the kernel still serves: it dumps every family in one walk of the
// socket tables (inet_diag_dump_compat asks for AF_UNSPEC), where a dump
// by family walks all the sockets to copy its own. Its answers are the
// same struct inet_diag_msg, under the request's type.
type request struct {
	family  Family
	states  StateSet
	program []byte
	info    bool // ask for tcp_info (INET_DIAG_INFO)
}

// msgType is the netlink message type of r and of the kernel's answers.
func (r request) msgType() uint16 {
	if r.family == BothFamilies {
		return tcpDiagGetSock
	}
	return sockDiagByFamily
}

// MarshalBinary encodes r in host byte order, as the kernel expects.
func (r request) MarshalBinary() ([]byte, error) {
	var b []byte
	// idiag_ext: extensions cost the kernel a copy per socket, so tcp_info
	// is asked for only when health is shown or exported.
	var ext byte
	if r.info {
		ext = extInfo
	}
	if r.family == BothFamilies {
		// {family, src_len, dst_len, ext}, the socket id, states, dbs;
		// the protocol is the message type's.
		b = make([]byte, reqLen)
		b[3] = ext
		binary.NativeEndian.PutUint32(b[4+sockIDLen:], uint32(r.states))
	} else {
		b = make([]byte, reqV2Len)
		b[0] = byte(r.family)
		b[1] = ipprotoTCP
		b[2] = ext
		binary.NativeEndian.PutUint32(b[4:], uint32(r.states))
	}
	if len(r.program) > 0 {
		// struct nlattr {u16 len; u16 type}, padded to 4 bytes.
		n := 4 + len(r.program)
		if n > 0xffff {
			return nil, fmt.Errorf("tcpinfo: filter program of %d bytes does not fit an attribute", len(r.program))
		}
		b = binary.NativeEndian.AppendUint16(b, uint16(n))
		b = binary.NativeEndian.AppendUint16(b, reqBytecode)
		b = append(b, r.program...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b, nil
}

// UnmarshalBinary decodes one struct inet_diag_msg into s, and of its
// attributes the cgroup id. It allocates nothing, so a dump can be decoded
// into one reused Socket.
func (s *Socket) UnmarshalBinary(b []byte) error {
	if len(b) < diagMsgLen {
		return fmt.Errorf("%w: %d bytes, want at least %d", errShortMessage, len(b), diagMsgLen)
	}
	family := Family(b[0])
	id := b[4 : 4+sockIDLen]
	var local, remote netip.Addr
	switch family {
	case IPv4:
		local = netip.AddrFrom4([4]byte(id[4:8]))
		remote = netip.AddrFrom4([4]byte(id[20:24]))
	case IPv6:
		local = netip.AddrFrom16([16]byte(id[4:20])).Unmap()
		remote = netip.AddrFrom16([16]byte(id[20:36])).Unmap()
	default:
		return fmt.Errorf("tcpinfo: inet_diag message of unknown family %d", family)
	}
	state := State(b[1])
	if !state.Valid() {
		return fmt.Errorf("tcpinfo: inet_diag message with unknown state %d", b[1])
	}
	// Field by field: a composite literal is built on the stack and
	// copied, and the copy stalled on its own fresh stores (a fifth of
	// decoding a dump). Every field is set.
	s.Family, s.State, s.Timer, s.Retransmits = family, state, b[2], b[3]
	// Ports are the only big-endian fields.
	s.Local = netip.AddrPortFrom(local, binary.BigEndian.Uint16(id[0:2]))
	s.Remote = netip.AddrPortFrom(remote, binary.BigEndian.Uint16(id[2:4]))
	s.Interface = binary.NativeEndian.Uint32(id[36:40])
	s.Cookie = uint64(binary.NativeEndian.Uint32(id[40:44])) | uint64(binary.NativeEndian.Uint32(id[44:48]))<<32
	s.Expires = time.Duration(binary.NativeEndian.Uint32(b[52:56])) * time.Millisecond
	s.RecvQ, s.SendQ = binary.NativeEndian.Uint32(b[56:60]), binary.NativeEndian.Uint32(b[60:64])
	s.UID, s.Inode = binary.NativeEndian.Uint32(b[64:68]), binary.NativeEndian.Uint32(b[68:72])
	s.Cgroup, s.HasInfo = attrs(b[diagMsgLen:], &s.Info)
	return nil
}

// attrs reads INET_DIAG_CGROUP_ID and INET_DIAG_INFO among the attributes
// that follow the fixed message, by hand: netlink's AttributeDecoder
// allocates, and this runs once per socket. Malformed attributes end the
// search.
func attrs(b []byte, info *TCPInfo) (cgroup uint64, hasInfo bool) {
	for len(b) >= 4 {
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) & 0x3fff // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
		if n < 4 || n > len(b) {
			return cgroup, hasInfo
		}
		switch {
		case typ == attrCgroupID && n >= 12:
			cgroup = binary.NativeEndian.Uint64(b[4:12])
		case typ == attrInfo:
			hasInfo = info.unmarshal(b[4:n])
		}
		b = b[min((n+3)&^3, len(b)):]
	}
	return cgroup, hasInfo
}

// TCPInfo is what tcpdash reads of a socket's struct tcp_info (ss -ti).
type TCPInfo struct {
	// RTT and MinRTT are the smoothed and the lowest round-trip time
	// seen, in microseconds.
	RTT, MinRTT uint32
	// TotalRetrans counts the segments retransmitted over its life, Lost
	// and Unacked those lost and in flight now.
	TotalRetrans, Lost, Unacked uint32
	SegsOut                     uint32
	BytesAcked, DeliveryRate    uint64 // bytes; bytes a second
}

// unmarshal reads the fields the kernel sent: struct tcp_info grows with
// kernels, and an older one sends fewer bytes. It reports whether the
// fields up to total_retrans were there.
func (t *TCPInfo) unmarshal(b []byte) bool {
	u32 := func(off int) uint32 {
		if off+4 > len(b) {
			return 0
		}
		return binary.NativeEndian.Uint32(b[off:])
	}
	u64 := func(off int) uint64 {
		if off+8 > len(b) {
			return 0
		}
		return binary.NativeEndian.Uint64(b[off:])
	}
	*t = TCPInfo{Unacked: u32(24), Lost: u32(32), RTT: u32(68), TotalRetrans: u32(100),
		BytesAcked: u64(120), SegsOut: u32(136), MinRTT: u32(148), DeliveryRate: u64(160)}
	return len(b) >= 104
}
