#!/usr/bin/env bash
# Measures `tcpdash --json --netns all` on a host with many network
# namespaces, side by side in one run with what people do by hand: `ss -tan`
# in every namespace once a second (through nsenter). SMALL namespaces hold
# PAIRS_SMALL ESTABLISHED pairs each, one more holds PAIRS_BIG pairs (held by
# tcpload workers of 9,000 pairs: one process may hold 20,000 files here).
# Every namespace is a private user+network namespace of its own tcpload;
# both measurements run as root on the host and see them all. Prints CPU
# (user+system) over DURATION seconds and the ratio, then the memory the
# cookie → owner map takes in a --json stream over the big namespace.
#
#   sudo scripts/bench-netns.sh [SMALL [PAIRS_SMALL [PAIRS_BIG [DURATION]]]]
# With BASELINE=/path/to/another/tcpdash, that binary is measured too, in
# the same run on the same namespaces.
set -euo pipefail
small=${1:-50}
pairs_small=${2:-150}
pairs_big=${3:-50000}
duration=${4:-60}
source "$(dirname "$0")/lib.sh"
prepare
need "util-linux time" nsenter /usr/bin/time
# tcpload --netns waits for its child in the namespace, which dies with it
# (Pdeathsig): kill -9 takes both.
# The big namespace's workers are its shell's children, which nothing kills
# when the shell goes: every process started from $bin goes by its path.
cleanup() {
  { kill -9 $(jobs -p); pkill -9 -f "$bin/"; wait; } 2>/dev/null || true
  rm -rf "$bin"
}
trap cleanup EXIT

pids=()
for ((i = 0; i < small; i++)); do
  "$bin/tcpload" --netns --established "$pairs_small" 2>"$bin/small$i.log" &
  pids+=($!)
done
# The big one: workers inside one namespace, held by a shell that waits.
cat > "$bin/big.sh" <<'INNER'
source "$1/lib.sh"
hold_population "$1" "$2" 0
echo holding > "$1/big.ready"
exec tail -f "$1/big.ready" # holds, and names $bin for the cleanup
INNER
"$bin/tcpload" --netns -- bash "$bin/big.sh" "$bin" "$pairs_big" 2>"$bin/big.log" &
pids+=($!)
for ((i = 0; i < small; i++)); do
  until grep -q holding "$bin/small$i.log" 2>/dev/null; do sleep 0.1; done
done
until [ -f "$bin/big.ready" ]; do sleep 0.5; done
# One namespace file per tcpload (its child in the namespace).
nsfiles=()
for p in "${pids[@]}"; do
  child=$(cat /proc/$p/task/*/children | awk '{print $1; exit}') # Go forks from any thread
  nsfiles+=("/proc/${child:-$p}/ns/net")
done
total=0
for f in "${nsfiles[@]}"; do total=$((total + $(nsenter --net="$f" ss -tanH | wc -l))); done
printf '%d namespaces (+ the host), %d sockets in them, %d s each:\n' "${#nsfiles[@]}" "$total" "$duration"

cpu_ms() { awk '{printf "%d", ($1 + $2) * 1000}'; }
# A stream for DURATION seconds (its interval stretches while polls are
# slow, so it is stopped by time, not by a count of lines).
stream() {
  # timeout exits 124 when it stops the stream, as meant: not a failure.
  { /usr/bin/time -f '%U %S' timeout -s INT "$duration" "$1" --json --netns all --interval 1s >"$bin/lines.jsonl" || true; } 2>&1 |
    tail -1 | cpu_ms
}
if [ -n "${BASELINE:-}" ]; then
  t0=$(stream "$BASELINE")
  printf '  %-44s CPU %6d ms = %5.1f%% of a core, %d lines\n' "baseline --json --netns all (1 s)" "$t0" \
    "$(echo "$t0 $duration" | awk '{print $1/($2*10)}')" "$(wc -l < "$bin/lines.jsonl")"
fi
t1=$(stream "$bin/tcpdash")
printf '  %-44s CPU %6d ms = %5.1f%% of a core, %d lines\n' "tcpdash --json --netns all (1 s)" "$t1" \
  "$(echo "$t1 $duration" | awk '{print $1/($2*10)}')" "$(wc -l < "$bin/lines.jsonl")"
printf '%s\n' "${nsfiles[@]}" > "$bin/nsfiles"
t2=$( { /usr/bin/time -f '%U %S' sh -c "
  for i in \$(seq $duration); do
    while read -r f; do nsenter --net=\"\$f\" ss -tan >/dev/null; done < $bin/nsfiles
    sleep 1
  done"; } 2>&1 | tail -1 | cpu_ms)
printf '  %-44s CPU %6d ms = %5.1f%% of a core\n' "ss -tan in every namespace, once a second" "$t2" "$(echo "$t2 $duration" | awk '{print $1/($2*10)}')"
echo "$t1 $t2" | awk '{printf "  tcpdash / ss loop = %.2f\n", $1 / $2}'

# The cookie -> owner memory: a stream over the big namespace, with and
# without processes (owners are remembered only with attribution on).
big=${nsfiles[-1]}
for flags in "" "--processes=false"; do
  "$bin/tcpdash" --json --netns "$big" --interval 1s --count 12 $flags > "$bin/big.jsonl" &
  p=$!
  sleep 11
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$p/status")
  wait $p
  remembered=$(tail -1 "$bin/big.jsonl" | sed -n 's/.*"remembered":\([0-9]*\).*/\1/p')
  printf '  stream over %d sockets %-18s RSS %6d KiB, owners remembered: %s\n' \
    "$(nsenter --net="$big" ss -tanH | wc -l)" "${flags:-(processes on)}" "$rss" "${remembered:-0 (off)}"
done
