// Package loadgen builds a known population of TCP sockets on loopback:
// ESTABLISHED pairs, TIME_WAIT from client-side closes, CLOSE_WAIT and
// FIN_WAIT2 from half-closes, listeners, IPv6 and IPv4-mapped sockets.
// It uses blocking system calls, not the net package, so that every socket
// is in its final state when Build returns.
package loadgen

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// A Spec says how many sockets of each kind to build.
type Spec struct {
	// Established pairs over IPv4 loopback, spread over Dests
	// destination addresses: two ESTABLISHED sockets each.
	Established int
	// TimeWait sockets from client-side closes, spread round-robin over
	// Dests destination addresses (127.0.0.1, 127.0.0.2, …) and Ports
	// server ports on each.
	TimeWait int
	// HalfClosed pairs: the client shuts down its side, leaving it in
	// FIN_WAIT2 and the server in CLOSE_WAIT.
	HalfClosed int
	// IPv6 pairs over ::1.
	IPv6 int
	// Mapped pairs: IPv4 clients accepted by a dual-stack [::] listener,
	// whose server side the kernel reports as ::ffff:127.0.0.1.
	Mapped int
	// Listeners are extra idle listeners.
	Listeners int

	Dests, Ports int
	// Sources spreads the Established clients over this many source
	// addresses (127.1.0.1, 127.1.0.2, …), as clients from many hosts;
	// 0 or 1 leaves the kernel to pick 127.0.0.1.
	Sources int
	// Listening, if set, is called once every listener is bound, before
	// the first connection: workers started side by side bind all their
	// listeners before any of them connects.
	Listening func()
	// BasePort is the first server port; default 20000, below the default
	// ephemeral range so that servers never count as port pressure.
	BasePort uint16
}

// A Population holds the sockets of a Spec open until Close.
type Population struct {
	fds []int
}

// Close closes every socket the population holds.
func (p *Population) Close() error {
	var errs []error
	for _, fd := range p.fds {
		errs = append(errs, unix.Close(fd))
	}
	p.fds = nil
	return errors.Join(errs...)
}

// Listener port layout relative to BasePort: each kind gets its own block
// so that the top tables have predictable rows.
const (
	offTimeWait   = 0   // Ports ports
	offEstab      = 100 // one port
	offHalfClosed = 101
	offIPv6       = 102
	offMapped     = 103
	offIdle       = 200 // Listeners ports
)

// Build creates the population. On error, whatever was built is closed.
func Build(spec Spec) (_ *Population, err error) {
	if spec.Dests <= 0 {
		spec.Dests = 4
	}
	if spec.Ports <= 0 {
		spec.Ports = 2
	}
	if spec.BasePort == 0 {
		spec.BasePort = 20000
	}
	p := &Population{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	port := func(off int) uint16 { return spec.BasePort + uint16(off) }
	any4 := netip.IPv4Unspecified()
	lo4 := netip.MustParseAddr("127.0.0.1")
	lo6 := netip.IPv6Loopback()

	var halfClosedClients []int
	keep := func(what string, n int, ln int, to netip.AddrPort, spread bool, then func(c, s int) error) error {
		for i := range n {
			dest, from := to, netip.Addr{}
			if spread { // one group holds at most the ephemeral range
				dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + i%spec.Dests)}), to.Port())
				if spec.Sources > 1 {
					k := 1 + i%spec.Sources
					from = netip.AddrFrom4([4]byte{127, 1, byte(k >> 8), byte(k)})
				}
			}
			c, s, err := pair(ln, from, dest)
			if err != nil {
				return fmt.Errorf("%s pair %d: %w", what, i, err)
			}
			p.fds = append(p.fds, c, s)
			if then != nil {
				if err := then(c, s); err != nil {
					return fmt.Errorf("%s pair %d: %w", what, i, err)
				}
			}
		}
		return nil
	}
	kinds := []struct {
		what  string
		n     int
		at    netip.AddrPort
		dual  bool
		to    netip.AddrPort
		after func(c, s int) error
	}{
		{"established", spec.Established, netip.AddrPortFrom(any4, port(offEstab)), false, netip.AddrPortFrom(lo4, port(offEstab)), nil},
		{"half-closed", spec.HalfClosed, netip.AddrPortFrom(any4, port(offHalfClosed)), false, netip.AddrPortFrom(lo4, port(offHalfClosed)), func(c, _ int) error {
			// The client waits in FIN_WAIT2 for a FIN the server, in
			// CLOSE_WAIT, never sends.
			halfClosedClients = append(halfClosedClients, c)
			return unix.Shutdown(c, unix.SHUT_WR)
		}},
		{"ipv6", spec.IPv6, netip.AddrPortFrom(lo6, port(offIPv6)), false, netip.AddrPortFrom(lo6, port(offIPv6)), nil},
		{"mapped", spec.Mapped, netip.AddrPortFrom(netip.IPv6Unspecified(), port(offMapped)), true, netip.AddrPortFrom(lo4, port(offMapped)), nil},
	}
	// Every listener first: inside the ephemeral range, a port another
	// worker's clients took could not be listened on later.
	var lns []int
	if spec.TimeWait > 0 {
		for i := range spec.Ports {
			ln, err := listen(netip.AddrPortFrom(any4, port(offTimeWait+i)), false)
			if err != nil {
				return nil, err
			}
			p.fds = append(p.fds, ln)
			lns = append(lns, ln)
		}
	}
	kindLn := make([]int, len(kinds))
	for i, k := range kinds {
		if k.n == 0 {
			continue
		}
		ln, err := listen(k.at, k.dual)
		if err != nil {
			return nil, err
		}
		p.fds = append(p.fds, ln)
		kindLn[i] = ln
	}
	if spec.Listening != nil {
		spec.Listening()
	}

	// TIME_WAIT: the client closes first, the server reads EOF and closes.
	if spec.TimeWait > 0 {
		for i := range spec.TimeWait {
			dest := netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + i%spec.Dests)})
			j := (i / spec.Dests) % spec.Ports
			c, s, err := pair(lns[j], netip.Addr{}, netip.AddrPortFrom(dest, port(offTimeWait+j)))
			if err != nil {
				return nil, fmt.Errorf("time-wait connection %d: %w", i, err)
			}
			if err := closeClientFirst(c, s); err != nil {
				return nil, fmt.Errorf("time-wait connection %d: %w", i, err)
			}
		}
	}

	for i, k := range kinds {
		if k.n == 0 {
			continue
		}
		if err := keep(k.what, k.n, kindLn[i], k.to, k.what == "established", k.after); err != nil {
			return nil, err
		}
	}
	// The peer may delay its ACK of the half-close: wait until every
	// client has it, so callers see the settled population.
	if err := p.settle(halfClosedClients); err != nil {
		return nil, err
	}
	for i := range spec.Listeners {
		ln, err := listen(netip.AddrPortFrom(any4, port(offIdle+i)), false)
		if err != nil {
			return nil, err
		}
		p.fds = append(p.fds, ln)
	}
	return p, nil
}

// settle waits up to a few seconds for each fd to reach FIN_WAIT2.
func (p *Population) settle(fds []int) error {
	deadline := time.Now().Add(5 * time.Second)
	for _, fd := range fds {
		for {
			info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil {
				return fmt.Errorf("TCP_INFO: %w", err)
			}
			if info.State == tcpFinWait2 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("half-closed client still in state %d after 5s", info.State)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

const tcpFinWait2 = 5

func closeClientFirst(c, s int) error {
	if err := unix.Close(c); err != nil {
		unix.Close(s)
		return err
	}
	// Wait for the client's FIN, so the client is the side that closed
	// first and is left in TIME_WAIT.
	var b [1]byte
	_, err := unix.Read(s, b[:])
	if cerr := unix.Close(s); err == nil {
		err = cerr
	}
	return err
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	}
	return &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
}

func family(ap netip.AddrPort) int {
	if ap.Addr().Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func listen(at netip.AddrPort, dualStack bool) (int, error) {
	fd, err := unix.Socket(family(at), unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("listen %s: %w", at, err)
	}
	opt := func(level, name, v int) {
		if err == nil {
			err = unix.SetsockoptInt(fd, level, name, v)
		}
	}
	opt(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if family(at) == unix.AF_INET6 {
		v6only := 1
		if dualStack {
			v6only = 0
		}
		opt(unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only)
	}
	if err == nil {
		err = unix.Bind(fd, sockaddr(at))
	}
	if err == nil {
		err = unix.Listen(fd, 4096)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen %s: %w", at, err)
	}
	return fd, nil
}

// pair connects a client, from the source address from if it is valid, to
// to and accepts it on ln.
func pair(ln int, from netip.Addr, to netip.AddrPort) (client, server int, err error) {
	client, err = unix.Socket(family(to), unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("socket: %w", err)
	}
	if from.IsValid() {
		// The port is still chosen by connect(), as for any client: with
		// IP_BIND_ADDRESS_NO_PORT, bind() only sets the address.
		err := unix.SetsockoptInt(client, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err == nil {
			err = unix.Bind(client, sockaddr(netip.AddrPortFrom(from, 0)))
		}
		if err != nil {
			unix.Close(client)
			return -1, -1, fmt.Errorf("bind %s: %w", from, err)
		}
	}
	if err := unix.Connect(client, sockaddr(to)); err != nil {
		unix.Close(client)
		return -1, -1, fmt.Errorf("connect %s: %w", to, err)
	}
	server, _, err = unix.Accept4(ln, unix.SOCK_CLOEXEC)
	if err != nil {
		unix.Close(client)
		return -1, -1, fmt.Errorf("accept on %s: %w", to, err)
	}
	return client, server, nil
}
