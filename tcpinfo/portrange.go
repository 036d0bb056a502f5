package tcpinfo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tcpdash/tcpdash/internal/sysctl"
)

// A PortRange is net.ipv4.ip_local_port_range less ip_local_reserved_ports:
// the ports connect() picks from.
type PortRange struct {
	Low, High uint16
	reserved  *[1 << 16 / 64]uint64
	// Reserved counts reserved ports inside [Low, High].
	Reserved int
}

// Ephemeral reports whether connect() could have picked port.
func (r PortRange) Ephemeral(port uint16) bool {
	return port >= r.Low && port <= r.High && !r.isReserved(port)
}

func (r PortRange) isReserved(port uint16) bool {
	return r.reserved != nil && r.reserved[port/64]&(1<<(port%64)) != 0
}

// Autobound reports whether a socket on port reads as autobound to ss
// from outside: inside the range, reserved or not (ss's is_ephemeral).
// The filter's autobound is this, in the dump and in the dashboard alike.
func (r PortRange) Autobound(port uint16) bool { return port >= r.Low && port <= r.High }

// Capacity is how many ports one destination group can use at once.
func (r PortRange) Capacity() int {
	if r.High < r.Low {
		return 0
	}
	return int(r.High) - int(r.Low) + 1 - r.Reserved
}

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Low, r.High) }

// ParsePortRange parses the contents of ip_local_port_range ("32768\t60999")
// and ip_local_reserved_ports ("8080,9000-9100", possibly empty).
func ParsePortRange(portRange, reserved []byte) (PortRange, error) {
	low, high, err := sysctl.ParsePortRange(string(portRange))
	if err != nil {
		return PortRange{}, fmt.Errorf("tcpinfo: ip_local_port_range %w", err)
	}
	r := PortRange{Low: uint16(low), High: uint16(high)}
	reserved = bytes.TrimSpace(reserved)
	if len(reserved) == 0 {
		return r, nil
	}
	r.reserved = new([1 << 16 / 64]uint64)
	for part := range bytes.SplitSeq(reserved, []byte(",")) {
		lo, hi, ok := bytes.Cut(part, []byte("-"))
		a, err := strconv.ParseUint(string(bytes.TrimSpace(lo)), 10, 16)
		b := a
		if err == nil && ok {
			b, err = strconv.ParseUint(string(bytes.TrimSpace(hi)), 10, 16)
		}
		if err != nil || b < a {
			return PortRange{}, fmt.Errorf("tcpinfo: ip_local_reserved_ports: bad entry %q", part)
		}
		for p := a; p <= b; p++ {
			if !r.isReserved(uint16(p)) {
				r.reserved[p/64] |= 1 << (p % 64)
				if uint16(p) >= r.Low && uint16(p) <= r.High {
					r.Reserved++
				}
			}
		}
	}
	return r, nil
}

// ReadPortRange reads the ephemeral range from a sysctl tree such as
// /proc/sys. The values are those of the reader's network namespace.
func ReadPortRange(sysctlRoot string) (PortRange, error) {
	rng, err := sysctl.ReadFile(filepath.Join(sysctlRoot, "net/ipv4/ip_local_port_range"))
	if err != nil {
		return PortRange{}, fmt.Errorf("tcpinfo: %w", err)
	}
	res, err := sysctl.ReadFile(filepath.Join(sysctlRoot, "net/ipv4/ip_local_reserved_ports"))
	if err != nil && !os.IsNotExist(err) {
		return PortRange{}, fmt.Errorf("tcpinfo: %w", err)
	}
	return ParsePortRange(rng, res)
}

// readSysctlInt reads a one-number sysctl, returning 0 if it is absent.
func readSysctlInt(sysctlRoot, key string) (int, error) {
	b, err := sysctl.ReadFile(filepath.Join(sysctlRoot, key))
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("tcpinfo: %w", err)
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil {
		return 0, fmt.Errorf("tcpinfo: %s: %w", key, err)
	}
	return n, nil
}

// readTimeWaitReuse reads what decides whether connect() may take over a
// TIME_WAIT port: tcp_tw_reuse, tcp_timestamps and tcp_tw_reuse_delay (in
// ms; a second before Linux 6.14, which has no such key).
func readTimeWaitReuse(sysctlRoot string) (TimeWaitReuse, error) {
	reuse, err := readSysctlInt(sysctlRoot, "net/ipv4/tcp_tw_reuse")
	if err != nil {
		return TimeWaitReuse{}, err
	}
	ts, err := readSysctlInt(sysctlRoot, "net/ipv4/tcp_timestamps")
	if err != nil {
		return TimeWaitReuse{}, err
	}
	ms, err := readSysctlInt(sysctlRoot, "net/ipv4/tcp_tw_reuse_delay") // 1 at least; 0 if absent
	if err != nil {
		return TimeWaitReuse{}, err
	}
	delay := time.Second
	if ms > 0 {
		delay = time.Duration(ms) * time.Millisecond
	}
	return TimeWaitReuse{Reuse: reuse, Timestamps: ts != 0, Delay: delay}, nil
}
