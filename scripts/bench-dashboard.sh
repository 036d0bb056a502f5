#!/usr/bin/env bash
# Measures the running dashboard against the seed's netstat|awk loop and
# against the floor (cmd/rawdump, a raw inet_diag dump, once a second, run
# alongside the dashboard over the same seconds), in one run, in a private
# network namespace holding a static population: CPU time and resident
# memory of tcpdash at the 1 s interval over DURATION seconds, with process
# attribution and without it (--processes=false), then the CPU time of
#   netstat -n | awk '/^tcp/ {++S[$NF]} END {for(a in S) print a, S[a]}'
# run once a second for as long.
#
#   scripts/bench-dashboard.sh [PAIRS [DURATION [PROCS]]]
# PAIRS ESTABLISHED pairs (2 sockets each; 100000 for 200,000 sockets).
# Static, unlike TIME_WAIT, which would expire during the run. They are
# held by tcpload workers of 9,000 pairs each (one process may hold 20,000
# files here); idle processes make up PROCS processes in the namespace.
set -euo pipefail
pairs=${1:-500}
duration=${2:-60}
procs=${3:-0}
source "$(dirname "$0")/lib.sh"
prepare
release_build "$bin/rawdump" ./cmd/rawdump
need "tmux net-tools time" tmux netstat /usr/bin/time

cat > "$bin/measure.sh" <<'INNER'
set -euo pipefail
bin=$1 duration=$2 pairs=$3 procs=$4
source "$bin/lib.sh"
hold_population "$bin" "$pairs" "$procs"

pct() { echo "$1 $duration" | awk '{printf "%.2f", $1 / ($2 * 10)}'; }
printf '%d sockets, %d processes, %d s at the 1 s interval\n' "$(ss -tanH | wc -l)" "$(ls -d /proc/[0-9]* | wc -l)" "$duration"

dashboard() { # name, flags, [floor: run the raw dump loop alongside]
  tmux -L bench -f /dev/null new-session -d -s bench -x 120 -y 40 "$bin/tcpdash $2"
  sleep 3 # start-up, the first polls and the first /proc walk
  local pid c0 rss0 rssmax r c1 rss1 floorpid=
  pid=$(tmux -L bench display-message -p -t bench '#{pane_pid}')
  c0=$(cpu "$pid") rss0=$(rss "$pid") rssmax=$rss0
  if [[ ${3:-} ]]; then
    # The floor over the same seconds: this VM's noise comes and goes,
    # and two windows measured one after the other differed by a quarter.
    /usr/bin/time -f '%U %S' -o "$bin/floor.time" sh -c "
      for i in \$(seq $duration); do $bin/rawdump >/dev/null; sleep 1; done" &
    floorpid=$!
  fi
  for ((k = 0; k < duration; k += 10)); do
    sleep 10
    r=$(rss "$pid"); ((r > rssmax)) && rssmax=$r
  done
  c1=$(cpu "$pid") rss1=$(rss "$pid")
  tmux -L bench kill-server
  if [[ $floorpid ]]; then wait "$floorpid"; fi
  ms=$(((c1 - c0) * 1000 / hz))
  printf '  %-28s CPU %7d ms = %5s%% of a core   RSS %d KiB at start, %d at end, %d peak\n' \
    "$1" "$ms" "$(pct "$ms")" "$rss0" "$rss1" "$rssmax"
}
dashboard "tcpdash" ""; with=$ms
dashboard "tcpdash --processes=false" "--processes=false" floor; without=$ms

loop=$( { /usr/bin/time -f '%U %S' sh -c "
  for i in \$(seq $duration); do
    netstat -n | awk '/^tcp/ {++S[\$NF]} END {for(a in S) print a, S[a]}' >/dev/null
    sleep 1
  done" ; } 2>&1 | tail -1)
loop_ms=$(echo "$loop" | awk '{printf "%d", ($1 + $2) * 1000}')
printf '  %-28s CPU %7d ms = %5s%% of a core\n' "netstat|awk loop" "$loop_ms" "$(pct "$loop_ms")"
floor_ms=$(tail -1 "$bin/floor.time" | awk '{printf "%d", ($1 + $2) * 1000}')
printf '  %-28s CPU %7d ms = %5s%% of a core (alongside --processes=false)\n' "raw dump once a second" "$floor_ms" "$(pct "$floor_ms")"
echo "$with $without $loop_ms $floor_ms" | awk '{printf "  attribution adds %+.0f%%; tcpdash / netstat|awk = %.3f; tcpdash --processes=false / raw dump = %.2fx\n", ($1 - $2) * 100 / $2, $1 / $3, $2 / $4}'
kill $(jobs -p) 2>/dev/null || true
INNER

"$bin/tcpload" --netns -- bash "$bin/measure.sh" "$bin" "$duration" "$pairs" "$procs"
