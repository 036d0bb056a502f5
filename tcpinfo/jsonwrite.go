package tcpinfo

import "github.com/tcpdash/tcpdash/internal/jsonw"

// The snapshot's JSON is written by hand (internal/jsonw says why), field
// for field in the order of the types in json.go, which stay the contract
// and are what it is read back into. TestJSONWriterIsMarshal holds each
// writer to json.Marshal of the same value: a field added to a type and
// not here fails it.

func (j *jsonSnapshot) write(w *jsonw.W) {
	w.Object()
	w.Key("time").String(j.Time)
	w.Key("source").String(string(j.Source))
	if j.SourceNote != "" {
		w.Key("source_note").String(j.SourceNote)
	}
	w.Key("dump_ms").Float(j.DumpMS)
	if j.IntervalMS != 0 {
		w.Key("interval_ms").Int(j.IntervalMS)
	}
	if j.Netns != "" {
		w.Key("netns").String(j.Netns)
	}
	if len(j.Names) > 0 {
		w.Key("names").Strings(j.Names)
	}
	if j.Filter != "" {
		w.Key("filter").String(j.Filter)
	}
	w.Key("total").Int(int64(j.Total))
	w.Key("states").Append(j.States.appendAll)
	w.Key("families").Object()
	w.Key("ipv4").Int(int64(j.Families.IPv4))
	w.Key("ipv6").Int(int64(j.Families.IPv6))
	w.End()
	writeRows(w.Key("top_local_ports"), j.TopLocalPorts)
	writeRows(w.Key("top_remote_ports"), j.TopRemotePorts)
	writeRows(w.Key("top_remote_endpoints"), j.TopRemoteEndpoints)
	writeRows(w.Key("local_ports_folded"), j.LocalPortsFolded)
	writeRows(w.Key("remote_endpoints_folded"), j.RemoteEndpointsFolded)
	writeRows(w.Key("port_pressure"), j.PortPressure)
	writeRows(w.Key("time_wait_expiry"), j.TimeWaitExpiry)
	j.Counters.write(w.Key("counters"))
	writeRows(w.Key("processes"), j.Processes)
	writeRows(w.Key("cgroups"), j.Cgroups)
	writeRows(w.Key("listeners"), j.Listeners)
	if j.Owners != nil {
		j.Owners.write(w.Key("owners"))
	}
	if j.Closes != nil {
		j.Closes.write(w.Key("closes"))
	}
	if j.Health != nil {
		writeRows(w.Key("health"), *j.Health)
	}
	if len(j.HealthByCgroup) > 0 {
		writeRows(w.Key("health_by_cgroup"), j.HealthByCgroup)
	}
	if j.Conntrack != nil {
		j.Conntrack.write(w.Key("conntrack"))
	}
	w.End()
}

// writeRows writes a table: null for a nil slice, as json.Marshal does.
func writeRows[R any, P interface {
	*R
	write(*jsonw.W)
}](w *jsonw.W, rows []R) {
	if rows == nil {
		w.Null()
		return
	}
	w.Array()
	for i := range rows {
		P(&rows[i]).write(w)
	}
	w.EndArray()
}

// writeStates writes a row's total and its states with a count.
func writeStates(w *jsonw.W, total int, s *nonZeroStates) {
	w.Key("total").Int(int64(total))
	w.Key("states").Append((*StateCounts)(s).appendNonZero)
}

// optFloat and optUint write a field json.Marshal leaves out when nil.
func optFloat(w *jsonw.W, key string, v *float64) {
	if v != nil {
		w.Key(key).Float(*v)
	}
}

func optUint(w *jsonw.W, key string, v *uint64) {
	if v != nil {
		w.Key(key).Uint(*v)
	}
}

func (c *Counters) write(w *jsonw.W) {
	w.Object()
	for _, f := range []struct {
		key string
		v   uint64
	}{
		{"inuse", c.InUse}, {"inuse6", c.InUse6}, {"orphan", c.Orphan}, {"tw", c.TWSockets}, {"alloc", c.Alloc},
		{"mem", c.Mem}, {"CurrEstab", c.CurrEstab}, {"ActiveOpens", c.ActiveOpens}, {"PassiveOpens", c.PassiveOpens},
		{"AttemptFails", c.AttemptFails}, {"EstabResets", c.EstabResets}, {"OutSegs", c.OutSegs},
		{"RetransSegs", c.RetransSegs}, {"InErrs", c.InErrs}, {"OutRsts", c.OutRsts}, {"TW", c.TW},
		{"TWRecycled", c.TWRecycled}, {"TWKilled", c.TWKilled}, {"TCPTimeWaitOverflow", c.TCPTimeWaitOverflow},
		{"ListenOverflows", c.ListenOverflows}, {"ListenDrops", c.ListenDrops}, {"TCPSynRetrans", c.TCPSynRetrans},
		{"TCPTimeouts", c.TCPTimeouts}, {"TCPAbortOnData", c.TCPAbortOnData}, {"TCPAbortOnClose", c.TCPAbortOnClose},
		{"TCPAbortOnMemory", c.TCPAbortOnMemory}, {"TCPAbortOnTimeout", c.TCPAbortOnTimeout},
		{"TCPAbortOnLinger", c.TCPAbortOnLinger}, {"SyncookiesSent", c.SyncookiesSent},
		{"SyncookiesRecv", c.SyncookiesRecv}, {"SyncookiesFailed", c.SyncookiesFailed},
		{"TCPReqQFullDrop", c.TCPReqQFullDrop}, {"TCPReqQFullDoCookies", c.TCPReqQFullDoCookies},
		{"TCPMemoryPressures", c.TCPMemoryPressures}, {"PruneCalled", c.PruneCalled}, {"RcvPruned", c.RcvPruned},
		{"TCPBacklogDrop", c.TCPBacklogDrop},
	} {
		w.Key(f.key).Uint(f.v)
	}
	w.End()
}

func (r *jsonPort) write(w *jsonw.W) {
	w.Object()
	w.Key("port").Uint(uint64(r.Port))
	writeStates(w, r.Total, &r.States)
	w.End()
}

func (r *jsonEndpoint) write(w *jsonw.W) {
	w.Object()
	w.Key("addr").String(r.Addr)
	w.Key("port").Uint(uint64(r.Port))
	writeStates(w, r.Total, &r.States)
	optUint(w, "closes", r.Closes)
	optFloat(w, "closes_per_s", r.ClosesPerS)
	optUint(w, "failed_connects", r.FailedConnects)
	optUint(w, "resets", r.Resets)
	w.End()
}

func (r *jsonFoldedPort) write(w *jsonw.W) {
	w.Object()
	if r.Port != 0 {
		w.Key("port").Uint(uint64(r.Port))
	}
	if r.Ephemeral != "" {
		w.Key("ephemeral").String(r.Ephemeral)
	}
	if r.Ports != 0 {
		w.Key("ports").Int(int64(r.Ports))
	}
	writeStates(w, r.Total, &r.States)
	w.End()
}

func (r *jsonFoldedEndpoint) write(w *jsonw.W) {
	w.Object()
	w.Key("addr").String(r.Addr)
	w.Key("port").Uint(uint64(r.Port))
	if r.Ports != 0 {
		w.Key("ports").Int(int64(r.Ports))
	}
	writeStates(w, r.Total, &r.States)
	optUint(w, "closes", r.Closes)
	optFloat(w, "closes_per_s", r.ClosesPerS)
	w.End()
}

func (r *jsonPressure) write(w *jsonw.W) {
	w.Object()
	w.Key("local_addr").String(r.LocalAddr)
	w.Key("remote_addr").String(r.RemoteAddr)
	w.Key("remote_port").Uint(uint64(r.RemotePort))
	w.Key("used").Int(int64(r.Used))
	w.Key("time_wait").Int(int64(r.TimeWait))
	w.Key("time_wait_recent").Int(int64(r.Recent))
	if len(r.Left) > 0 {
		w.Key("time_wait_left").Array()
		for _, n := range r.Left {
			w.Int(int64(n))
		}
		w.EndArray()
	}
	if r.ReuseAfterMS != nil {
		w.Key("time_wait_reuse_after_ms").Int(*r.ReuseAfterMS)
	}
	if r.Reusable != nil {
		w.Key("time_wait_reusable").Int(int64(*r.Reusable))
	}
	w.Key("capacity").Int(int64(r.Capacity))
	w.Key("ratio").Float(r.Ratio)
	if o := r.Opener; o != nil {
		w.Key("opener").Object()
		if o.PID != 0 {
			w.Key("pid").Int(int64(o.PID))
		}
		if o.Command != "" {
			w.Key("command").String(o.Command)
		}
		if o.Cgroup != "" {
			w.Key("cgroup").String(o.Cgroup)
		}
		w.Key("sockets").Int(int64(o.Sockets))
		w.End()
	}
	optUint(w, "closes", r.Closes)
	optFloat(w, "closes_per_s", r.ClosesPerS)
	optUint(w, "failed_connects", r.FailedConnects)
	optUint(w, "resets", r.Resets)
	w.End()
}

func (r *jsonExpiry) write(w *jsonw.W) {
	w.Object()
	w.Key("within_s").Int(int64(r.WithinS))
	w.Key("count").Int(int64(r.Count))
	w.End()
}

func (r *jsonProcess) write(w *jsonw.W) {
	w.Object()
	w.Key("pid").Int(int64(r.PID))
	w.Key("command").String(r.Command)
	writeStates(w, r.Total, &r.States)
	if r.Shared != 0 {
		w.Key("shared").Int(int64(r.Shared))
	}
	if r.Cgroup != "" {
		w.Key("cgroup").String(r.Cgroup)
	}
	if r.Cmdline != "" {
		w.Key("cmdline").String(r.Cmdline)
	}
	optFloat(w, "close_wait_per_s", r.CloseWaitPerS)
	if r.Fds != 0 {
		w.Key("fds").Int(int64(r.Fds))
	}
	if r.FdLimit != 0 {
		w.Key("fd_limit").Int(int64(r.FdLimit))
	}
	optFloat(w, "fds_per_s", r.FdsPerS)
	optFloat(w, "fds_left_s", r.FdsLeftS)
	w.End()
}

func (r *jsonCgroup) write(w *jsonw.W) {
	w.Object()
	w.Key("id").Uint(r.ID)
	w.Key("path").String(r.Path)
	w.Key("name").String(r.Name)
	writeStates(w, r.Total, &r.States)
	w.End()
}

func (r *jsonListener) write(w *jsonw.W) {
	w.Object()
	w.Key("addr").String(r.Addr)
	w.Key("port").Uint(uint64(r.Port))
	w.Key("accept_queue").Int(int64(r.AcceptQueue))
	w.Key("backlog").Int(int64(r.Backlog))
	w.Key("syn_recv").Int(int64(r.SynRecv))
	w.Key("full").Bool(r.Full)
	if r.PID != 0 {
		w.Key("pid").Int(int64(r.PID))
	}
	if r.Command != "" {
		w.Key("command").String(r.Command)
	}
	w.End()
}

func (o *jsonOwners) write(w *jsonw.W) {
	w.Object()
	w.Key("owned").Int(int64(o.Owned))
	w.Key("shared").Int(int64(o.Shared))
	k := &o.KernelUnowned
	w.Key("kernel_unowned").Object()
	w.Key("total").Int(int64(k.Total))
	w.Key("time_wait").Int(int64(k.TimeWait))
	w.Key("handshake").Int(int64(k.Handshake))
	w.Key("orphan").Int(int64(k.Orphan))
	w.Key("time_wait_remembered").Int(int64(k.TimeWaitRemembered))
	w.End()
	w.Key("remembered").Int(int64(o.Remembered))
	u := &o.Unseen
	w.Key("unseen").Object()
	w.Key("total").Int(int64(u.Total))
	w.Key("newer_than_walk").Int(int64(u.NewerThanWalk))
	w.Key("other_user").Int(int64(u.OtherUser))
	w.Key("main_thread_exited").Int(int64(u.MainThreadExited))
	w.Key("other_pid_namespace").Int(int64(u.OtherPIDNamespace))
	w.End()
	w.Key("hidden_processes").Int(int64(o.HiddenProcesses))
	w.Key("walk_ms").Float(o.WalkMS)
	w.Key("walk_time").String(o.WalkTime)
	if o.Source != "" {
		w.Key("source").String(o.Source)
	}
	if o.SourceNote != "" {
		w.Key("source_note").String(o.SourceNote)
	}
	if o.FromOpener != 0 {
		w.Key("from_opener").Int(int64(o.FromOpener))
	}
	if o.TWOpener != 0 {
		w.Key("time_wait_from_opener").Int(int64(o.TWOpener))
	}
	if o.EBPFLost != 0 {
		w.Key("ebpf_lost").Uint(o.EBPFLost)
	}
	if o.EBPFDropped != 0 {
		w.Key("ebpf_dropped").Uint(o.EBPFDropped)
	}
	w.End()
}

func (c *jsonCloses) write(w *jsonw.W) {
	w.Object()
	w.Key("watching").Bool(c.Watching)
	if c.Error != "" {
		w.Key("error").String(c.Error)
	}
	if c.Since != "" {
		w.Key("since").String(c.Since)
	}
	w.Key("total").Uint(c.Total)
	w.Key("per_s").Float(c.PerS)
	w.Key("lost").Uint(c.Lost)
	w.Key("overflow").Uint(c.Overflow)
	w.End()
}

func (h *jsonHealth) write(w *jsonw.W) {
	w.Object()
	if h.Addr != "" {
		w.Key("addr").String(h.Addr)
	}
	if h.Port != 0 {
		w.Key("port").Uint(uint64(h.Port))
	}
	if h.Cgroup != "" {
		w.Key("cgroup").String(h.Cgroup)
	}
	w.Key("sockets").Int(int64(h.Sockets))
	w.Key("rtt_ms").Object()
	w.Key("p50").Float(h.RTTMS.P50)
	w.Key("p99").Float(h.RTTMS.P99)
	w.Key("min").Float(h.RTTMS.Min)
	w.End()
	optFloat(w, "retrans_per_s", h.RetransPerS)
	w.Key("retrans_pct").Float(h.RetransPct)
	w.Key("retrans_total").Uint(h.RetransTotal)
	w.Key("segs_out").Uint(h.SegsOut)
	w.Key("lost").Uint(h.Lost)
	w.Key("unacked").Uint(h.Unacked)
	optFloat(w, "bytes_per_s", h.BytesPerS)
	w.Key("delivery_rate").Uint(h.DeliveryRate)
	w.End()
}

func (c *jsonConntrack) write(w *jsonw.W) {
	w.Object()
	w.Key("count").Uint(c.Count)
	w.Key("max").Uint(c.Max)
	w.Key("found").Uint(c.Found)
	w.Key("invalid").Uint(c.Invalid)
	w.Key("insert").Uint(c.Insert)
	w.Key("insert_failed").Uint(c.InsertFailed)
	w.Key("drop").Uint(c.Drop)
	w.Key("early_drop").Uint(c.EarlyDrop)
	w.Key("error").Uint(c.Error)
	w.Key("search_restart").Uint(c.SearchRestart)
	optFloat(w, "drop_per_s", c.DropPerS)
	optFloat(w, "early_drop_per_s", c.EarlyDropPerS)
	optFloat(w, "insert_failed_per_s", c.InsertFailedPerS)
	optFloat(w, "invalid_per_s", c.InvalidPerS)
	w.End()
}
