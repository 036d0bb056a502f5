#!/usr/bin/env bash
# Measures the running dashboard against the seed's netstat|awk loop, side
# by side in one run, in a private network namespace holding a static
# population: CPU time and resident memory of tcpdash at the 1 s interval
# over DURATION seconds, then the CPU time of
#   netstat -n | awk '/^tcp/ {++S[$NF]} END {for(a in S) print a, S[a]}'
# run once a second for the same duration.
#
#   scripts/bench-dashboard.sh [PAIRS [DURATION]]
# PAIRS ESTABLISHED pairs (2 sockets each; 100000 for 200,000 sockets).
# Static, unlike TIME_WAIT, which would expire during the run. They are
# held by several tcpload workers, each within the usual 20,000 open files.
set -euo pipefail
pairs=${1:-500}
duration=${2:-60}
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/tcpdash" .
go build -o "$bin/tcpload" ./cmd/tcpload
for tool in tmux netstat /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install tmux net-tools time" >&2; exit 1; }
done

cat > "$bin/measure.sh" <<'INNER'
set -euo pipefail
bin=$1 duration=$2 pairs=$3
# Hold the population: workers of up to 9,000 pairs on their own ports.
per=9000 started=0 i=0
while ((started < pairs)); do
  n=$((pairs - started < per ? pairs - started : per))
  "$bin/tcpload" --established "$n" --dests 8 --base-port $((20000 + i * 300)) 2>"$bin/worker$i.log" &
  started=$((started + n)) i=$((i + 1))
done
for ((j = 0; j < i; j++)); do
  until grep -q "holding" "$bin/worker$j.log" 2>/dev/null; do
    grep -q "error" "$bin/worker$j.log" 2>/dev/null && { cat "$bin/worker$j.log" >&2; exit 1; }
    sleep 0.2
  done
done
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
sockets=$(ss -tanH | wc -l)

tmux -L bench -f /dev/null new-session -d -s bench -x 120 -y 40 "$bin/tcpdash"
sleep 3 # start-up and the first polls
pid=$(tmux -L bench display-message -p -t bench '#{pane_pid}')
c0=$(cpu "$pid") rss0=$(rss "$pid") rssmax=$rss0
for ((i = 0; i < duration; i += 10)); do
  sleep 10
  r=$(rss "$pid"); ((r > rssmax)) && rssmax=$r
done
c1=$(cpu "$pid") rss1=$(rss "$pid")
tmux -L bench kill-server
dash_ms=$(( (c1 - c0) * 1000 / hz ))

loop=$( { /usr/bin/time -f '%U %S' sh -c "
  for i in \$(seq $duration); do
    netstat -n | awk '/^tcp/ {++S[\$NF]} END {for(a in S) print a, S[a]}' >/dev/null
    sleep 1
  done" ; } 2>&1 | tail -1)
loop_ms=$(echo "$loop" | awk '{printf "%d", ($1 + $2) * 1000}')

printf '%d sockets, %d s at the 1 s interval\n' "$sockets" "$duration"
printf '  tcpdash dashboard   CPU %6d ms = %5.2f%% of a core   RSS %d KiB at start, %d KiB at end, %d KiB peak\n' \
  "$dash_ms" "$(echo "$dash_ms $duration" | awk '{print $1 / ($2 * 10)}')" "$rss0" "$rss1" "$rssmax"
printf '  netstat|awk loop    CPU %6d ms = %5.2f%% of a core\n' \
  "$loop_ms" "$(echo "$loop_ms $duration" | awk '{print $1 / ($2 * 10)}')"
printf '  ratio tcpdash / netstat|awk: %.3f\n' "$(echo "$dash_ms $loop_ms" | awk '{print $1 / $2}')"
kill $(jobs -p) 2>/dev/null || true
INNER

"$bin/tcpload" --netns -- bash "$bin/measure.sh" "$bin" "$duration" "$pairs"
