package tcpinfo

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/tcpdash/tcpdash/internal/jsonw"
)

// The JSON shapes are a contract scripts depend on: keep the names.
type (
	jsonSnapshot struct {
		Time               string         `json:"time"`
		Source             Source         `json:"source"`
		SourceNote         string         `json:"source_note,omitempty"`
		DumpMS             float64        `json:"dump_ms"`
		IntervalMS         int64          `json:"interval_ms,omitempty"`
		Netns              string         `json:"netns,omitempty"`
		Names              []string       `json:"names,omitempty"`
		Filter             string         `json:"filter,omitempty"`
		Total              int            `json:"total"`
		States             StateCounts    `json:"states"`
		Families           FamilyCounts   `json:"families"`
		TopLocalPorts      []jsonPort     `json:"top_local_ports"`
		TopRemotePorts     []jsonPort     `json:"top_remote_ports"`
		TopRemoteEndpoints []jsonEndpoint `json:"top_remote_endpoints"`
		// The same with client ports folded (added: the fields above stay).
		LocalPortsFolded      []jsonFoldedPort     `json:"local_ports_folded"`
		RemoteEndpointsFolded []jsonFoldedEndpoint `json:"remote_endpoints_folded"`
		PortPressure          []jsonPressure       `json:"port_pressure"`
		TimeWaitExpiry        []jsonExpiry         `json:"time_wait_expiry"`
		Counters              Counters             `json:"counters"`
		Processes             []jsonProcess        `json:"processes"`
		Cgroups               []jsonCgroup         `json:"cgroups"`
		Listeners             []jsonListener       `json:"listeners"`
		Owners                *jsonOwners          `json:"owners,omitempty"`
		Closes                *jsonCloses          `json:"closes,omitempty"`
		// Health, when asked for (--health): per destination, from tcp_info.
		Health *[]jsonHealth `json:"health,omitempty"`
		// HealthByCgroup is the same per service.
		HealthByCgroup []jsonHealth `json:"health_by_cgroup,omitempty"`
		// Conntrack, when the namespace tracks connections.
		Conntrack *jsonConntrack `json:"conntrack,omitempty"`
	}
	jsonConntrack struct {
		Count         uint64 `json:"count"`
		Max           uint64 `json:"max"`
		Found         uint64 `json:"found"`
		Invalid       uint64 `json:"invalid"`
		Insert        uint64 `json:"insert"`
		InsertFailed  uint64 `json:"insert_failed"`
		Drop          uint64 `json:"drop"`
		EarlyDrop     uint64 `json:"early_drop"`
		Error         uint64 `json:"error"`
		SearchRestart uint64 `json:"search_restart"`
		// Rates between two snapshots (streams).
		DropPerS         *float64 `json:"drop_per_s,omitempty"`
		EarlyDropPerS    *float64 `json:"early_drop_per_s,omitempty"`
		InsertFailedPerS *float64 `json:"insert_failed_per_s,omitempty"`
		InvalidPerS      *float64 `json:"invalid_per_s,omitempty"`
	}
	jsonHealth struct {
		Addr    string `json:"addr,omitempty"`
		Port    uint16 `json:"port,omitempty"`
		Cgroup  string `json:"cgroup,omitempty"` // health_by_cgroup: its path name
		Sockets int    `json:"sockets"`
		RTTMS   struct {
			P50 float64 `json:"p50"`
			P99 float64 `json:"p99"`
			Min float64 `json:"min"`
		} `json:"rtt_ms"`
		RetransPerS  *float64 `json:"retrans_per_s,omitempty"`
		RetransPct   float64  `json:"retrans_pct"`
		RetransTotal uint64   `json:"retrans_total"`
		SegsOut      uint64   `json:"segs_out"`
		Lost         uint64   `json:"lost"`
		Unacked      uint64   `json:"unacked"`
		BytesPerS    *float64 `json:"bytes_per_s,omitempty"`
		DeliveryRate uint64   `json:"delivery_rate"` // bytes a second, summed
	}
	// jsonCloses is what the kernel's destroy notifications said.
	jsonCloses struct {
		Watching bool    `json:"watching"`
		Error    string  `json:"error,omitempty"`
		Since    string  `json:"since,omitempty"`
		Total    uint64  `json:"total"`
		PerS     float64 `json:"per_s"`
		Lost     uint64  `json:"lost"`
		Overflow uint64  `json:"overflow"`
	}
	// jsonOwners says how many sockets have no owner, and why.
	jsonOwners struct {
		Owned  int `json:"owned"`
		Shared int `json:"shared"`
		// Sockets no process holds in the kernel.
		KernelUnowned struct {
			Total     int `json:"total"`
			TimeWait  int `json:"time_wait"`
			Handshake int `json:"handshake"`
			Orphan    int `json:"orphan"`
			// TIME_WAIT given the owner its connection had when open.
			TimeWaitRemembered int `json:"time_wait_remembered"`
		} `json:"kernel_unowned"`
		// Remembered is how many sockets' owners a stream remembers.
		Remembered int `json:"remembered"`
		// Sockets whose owner the /proc walk did not see, by reason.
		Unseen struct {
			Total             int `json:"total"`
			NewerThanWalk     int `json:"newer_than_walk"`
			OtherUser         int `json:"other_user"`
			MainThreadExited  int `json:"main_thread_exited"`
			OtherPIDNamespace int `json:"other_pid_namespace"`
		} `json:"unseen"`
		HiddenProcesses int     `json:"hidden_processes"`
		WalkMS          float64 `json:"walk_ms"`
		WalkTime        string  `json:"walk_time"`
		// Source is "proc" (the /proc walk) or "ebpf+proc" (connections'
		// openers from eBPF as well); SourceNote says why not eBPF.
		Source     string `json:"source,omitempty"`
		SourceNote string `json:"source_note,omitempty"`
		// FromOpener counts sockets named by their opener (eBPF);
		// EBPFLost and EBPFDropped what the source missed.
		FromOpener  int    `json:"from_opener,omitempty"`
		TWOpener    int    `json:"time_wait_from_opener,omitempty"`
		EBPFLost    uint64 `json:"ebpf_lost,omitempty"`
		EBPFDropped uint64 `json:"ebpf_dropped,omitempty"`
	}
	jsonProcess struct {
		PID     int           `json:"pid"`
		Command string        `json:"command"`
		Total   int           `json:"total"`
		States  nonZeroStates `json:"states"`
		Shared  int           `json:"shared,omitempty"`
		Cgroup  string        `json:"cgroup,omitempty"`
		Cmdline string        `json:"cmdline,omitempty"`
		// CloseWaitPerS, once measured (a stream's second walk).
		CloseWaitPerS *float64 `json:"close_wait_per_s,omitempty"`
		// Its open files and soft RLIMIT_NOFILE (0: unknown or unlimited);
		// once measured, their growth and the seconds until EMFILE.
		Fds      int      `json:"fds,omitempty"`
		FdLimit  int      `json:"fd_limit,omitempty"`
		FdsPerS  *float64 `json:"fds_per_s,omitempty"`
		FdsLeftS *float64 `json:"fds_left_s,omitempty"`
	}
	jsonFoldedPort struct {
		Port      uint16        `json:"port,omitempty"`
		Ephemeral string        `json:"ephemeral,omitempty"` // the range, on the folded row
		Ports     int           `json:"ports,omitempty"`
		Total     int           `json:"total"`
		States    nonZeroStates `json:"states"`
	}
	jsonFoldedEndpoint struct {
		Addr       string        `json:"addr"`
		Port       uint16        `json:"port"` // 0 on a folded row: addr:*
		Ports      int           `json:"ports,omitempty"`
		Total      int           `json:"total"`
		States     nonZeroStates `json:"states"`
		Closes     *uint64       `json:"closes,omitempty"`
		ClosesPerS *float64      `json:"closes_per_s,omitempty"`
	}
	jsonListener struct {
		Addr        string `json:"addr"`
		Port        uint16 `json:"port"`
		AcceptQueue int    `json:"accept_queue"`
		Backlog     int    `json:"backlog"`
		SynRecv     int    `json:"syn_recv"`
		Full        bool   `json:"full"`
		PID         int    `json:"pid,omitempty"`
		Command     string `json:"command,omitempty"`
	}
	jsonCgroup struct {
		ID     uint64        `json:"id"`
		Path   string        `json:"path"`
		Name   string        `json:"name"`
		Total  int           `json:"total"`
		States nonZeroStates `json:"states"`
	}
	jsonPort struct {
		Port   uint16        `json:"port"`
		Total  int           `json:"total"`
		States nonZeroStates `json:"states"`
	}
	jsonEndpoint struct {
		Addr   string        `json:"addr"`
		Port   uint16        `json:"port"`
		Total  int           `json:"total"`
		States nonZeroStates `json:"states"`
		// With closes watched (see jsonCloses): every row has them.
		Closes     *uint64  `json:"closes,omitempty"`
		ClosesPerS *float64 `json:"closes_per_s,omitempty"`
		// With an event source (eBPF), as on port_pressure rows.
		FailedConnects *uint64 `json:"failed_connects,omitempty"`
		Resets         *uint64 `json:"resets,omitempty"`
	}
	jsonPressure struct {
		LocalAddr  string `json:"local_addr"`
		RemoteAddr string `json:"remote_addr"`
		RemotePort uint16 `json:"remote_port"`
		Used       int    `json:"used"`
		TimeWait   int    `json:"time_wait"`
		Recent     int    `json:"time_wait_recent"`
		// TIME_WAIT by the time left on their timers, 10 s a slot; absent
		// without TIME_WAIT, and in recordings made before it.
		Left []int `json:"time_wait_left,omitempty"`
		// When connect() surely takes over its TIME_WAIT ports (loopback,
		// tcp_tw_reuse on): after how long, and how many it may now.
		ReuseAfterMS *int64      `json:"time_wait_reuse_after_ms,omitempty"`
		Reusable     *int        `json:"time_wait_reusable,omitempty"`
		Capacity     int         `json:"capacity"`
		Ratio        float64     `json:"ratio"`
		Opener       *jsonOpener `json:"opener,omitempty"`
		Closes       *uint64     `json:"closes,omitempty"`
		ClosesPerS   *float64    `json:"closes_per_s,omitempty"`
		// With an event source (eBPF): connects that failed and resets.
		FailedConnects *uint64 `json:"failed_connects,omitempty"`
		Resets         *uint64 `json:"resets,omitempty"`
	}
	// jsonOpener is who holds most of a destination group's sockets.
	jsonOpener struct {
		PID     int    `json:"pid,omitempty"`
		Command string `json:"command,omitempty"`
		Cgroup  string `json:"cgroup,omitempty"`
		Sockets int    `json:"sockets"`
	}
	jsonExpiry struct {
		WithinS int `json:"within_s"`
		Count   int `json:"count"`
	}
)

// MarshalJSON writes the snapshot in tcpdash's documented JSON form.
func (s *Snapshot) MarshalJSON() ([]byte, error) {
	j := jsonSnapshot{
		Time:                  s.Time.Format(time.RFC3339Nano),
		Source:                s.Source,
		SourceNote:            s.SourceNote,
		DumpMS:                math.Round(float64(s.Dump.Microseconds())) / 1000,
		IntervalMS:            s.Interval.Milliseconds(),
		Netns:                 s.Netns,
		Names:                 s.Names,
		Filter:                s.Filter,
		Total:                 s.Total,
		States:                s.States,
		Families:              s.Families,
		TopLocalPorts:         make([]jsonPort, 0, len(s.TopLocalPorts)),
		TopRemotePorts:        make([]jsonPort, 0, len(s.TopRemotePorts)),
		TopRemoteEndpoints:    make([]jsonEndpoint, 0, len(s.TopRemoteEndpoints)),
		PortPressure:          make([]jsonPressure, 0, len(s.PortPressure)),
		TimeWaitExpiry:        make([]jsonExpiry, 0, len(s.TimeWaitExpiry)),
		Counters:              s.Counters,
		Processes:             make([]jsonProcess, 0, len(s.Processes)),
		Cgroups:               make([]jsonCgroup, 0, len(s.Cgroups)),
		Listeners:             make([]jsonListener, 0, len(s.Listeners)),
		LocalPortsFolded:      make([]jsonFoldedPort, 0, len(s.LocalPortsFolded)),
		RemoteEndpointsFolded: make([]jsonFoldedEndpoint, 0, len(s.RemoteEndpointsFolded)),
	}
	for _, p := range s.Processes {
		row := jsonProcess{PID: p.PID, Command: p.Command, Total: p.States.Total(), States: nonZeroStates(p.States),
			Shared: p.Shared, Cgroup: p.CgroupName, Cmdline: p.Cmdline}
		row.Fds, row.FdLimit = p.Files.Open, p.Files.Limit
		if p.RateKnown {
			r, f := roundRate(p.CloseWaitPerS), roundRate(p.FilesPerS)
			row.CloseWaitPerS, row.FdsPerS = &r, &f
		}
		if p.FilesLeft >= 0 && p.RateKnown {
			left := math.Round(p.FilesLeft.Seconds()*10) / 10
			row.FdsLeftS = &left
		}
		j.Processes = append(j.Processes, row)
	}
	if a := s.Attribution; a.Enabled {
		o := &jsonOwners{Owned: a.Owned, Shared: a.Shared, HiddenProcesses: a.Hidden,
			WalkMS: math.Round(float64(a.Took.Microseconds())) / 1000, WalkTime: a.Time.Format(time.RFC3339Nano)}
		k := &o.KernelUnowned
		k.Total, k.TimeWait, k.Handshake, k.Orphan = a.Unowned, a.UnownedTimeWait, a.UnownedHandshake, a.UnownedOrphan
		k.TimeWaitRemembered, o.Remembered = a.UnownedRemembered, a.Remembered
		u := &o.Unseen
		u.Total, u.NewerThanWalk, u.OtherUser = a.Unknown, a.UnseenNewer, a.UnseenHidden
		u.MainThreadExited, u.OtherPIDNamespace = a.UnseenLeaderGone, a.UnseenOtherPIDNamespace
		o.Source, o.SourceNote = "proc", a.Openers.Note
		if a.Openers.Name != "" {
			o.Source = a.Openers.Name + "+proc"
		}
		o.FromOpener, o.TWOpener, o.EBPFLost, o.EBPFDropped = a.FromOpener, a.TimeWaitFromOpener, a.Openers.Lost, a.Openers.Dropped
		j.Owners = o
	}
	for _, r := range s.LocalPortsFolded {
		row := jsonFoldedPort{Port: r.Port, Ports: r.Ports, Total: r.States.Total(), States: nonZeroStates(r.States)}
		if r.Ports > 0 {
			row.Port = 0
			if s.PortRange.Low != 0 { // a snapshot read back from a row without one has none to say
				row.Ephemeral = s.PortRange.String()
			}
		}
		j.LocalPortsFolded = append(j.LocalPortsFolded, row)
	}
	watching := s.Closes.Watching
	if c := s.Closes; c.Watching || c.Err != "" {
		j.Closes = &jsonCloses{Watching: c.Watching, Error: c.Err, Total: c.Total, PerS: roundRate(c.PerS), Lost: c.Lost, Overflow: c.Overflow}
		if c.Watching {
			j.Closes.Since = c.Since.Format(time.RFC3339Nano)
		}
	}
	closes := func(n uint64, r float64) (*uint64, *float64) {
		if !watching {
			return nil, nil
		}
		r = roundRate(r)
		return &n, &r
	}
	for _, r := range s.RemoteEndpointsFolded {
		row := jsonFoldedEndpoint{Addr: r.Endpoint.Addr().String(), Port: r.Endpoint.Port(),
			Ports: r.Ports, Total: r.States.Total(), States: nonZeroStates(r.States)}
		if r.Ports == 0 {
			row.Closes, row.ClosesPerS = closes(r.Closes, r.ClosesPerS)
		}
		j.RemoteEndpointsFolded = append(j.RemoteEndpointsFolded, row)
	}
	for _, l := range s.Listeners {
		j.Listeners = append(j.Listeners, jsonListener{l.Local.Addr().String(), l.Local.Port(), l.AcceptQueue, l.Backlog,
			l.SynRecv, l.Full(), l.Owner.PID, l.Owner.Command})
	}
	for _, c := range s.Cgroups {
		j.Cgroups = append(j.Cgroups, jsonCgroup{c.ID, c.Path, c.Name, c.States.Total(), nonZeroStates(c.States)})
	}
	for _, p := range s.TopLocalPorts {
		j.TopLocalPorts = append(j.TopLocalPorts, jsonPort{p.Port, p.States.Total(), nonZeroStates(p.States)})
	}
	for _, p := range s.TopRemotePorts {
		j.TopRemotePorts = append(j.TopRemotePorts, jsonPort{p.Port, p.States.Total(), nonZeroStates(p.States)})
	}
	for _, e := range s.TopRemoteEndpoints {
		row := jsonEndpoint{Addr: e.Endpoint.Addr().String(), Port: e.Endpoint.Port(), Total: e.States.Total(), States: nonZeroStates(e.States)}
		row.Closes, row.ClosesPerS = closes(e.Closes, e.ClosesPerS)
		row.FailedConnects, row.Resets = events(e.Events)
		j.TopRemoteEndpoints = append(j.TopRemoteEndpoints, row)
	}
	for _, g := range s.PortPressure {
		jp := jsonPressure{
			LocalAddr: g.Local.String(), RemoteAddr: g.Remote.Addr().String(), RemotePort: g.Remote.Port(),
			Used: g.Used, TimeWait: g.TimeWait, Recent: g.RecentTimeWait, Capacity: g.Capacity,
			Ratio: math.Round(g.Ratio*1e4) / 1e4,
		}
		if g.TimeWaitLeft != [ExpirySlots]int{} { // known: a hand-made or older snapshot has none
			jp.Left = g.TimeWaitLeft[:]
		}
		if g.ReuseAfter > 0 {
			ms, n := g.ReuseAfter.Milliseconds(), g.ReusableTimeWait
			jp.ReuseAfterMS, jp.Reusable = &ms, &n
		}
		if g.OpenerSockets > 0 {
			jp.Opener = &jsonOpener{g.Opener.PID, g.Opener.Command, g.OpenerCgroupName, g.OpenerSockets}
		}
		jp.Closes, jp.ClosesPerS = closes(g.Closes, g.ClosesPerS)
		jp.FailedConnects, jp.Resets = events(g.Events)
		j.PortPressure = append(j.PortPressure, jp)
	}
	for _, e := range s.TimeWaitExpiry {
		j.TimeWaitExpiry = append(j.TimeWaitExpiry, jsonExpiry{int(e.Within / time.Second), e.Count})
	}
	if t := s.Conntrack; t != nil {
		j.Conntrack = &jsonConntrack{Count: t.Count, Max: t.Max, Found: t.Found, Invalid: t.Invalid, Insert: t.Insert,
			InsertFailed: t.InsertFailed, Drop: t.Drop, EarlyDrop: t.EarlyDrop, Error: t.Error, SearchRestart: t.SearchRestart}
		if t.RatesKnown {
			r := func(v float64) *float64 { v = roundRate(v); return &v }
			j.Conntrack.DropPerS, j.Conntrack.EarlyDropPerS = r(t.DropPerS), r(t.EarlyDropPerS)
			j.Conntrack.InsertFailedPerS, j.Conntrack.InvalidPerS = r(t.InsertFailedPerS), r(t.InvalidPerS)
		}
	}
	if s.HealthOn {
		rows := make([]jsonHealth, 0, len(s.Health))
		for _, h := range s.Health {
			rows = append(rows, healthRowJSON(h))
		}
		j.Health = &rows
		for _, h := range s.HealthByCgroup {
			j.HealthByCgroup = append(j.HealthByCgroup, healthRowJSON(h))
		}
	}
	var w jsonw.W
	j.write(&w)
	return w.Bytes()
}

// healthRowJSON is one health row, of a destination or a service.
func healthRowJSON(h DestinationHealth) jsonHealth {
	ms := func(d time.Duration) float64 { return math.Round(float64(d.Microseconds())) / 1000 }
	r := jsonHealth{Sockets: h.Sockets, RetransPct: math.Round(h.RetransPct()*100) / 100, RetransTotal: h.RetransTotal,
		SegsOut: h.SegsOut, Lost: h.Lost, Unacked: h.Unacked, DeliveryRate: h.DeliveryRate}
	r.RTTMS.P50, r.RTTMS.P99, r.RTTMS.Min = ms(h.RTTP50), ms(h.RTTP99), ms(h.MinRTT)
	if h.RatesKnown {
		rp, bp := roundRate(h.RetransPerS), math.Round(h.BytesPerS)
		r.RetransPerS, r.BytesPerS = &rp, &bp
	}
	if h.Remote.IsValid() {
		r.Addr, r.Port = h.Remote.Addr().String(), h.Remote.Port()
	} else {
		r.Cgroup = h.CgroupName
	}
	return r
}

// UnmarshalJSON reads a snapshot back from its JSON form, as a recording
// holds it: marshalling the result gives the same bytes. What the JSON
// leaves out (per-socket detail, the reserved ports) stays zero.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	var j jsonSnapshot
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return fmt.Errorf("snapshot time: %w", err)
	}
	*s = Snapshot{Time: t, Source: j.Source, SourceNote: j.SourceNote,
		Dump:     millis(j.DumpMS),
		Interval: time.Duration(j.IntervalMS) * time.Millisecond,
		Netns:    j.Netns, Names: j.Names, Filter: j.Filter, Total: j.Total, States: j.States, Families: j.Families,
		Counters: j.Counters}
	ap := func(addr string, port uint16) (netip.AddrPort, error) {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return netip.AddrPort{}, err
		}
		return netip.AddrPortFrom(safeAddr(a), port), nil
	}
	for _, p := range j.TopLocalPorts {
		s.TopLocalPorts = append(s.TopLocalPorts, PortCount{p.Port, StateCounts(p.States)})
	}
	for _, p := range j.TopRemotePorts {
		s.TopRemotePorts = append(s.TopRemotePorts, PortCount{p.Port, StateCounts(p.States)})
	}
	for _, e := range j.TopRemoteEndpoints {
		ep, err := ap(e.Addr, e.Port)
		if err != nil {
			return fmt.Errorf("top_remote_endpoints: %w", err)
		}
		row := EndpointCount{Endpoint: ep, States: StateCounts(e.States)}
		row.Closes, row.ClosesPerS = closesOf(e.Closes, e.ClosesPerS)
		row.Events = eventsOf(e.FailedConnects, e.Resets)
		s.TopRemoteEndpoints = append(s.TopRemoteEndpoints, row)
	}
	for _, r := range j.LocalPortsFolded {
		if r.Ephemeral != "" {
			pr, err := ParsePortRange([]byte(strings.Replace(r.Ephemeral, "-", " ", 1)), nil)
			if err != nil {
				return fmt.Errorf("local_ports_folded: ephemeral range %q: %w", r.Ephemeral, err)
			}
			s.PortRange = pr
		}
		s.LocalPortsFolded = append(s.LocalPortsFolded, FoldedPort{r.Port, r.Ports, StateCounts(r.States)})
	}
	for _, r := range j.RemoteEndpointsFolded {
		ep, err := ap(r.Addr, r.Port)
		if err != nil {
			return fmt.Errorf("remote_endpoints_folded: %w", err)
		}
		row := FoldedEndpoint{Endpoint: ep, Ports: r.Ports, States: StateCounts(r.States)}
		row.Closes, row.ClosesPerS = closesOf(r.Closes, r.ClosesPerS)
		s.RemoteEndpointsFolded = append(s.RemoteEndpointsFolded, row)
	}
	for _, g := range j.PortPressure {
		local, err := netip.ParseAddr(g.LocalAddr)
		if err != nil {
			return fmt.Errorf("port_pressure: %w", err)
		}
		local = safeAddr(local) // a recording's zones are outside text
		remote, err := ap(g.RemoteAddr, g.RemotePort)
		if err != nil {
			return fmt.Errorf("port_pressure: %w", err)
		}
		pg := PressureGroup{Local: local, Remote: remote, Used: g.Used, TimeWait: g.TimeWait,
			RecentTimeWait: g.Recent, Capacity: g.Capacity, Ratio: clamp(g.Ratio, 0, maxRatio)}
		if g.Left != nil {
			if len(g.Left) != ExpirySlots {
				return fmt.Errorf("port_pressure: time_wait_left has %d slots, want %d", len(g.Left), ExpirySlots)
			}
			for i, n := range g.Left {
				if n < 0 {
					return fmt.Errorf("port_pressure: time_wait_left: a negative count, %d", n)
				}
				pg.TimeWaitLeft[i] = n
			}
		}
		if ms := g.ReuseAfterMS; ms != nil {
			n := 0
			if g.Reusable != nil {
				n = *g.Reusable
			}
			if *ms <= 0 || *ms > 3_600_000 || n < 0 || n > g.TimeWait {
				return fmt.Errorf("port_pressure: time_wait_reuse_after_ms %d with %d of %d TIME_WAIT reusable: want 1 to 3,600,000 ms, and at most every TIME_WAIT", *ms, n, g.TimeWait)
			}
			pg.ReuseAfter, pg.ReusableTimeWait = time.Duration(*ms)*time.Millisecond, n
		}
		if o := g.Opener; o != nil {
			pg.Opener, pg.OpenerCgroupName, pg.OpenerSockets = Owner{PID: o.PID, Command: o.Command}, o.Cgroup, o.Sockets
		}
		pg.Closes, pg.ClosesPerS = closesOf(g.Closes, g.ClosesPerS)
		pg.Events = eventsOf(g.FailedConnects, g.Resets)
		s.PortPressure = append(s.PortPressure, pg)
	}
	for _, e := range j.TimeWaitExpiry {
		s.TimeWaitExpiry = append(s.TimeWaitExpiry, ExpiryBucket{time.Duration(e.WithinS) * time.Second, e.Count})
	}
	for _, p := range j.Processes {
		pc := ProcessCount{Owner: Owner{p.PID, p.Command, p.Cmdline},
			States: StateCounts(p.States), Shared: p.Shared, CgroupName: p.Cgroup}
		if r := p.CloseWaitPerS; r != nil {
			pc.CloseWaitPerS, pc.RateKnown = clamp(*r, -maxRate, maxRate), true
		}
		pc.Files = FileCount{Open: max(p.Fds, 0), Limit: max(p.FdLimit, 0)}
		pc.FilesLeft = -1
		if r := p.FdsPerS; r != nil {
			pc.FilesPerS = clamp(*r, -maxRate, maxRate)
		}
		if l := p.FdsLeftS; l != nil {
			pc.FilesLeft = millis(*l * 1000)
		}
		s.Processes = append(s.Processes, pc)
	}
	for _, c := range j.Cgroups {
		s.Cgroups = append(s.Cgroups, CgroupCount{c.ID, c.Path, c.Name, StateCounts(c.States)})
	}
	for _, l := range j.Listeners {
		local, err := ap(l.Addr, l.Port)
		if err != nil {
			return fmt.Errorf("listeners: %w", err)
		}
		s.Listeners = append(s.Listeners, Listener{Local: local, AcceptQueue: l.AcceptQueue, Backlog: l.Backlog,
			SynRecv: l.SynRecv, Owner: Owner{PID: l.PID, Command: l.Command}})
	}
	if o := j.Owners; o != nil {
		a := &s.Attribution
		a.Enabled, a.Owned, a.Shared, a.Hidden = true, o.Owned, o.Shared, o.HiddenProcesses
		a.Took = millis(o.WalkMS)
		a.Time, _ = time.Parse(time.RFC3339Nano, o.WalkTime)
		k := o.KernelUnowned
		a.Unowned, a.UnownedTimeWait, a.UnownedHandshake, a.UnownedOrphan = k.Total, k.TimeWait, k.Handshake, k.Orphan
		a.UnownedRemembered, a.Remembered = k.TimeWaitRemembered, o.Remembered
		u := o.Unseen
		a.Unknown, a.UnseenNewer, a.UnseenHidden = u.Total, u.NewerThanWalk, u.OtherUser
		a.UnseenLeaderGone, a.UnseenOtherPIDNamespace = u.MainThreadExited, u.OtherPIDNamespace
		a.Openers = OpenerSource{Name: strings.TrimSuffix(o.Source, "+proc"), Note: o.SourceNote, Lost: o.EBPFLost, Dropped: o.EBPFDropped}
		if a.Openers.Name == "proc" {
			a.Openers.Name = ""
		}
		a.FromOpener, a.TimeWaitFromOpener = o.FromOpener, o.TWOpener
	}
	if c := j.Conntrack; c != nil {
		t := &Conntrack{Count: c.Count, Max: c.Max, Found: c.Found, Invalid: c.Invalid, Insert: c.Insert, InsertFailed: c.InsertFailed,
			Drop: c.Drop, EarlyDrop: c.EarlyDrop, Error: c.Error, SearchRestart: c.SearchRestart}
		if c.DropPerS != nil {
			v := func(p *float64) float64 {
				if p == nil {
					return 0
				}
				return clamp(*p, 0, maxRate)
			}
			t.DropPerS, t.EarlyDropPerS, t.InsertFailedPerS, t.InvalidPerS = v(c.DropPerS), v(c.EarlyDropPerS), v(c.InsertFailedPerS), v(c.InvalidPerS)
			t.RatesKnown = true
		}
		s.Conntrack = t
	}
	if j.Health != nil {
		s.HealthOn = true
		for _, r := range *j.Health {
			ep, err := ap(r.Addr, r.Port)
			if err != nil {
				return fmt.Errorf("health: %w", err)
			}
			h := healthRowFrom(r)
			h.Remote = ep
			s.Health = append(s.Health, h)
		}
		for _, r := range j.HealthByCgroup {
			h := healthRowFrom(r)
			h.CgroupName = r.Cgroup
			s.HealthByCgroup = append(s.HealthByCgroup, h)
		}
	}
	if c := j.Closes; c != nil {
		s.Closes = Closes{Watching: c.Watching, Err: c.Error, Total: c.Total, PerS: clamp(c.PerS, 0, maxRate), Lost: c.Lost, Overflow: c.Overflow}
		s.Closes.Since, _ = time.Parse(time.RFC3339Nano, c.Since)
	}
	return nil
}

// maxRatio bounds a recorded group's ratio: past it (a range narrowed under
// a load) the number says nothing more, and a recording's 1e308 would make
// every sum and chart of it infinite.
const maxRatio = 100

// maxRate bounds a recorded rate: a billion a second is past any kernel.
const maxRate = 1e9

// clamp is v within [lo, hi]; numbers in a recording are outside input.
func clamp(v, lo, hi float64) float64 {
	return min(max(v, lo), hi)
}

// millis is a recorded number of milliseconds as a duration, bounded to a
// day so that no product of it overflows.
func millis(ms float64) time.Duration {
	return time.Duration(math.Round(clamp(ms, 0, 24*3600e3)*1000)) * time.Microsecond
}

// events writes a row's event counts, when it has them.
func events(d *DestinationEvents) (failed, resets *uint64) {
	if d == nil {
		return nil, nil
	}
	return &d.Failed, &d.Resets
}

// eventsOf reads them back.
func eventsOf(failed, resets *uint64) *DestinationEvents {
	if failed == nil && resets == nil {
		return nil
	}
	var d DestinationEvents
	if failed != nil {
		d.Failed = *failed
	}
	if resets != nil {
		d.Resets = *resets
	}
	return &d
}

// healthRowFrom reads a health row back, bounded: a recording is outside
// data.
func healthRowFrom(r jsonHealth) DestinationHealth {
	h := DestinationHealth{Sockets: max(r.Sockets, 0), RTTP50: millis(r.RTTMS.P50), RTTP99: millis(r.RTTMS.P99),
		MinRTT: millis(r.RTTMS.Min), RetransTotal: r.RetransTotal, SegsOut: r.SegsOut, Lost: r.Lost, Unacked: r.Unacked,
		DeliveryRate: r.DeliveryRate}
	if r.RetransPerS != nil {
		h.RetransPerS, h.RatesKnown = clamp(*r.RetransPerS, 0, maxRate), true
	}
	if r.BytesPerS != nil {
		h.BytesPerS = clamp(*r.BytesPerS, 0, maxRate*1e3)
	}
	return h
}

// roundRate keeps a rate's JSON short: two decimals are a hundredth of a
// connection a second.
func roundRate(r float64) float64 { return math.Round(r*100) / 100 }

// closesOf reads a row's closes back, bounded: a recording is outside
// data.
func closesOf(n *uint64, r *float64) (uint64, float64) {
	var c uint64
	var rate float64
	if n != nil {
		c = *n
	}
	if r != nil {
		rate = clamp(*r, 0, maxRate)
	}
	return c, rate
}
