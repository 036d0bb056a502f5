package tcpinfo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// userHZ is the unit of /proc/net/tcp's timer column (clock_t): the
// kernel's USER_HZ, which is 100 on every Linux architecture.
const userHZ = 100

// ParseProcNet reads a /proc/net/tcp or /proc/net/tcp6 table and calls fn
// for each socket; the *Socket is reused. Sockets from /proc have no cookie.
func ParseProcNet(r io.Reader, family Family, fn func(*Socket)) error {
	if family != IPv4 && family != IPv6 {
		return fmt.Errorf("tcpinfo: /proc/net/tcp of unknown family %d", family)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var s Socket
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("tcpinfo: /proc/net/tcp line %d is too long", n)
		}
		if len(bytes.TrimSpace(line)) > 0 && n > 1 { // line 1 is the header
			if perr := s.parseProcLine(line, family); perr != nil {
				return fmt.Errorf("tcpinfo: /proc/net/tcp line %d: %w", n, perr)
			}
			fn(&s)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tcpinfo: read /proc/net/tcp: %w", err)
		}
	}
}

// procFields are the columns used, by index: sl, local, remote, st,
// tx:rx, tr:when, retrnsmt, uid, timeout, inode.
const procFields = 10

func (s *Socket) parseProcLine(line []byte, family Family) error {
	var f [procFields][]byte
	rest := line
	for i := range f {
		rest = bytes.TrimLeft(rest, " \t")
		end := bytes.IndexAny(rest, " \t\n")
		if end < 0 {
			end = len(rest)
		}
		if end == 0 {
			return fmt.Errorf("%d fields, want at least %d", i, procFields)
		}
		f[i], rest = rest[:end], rest[end:]
	}
	local, err := parseProcAddr(f[1], family)
	if err != nil {
		return fmt.Errorf("local address: %w", err)
	}
	remote, err := parseProcAddr(f[2], family)
	if err != nil {
		return fmt.Errorf("remote address: %w", err)
	}
	st, err := parseHex(f[3], 8)
	if err != nil || !State(st).Valid() {
		return fmt.Errorf("bad state %q", f[3])
	}
	tx, rx, err := parseHexPair(f[4], 32, 32)
	if err != nil {
		return fmt.Errorf("queues: %w", err)
	}
	timer, when, err := parseHexPair(f[5], 8, 64)
	if err != nil {
		return fmt.Errorf("timer: %w", err)
	}
	retr, err := parseHex(f[6], 32)
	if err != nil {
		return fmt.Errorf("retransmits: %w", err)
	}
	uid, err := parseDec(f[7])
	if err != nil {
		return fmt.Errorf("uid: %w", err)
	}
	inode, err := parseDec(f[9])
	if err != nil {
		return fmt.Errorf("inode: %w", err)
	}
	*s = Socket{
		Family:      family,
		State:       State(st),
		Local:       local,
		Remote:      remote,
		Timer:       uint8(timer),
		Retransmits: uint8(min(retr, 255)),
		Expires:     time.Duration(when) * (time.Second / userHZ),
		SendQ:       uint32(tx),
		RecvQ:       uint32(rx),
		UID:         uint32(uid),
		Inode:       uint32(inode),
	}
	return nil
}

// parseProcAddr parses ADDR:PORT where ADDR is the address as 32-bit words
// printed in host byte order and PORT is big-endian hex.
func parseProcAddr(b []byte, family Family) (netip.AddrPort, error) {
	words := 1
	if family == IPv6 {
		words = 4
	}
	if len(b) != words*8+5 || b[words*8] != ':' {
		return netip.AddrPort{}, fmt.Errorf("malformed %q", b)
	}
	var raw [16]byte
	for i := range words {
		w, err := parseHex(b[i*8:i*8+8], 32)
		if err != nil {
			return netip.AddrPort{}, err
		}
		binary.NativeEndian.PutUint32(raw[i*4:], uint32(w))
	}
	port, err := parseHex(b[words*8+1:], 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	addr := netip.AddrFrom4([4]byte(raw[:4]))
	if family == IPv6 {
		addr = netip.AddrFrom16(raw).Unmap()
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

var errSyntax = errors.New("not a number")

func parseHex(b []byte, bits int) (uint64, error) {
	if len(b) == 0 || len(b) > bits/4 {
		return 0, fmt.Errorf("%w: %q", errSyntax, b)
	}
	var v uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, fmt.Errorf("%w: %q", errSyntax, b)
		}
		v = v<<4 | uint64(c)
	}
	return v, nil
}

func parseHexPair(b []byte, bits1, bits2 int) (uint64, uint64, error) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return 0, 0, fmt.Errorf("%w: %q", errSyntax, b)
	}
	x, err := parseHex(b[:i], bits1)
	if err != nil {
		return 0, 0, err
	}
	y, err := parseHex(b[i+1:], bits2)
	return x, y, err
}

func parseDec(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 19 {
		return 0, fmt.Errorf("%w: %q", errSyntax, b)
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q", errSyntax, b)
		}
		v = v*10 + uint64(c-'0')
	}
	return v, nil
}
