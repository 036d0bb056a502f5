package tcpinfo

import (
	"net/netip"
	"strings"

	"github.com/tcpdash/tcpdash/internal/termsafe"
)

// SafeZone returns an IPv6 zone that every sink can print and parse back:
// interface names are chosen by whoever holds CAP_NET_ADMIN in a namespace
// and may hold ESC, BEL or bidirectional overrides, which would reach the
// terminal inside an address (fe80::1%<ESC>]2;…). Anything a terminal acts
// on is written as an escape, and so are the characters that delimit an
// address ("%", "[", "]"), so the text stays one address.
func SafeZone(zone string) string {
	if zoneSafe(zone) {
		return zone
	}
	return strings.NewReplacer("%", `\x25`, "[", `\x5b`, "]", `\x5d`, " ", `\x20`).Replace(termsafe.String(zone))
}

func zoneSafe(zone string) bool {
	return termsafe.Printable(zone) && !strings.ContainsAny(zone, `%[]\ `)
}

// safeAddr is a with its zone made safe.
func safeAddr(a netip.Addr) netip.Addr {
	if z := a.Zone(); z != "" && !zoneSafe(z) {
		return a.WithZone(SafeZone(z))
	}
	return a
}

// SafeZones makes every address zone in s safe (SafeZone): the one
// sanitizer for addresses, for a snapshot from any source.
func (s *Snapshot) SafeZones() {
	ap := func(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(safeAddr(a.Addr()), a.Port()) }
	for i := range s.TopRemoteEndpoints {
		s.TopRemoteEndpoints[i].Endpoint = ap(s.TopRemoteEndpoints[i].Endpoint)
	}
	for i := range s.RemoteEndpointsFolded {
		s.RemoteEndpointsFolded[i].Endpoint = ap(s.RemoteEndpointsFolded[i].Endpoint)
	}
	for i := range s.Listeners {
		s.Listeners[i].Local = ap(s.Listeners[i].Local)
	}
	for i := range s.PortPressure {
		g := &s.PortPressure[i]
		g.Local, g.Remote = safeAddr(g.Local), ap(g.Remote)
	}
	for i := range s.Health {
		s.Health[i].Remote = ap(s.Health[i].Remote)
	}
}
