#!/usr/bin/env bash
# What --health costs, side by side in one run: a private namespace with
# PAIRS ESTABLISHED pairs (tcpload workers of 9,000 each), then median CPU
# and peak RSS of tcpdash --once --json with and without --health (which
# asks the kernel for every socket's tcp_info), against ss -tni and ss -tn.
#
#   scripts/bench-health.sh [PAIRS [RUNS]]
set -euo pipefail
pairs=${1:-18000}
runs=${2:-7}
source "$(dirname "$0")/lib.sh"
prepare

cat > "$bin/inner.sh" <<'INNER'
set -euo pipefail
bin=$1 pairs=$2 runs=$3
source "$bin/lib.sh"
start_workers "$bin" "$pairs"
echo "$(ss -tanH | wc -l) sockets" >&2
"$bin/tcpload" --runs "$runs" \
  --bench "tcpdash --once --json=$bin/tcpdash --once --json --processes=false" \
  --bench "tcpdash --once --json --health=$bin/tcpdash --once --json --processes=false --health" \
  --bench "ss -tn=ss -tn" \
  --bench "ss -tni=ss -tni"
kill $(jobs -p) 2>/dev/null || true
INNER

"$bin/tcpload" --netns -- bash "$bin/inner.sh" "$bin" "$pairs" "$runs"
