#!/usr/bin/env bash
# Checks that the per-interval rates in `tcpdash --json` are honest under a
# steady connect() load on a large population, in a private network
# namespace: PAIRS ESTABLISHED pairs (2 sockets each; 100000 for 200,000
# sockets) held by tcpload workers, plus a steady churn of RATE connects a
# second, then COUNT lines of `tcpdash --json --processes=false`. For each
# interval it computes ΔActiveOpens/Δtime, and how far it is from the load's
# rate over the whole run: every interval should be within 5%, however long
# the dumps take.
#
#   scripts/bench-rates.sh [PAIRS [RATE [COUNT]]]
# With BASELINE=/path/to/another/tcpdash, that binary is measured too, in
# the same run on the same population, right after this one.
set -euo pipefail
pairs=${1:-100000}
rate=${2:-1000}
count=${3:-30}
source "$(dirname "$0")/lib.sh"
prepare
command -v python3 >/dev/null || { echo "missing python3" >&2; exit 1; }
if [ -n "${BASELINE:-}" ]; then cp "$BASELINE" "$bin/baseline"; fi

cat > "$bin/rates.py" <<'PY'
import json, sys
from datetime import datetime
lines = [json.loads(l) for l in open(sys.argv[1])]
def t(s):  # RFC 3339 with nanoseconds; Python keeps microseconds
    head, _, frac = s.partition(".")
    frac, zone = (frac[:-1], "+00:00") if frac.endswith("Z") else (frac[:-6], frac[-6:])
    return datetime.fromisoformat(head + "." + (frac + "000000")[:6] + zone)
rates, dumps, gaps = [], [], []
for a, b in zip(lines, lines[1:]):
    dt = (t(b["time"]) - t(a["time"])).total_seconds()
    rates.append((b["counters"]["ActiveOpens"] - a["counters"]["ActiveOpens"]) / dt)
    dumps.append(b["dump_ms"]); gaps.append(dt)
mean = (lines[-1]["counters"]["ActiveOpens"] - lines[0]["counters"]["ActiveOpens"]) / \
       (t(lines[-1]["time"]) - t(lines[0]["time"])).total_seconds()
worst = max(abs(r - mean) / mean for r in rates)
print(f"  {sys.argv[2]:<10} {len(rates)} intervals of {min(gaps):.2f}-{max(gaps):.2f} s, dumps {min(dumps):.0f}-{max(dumps):.0f} ms; "
      f"ActiveOpens/s {min(rates):.0f}-{max(rates):.0f} around {mean:.0f}; "
      f"worst {100 * worst:.1f}% off ({'within' if worst <= 0.05 else 'NOT within'} 5%)")
sys.exit(0 if worst <= 0.05 else 1)
PY

cat > "$bin/measure.sh" <<'INNER'
set -euo pipefail
bin=$1 pairs=$2 rate=$3 count=$4
source "$bin/lib.sh"
hold_population "$bin" "$pairs" 0
"$bin/tcpload" --churn "$rate" -- sleep 86400 2>"$bin/churn.log" &
churn=$!
sleep 3 # the load settles
printf '%d sockets, a steady %d connects/s asked for\n' "$(ss -tanH | wc -l)" "$rate"
status=0
"$bin/tcpdash" --json --count "$count" --processes=false >"$bin/this.jsonl"
if [ -x "$bin/baseline" ]; then
  "$bin/baseline" --json --count "$count" --processes=false >"$bin/baseline.jsonl"
fi
kill -INT "$churn"; wait "$churn" || true
grep 'churn:' "$bin/churn.log" | tail -1 | sed 's/^/  /'
python3 "$bin/rates.py" "$bin/this.jsonl" tcpdash || status=1
if [ -x "$bin/baseline" ]; then python3 "$bin/rates.py" "$bin/baseline.jsonl" baseline || true; fi
kill $(jobs -p) 2>/dev/null || true
exit $status
INNER

"$bin/tcpload" --netns -- bash "$bin/measure.sh" "$bin" "$pairs" "$rate" "$count"
