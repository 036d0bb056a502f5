package sysctl

import (
	"fmt"
	"strconv"
	"strings"
)

// ParsePortRange reads net.ipv4.ip_local_port_range as the kernel prints
// it ("32768\t60999") or a user types it ("32768 60999"): two ports, each
// 1-65535, the first not above the second. It is the one parser of the
// range: the snapshot's capacity, the tunable's check and the advice all
// read it here.
func ParsePortRange(v string) (low, high int, err error) {
	f := strings.Fields(v)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("%q: want two ports, LOW HIGH", v)
	}
	low, err1 := strconv.Atoi(f[0])
	high, err2 := strconv.Atoi(f[1])
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("%q: want two ports as whole numbers, LOW HIGH", v)
	case low < 1 || high > 65535:
		return 0, 0, fmt.Errorf("%q: ports are 1-65535", v)
	case low > high:
		return 0, 0, fmt.Errorf("%q: LOW must be below HIGH", v)
	}
	return low, high, nil
}
