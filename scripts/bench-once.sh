#!/usr/bin/env bash
# Compares one snapshot by tcpdash with ss and netstat on the same large
# population, side by side in one run: 200,000 TIME_WAIT and 10,000
# ESTABLISHED sockets in a private network namespace (no root needed).
# Prints median CPU time (user+system) and peak RSS over --runs runs, for
# tcpdash with process attribution (the default) and without.
#
#   scripts/bench-once.sh [TIME_WAIT [ESTABLISHED_SOCKETS [RUNS]]]
set -euo pipefail
tw=${1:-200000}
est=${2:-10000}
runs=${3:-5}
source "$(dirname "$0")/lib.sh"
prepare
command -v netstat >/dev/null || { echo "netstat missing: apt-get install net-tools" >&2; exit 1; }

# 32 destination groups keep each well inside the ephemeral range; the
# namespace's tcp_max_tw_buckets (131072 by default here) must hold them all.
"$bin/tcpload" --netns \
  --sysctl net.ipv4.tcp_max_tw_buckets=$((tw * 2)) \
  --time-wait "$tw" --established $((est / 2)) --dests 8 --ports 4 \
  --runs "$runs" \
  --bench "ss=ss -tan" \
  --bench "tcpdash=$bin/tcpdash --once --json" \
  --bench "tcpdash, no processes=$bin/tcpdash --once --json --processes=false" \
  --bench "netstat=netstat -tan" \
  --bench "count=ss -tanH | wc -l"
