#!/usr/bin/env bash
# The floor: one snapshot by tcpdash against the least work any inet_diag
# tool can do (cmd/rawdump: dump both families in one walk into one reused
# buffer and count) and against ss, on the same large population in one
# run: 200,000 TIME_WAIT and 17,000 ESTABLISHED sockets in a private
# namespace. Also a filter that matches nothing, which the kernel applies,
# against its own floor (rawdump -dport 1: the kernel's walk of its
# tables). Prints median CPU time (user+system) and peak RSS over RUNS
# interleaved runs.
#
#   scripts/bench-floor.sh [TIME_WAIT [ESTABLISHED_SOCKETS [RUNS]]]
set -euo pipefail
tw=${1:-200000}
est=${2:-17000}
runs=${3:-21}
source "$(dirname "$0")/lib.sh"
prepare
release_build "$bin/rawdump" ./cmd/rawdump

"$bin/tcpload" --netns \
  --sysctl net.ipv4.tcp_max_tw_buckets=$((tw * 2)) \
  --time-wait "$tw" --established $((est / 2)) --dests 8 --ports 4 \
  --runs "$runs" \
  --bench "floor (rawdump)=$bin/rawdump" \
  --bench "tcpdash --once --json, no processes=$bin/tcpdash --once --json --processes=false" \
  --bench "the same, --filter matching nothing=$bin/tcpdash --once --json --processes=false --filter 'dport == :1'" \
  --bench "floor filtered (rawdump -dport 1)=$bin/rawdump -dport 1" \
  --bench "ss -tan=ss -tan" \
  --bench "count=$bin/rawdump"
