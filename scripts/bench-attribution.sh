#!/usr/bin/env bash
# Process attribution at scale, side by side in one run: a private network
# namespace holding PAIRS ESTABLISHED pairs (held by tcpload workers of
# 9,000 pairs each, within the usual 20,000 open files) and PROCS processes
# in all, then median CPU and peak RSS of `tcpdash --once --json` (which
# walks /proc/<pid>/fd to name owners) against `ss -tanp` and `ss -tan`.
#
#   scripts/bench-attribution.sh [PAIRS [PROCS [RUNS]]]
set -euo pipefail
pairs=${1:-100000}
procs=${2:-500}
runs=${3:-5}
source "$(dirname "$0")/lib.sh"
prepare

cat > "$bin/inner.sh" <<'INNER'
set -euo pipefail
bin=$1 pairs=$2 procs=$3 runs=$4
source "$bin/lib.sh"
hold_population "$bin" "$pairs" "$procs"
echo "$(ss -tanH | wc -l) sockets, $(ls -d /proc/[0-9]* | wc -l) processes visible" >&2
"$bin/tcpload" --runs "$runs" \
  --bench "ss -tanp=ss -tanp" \
  --bench "tcpdash --once --json=$bin/tcpdash --once --json" \
  --bench "ss -tan=ss -tan"
kill $(jobs -p) 2>/dev/null || true
INNER

"$bin/tcpload" --netns -- bash "$bin/inner.sh" "$bin" "$pairs" "$procs" "$runs"
