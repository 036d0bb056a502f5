#!/usr/bin/env bash
# Naming the opener of connections that live under a millisecond, side by
# side in one run: for each RATE, a tcpload in a private namespace opens
# and closes RATE connections a second to one destination, the client
# closing first (its side left in TIME_WAIT). tcpdash --json watches the
# namespace from outside for SECONDS, with --ebpf=off, then on. For each:
# the share of TIME_WAIT named as the churner's, the destination's
# closes/s against the load's rate, tcpdash's CPU, and the churner's CPU
# (the eBPF program runs in its connect() and in softirq on its behalf).
# Needs root (eBPF).
#
#   scripts/bench-openers.sh [SECONDS [RATE...]]
set -euo pipefail
seconds=${1:-12}
shift || true
rates=("${@:-300 1000}")
source "$(dirname "$0")/lib.sh"
prepare

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime+stime, in ticks
tick=$(getconf CLK_TCK)
printf '%-6s %-5s %9s %18s %12s %12s\n' RATE EBPF NAMED "CLOSES/S (LOAD)" TCPDASH_CPU CHURNER_CPU
for rate in ${rates[*]}; do
  for mode in off on; do
    # A fresh load for each: its TIME_WAIT are all from while tcpdash
    # watches (but the moment it takes to find the namespace).
    "$bin/tcpload" --netns --churn "$rate" --client-closes 2>"$bin/load.log" &
    load=$!
    until pid=$(grep -o '(pid [0-9]*)' "$bin/load.log" | tr -dc 0-9) && [ -n "$pid" ]; do sleep 0.05; done
    before=$(cpu "$pid")
    /usr/bin/time -f '%U %S' -o "$bin/time" \
      "$bin/tcpdash" --json --count "$seconds" --netns "pid:$pid" --ebpf "$mode" >"$bin/out.json"
    after=$(cpu "$pid")
    kill -INT "$load"; wait "$load" 2>/dev/null || true
    achieved=$(grep -o '[0-9]*/s$' "$bin/load.log" | tr -dc 0-9)
    python3 - "$bin/out.json" "$pid" "$achieved" "$rate" "$mode" "$(cat "$bin/time")" "$((after - before))" "$tick" "$seconds" <<'PY'
import json, sys
path, pid, achieved, rate, mode, times, churn, tick, secs = sys.argv[1:]
last = json.loads(open(path).read().strip().split("\n")[-1])
tw = last["states"]["TIME_WAIT"]
named = sum(p["states"].get("TIME_WAIT", 0) for p in last["processes"] if p["pid"] == int(pid))
closes = max((g.get("closes_per_s", 0) for g in last["port_pressure"] if g["remote_port"] == 7000), default=0)
u, s = map(float, times.split())
print(f"{rate:<6} {mode:<5} {100 * named / max(tw, 1):8.1f}% {closes:9.1f} ({achieved:>5}) {(u + s) / float(secs) * 100:11.1f}% {int(churn) / int(tick) / float(secs) * 100:11.1f}%")
PY
  done
done
