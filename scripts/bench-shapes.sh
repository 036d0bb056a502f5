#!/usr/bin/env bash
# The floor on every shape: one snapshot by tcpdash (--once --json
# --processes=false) against a raw inet_diag dump (cmd/rawdump: both
# families in one walk), against the same dump a family at a time (two
# walks, as ss dumps), against `ss -tan`, and a filter matching nothing
# against the kernel's filtered walk (rawdump -dport 1, and with
# -per-family), on populations of different shapes, each in a
# fresh private namespace, in one run. Prints, per shape, median CPU
# (user+system), peak RSS and minor page faults over RUNS interleaved runs,
# and each command's CPU ratio to its floor (the median of each round's).
#
#   scripts/bench-shapes.sh [SCALE [RUNS [SHAPE...]]]
# SCALE multiplies every population (1 = about 200,000 sockets a shape).
# Shapes (default all):
#   tw-many     200k TIME_WAIT to 96 destinations + 18k ESTABLISHED to a
#               dual-stack server (v4-mapped peers)
#   mapped-in   200k ESTABLISHED: IPv4 clients of dual-stack servers,
#               service ports inside the ephemeral range
#   mapped-out  the same, service ports below it
#   v4-in       200k ESTABLISHED over IPv4, clients from 200 addresses to
#               8 destinations, service ports inside the range
#   v4-out      the same, service ports below it
#   v6-in       200k ESTABLISHED over IPv6, service ports inside the range
#   v6-out      the same, below it
#   tw-one      60k TIME_WAIT from one address to one destination port
#   mix         all of these kinds at once, ports inside the range
#   empty       an empty namespace: start-up alone, and `tcpdash version`
#               (the runtime, the dependencies' init, a first encoding)
#               against the floor's whole run
# With OLD=path/to/an/older/tcpdash, that build is measured beside this
# one, in the same runs: before and after, side by side.
set -euo pipefail
scale=${1:-1}
# 21 rounds: at 9 a ratio moved by up to 0.1 between two builds of the
# same cost; 21 run every shape in about ten minutes, each shape's
# TIME_WAIT measured well within its 60 seconds (the count after says).
runs=${2:-21}
shift $(($# > 2 ? 2 : $#))
shapes=("$@")
((${#shapes[@]})) || shapes=(tw-many mapped-in mapped-out v4-in v4-out v6-in v6-out tw-one mix empty)
source "$(dirname "$0")/lib.sh"
prepare
release_build "$bin/rawdump" ./cmd/rawdump
need time /usr/bin/time

n() { awk -v a="$1" -v s="$scale" 'BEGIN {printf "%d", a * s}'; }

# The commands measured, the same on every shape; the first of each set
# is its floor, which the others' ratios are to.
benches=(
  --bench "floor (rawdump)=$bin/rawdump"
  --bench "tcpdash --once --json=$bin/tcpdash --once --json --processes=false"
  --bench "two walks (rawdump -per-family)=$bin/rawdump -per-family"
  --bench "ss -tan=ss -tan"
  ${OLD:+--bench "older build=$OLD --once --json --processes=false"}
)
filtered=(
  --bench "filtered floor (rawdump -dport 1)=$bin/rawdump -dport 1"
  --bench "tcpdash, a filter matching nothing=$bin/tcpdash --once --json --processes=false --filter 'dport == :1'"
  --bench "filtered, two walks (rawdump -per-family -dport 1)=$bin/rawdump -per-family -dport 1"
  ${OLD:+--bench "older build, the same filter=$OLD --once --json --processes=false --filter 'dport == :1'"}
)

# shape NAME FLAGS-PER-WORKER WORKERS [SYSCTL...]: holds WORKERS tcpload
# workers with FLAGS (each on its own base port, from BASE) in a fresh
# namespace, then measures.
shape() {
  local name=$1 flags=$2 workers=$3 base=$4
  shift 4
  local sysctls=() s
  for s in "$@"; do sysctls+=(--sysctl "$s"); done
  echo "== $name: $workers worker(s) of '$flags', service ports from $base"
  rm -f "$bin/go"
  cat > "$bin/shape.sh" <<INNER
set -euo pipefail
trap 'kill \$(jobs -p) 2>/dev/null' EXIT
# Every worker binds its listeners before any connects: a port inside the
# ephemeral range that another worker's client took could not be listened on.
for ((i = 0; i < $workers; i++)); do
  $bin/tcpload $flags --wait-for "$bin/go" --base-port \$(($base + i * 300)) 2>"$bin/w\$i.log" &
done
wait_for() {
  for ((i = 0; i < $workers; i++)); do
    until grep -q "\$1" "$bin/w\$i.log"; do
      grep -q error "$bin/w\$i.log" && { cat "$bin/w\$i.log" >&2; exit 1; }
      sleep 0.2
    done
  done
}
wait_for listening
touch "$bin/go"
wait_for holding
echo "  \$(ss -tanH | wc -l) sockets: \$(ss -tanH | awk '{print \$1}' | sort | uniq -c | sort -rn | awk '{printf "%s %s  ", \$2, \$1}')"
$bin/tcpload --runs $runs ${benches[@]@Q} 2>/dev/null
$bin/tcpload --runs $runs ${filtered[@]@Q} 2>/dev/null
$( ((${#startup[@]})) && echo "$bin/tcpload --runs $runs ${startup[@]@Q} 2>/dev/null" )
echo "  after: \$(ss -tanH | wc -l) sockets"
INNER
  "$bin/tcpload" --netns "${sysctls[@]}" -- bash "$bin/shape.sh"
}

wide=net.ipv4.ip_local_port_range='10000 65000' # room for 200k sockets on few ports
tw=net.ipv4.tcp_max_tw_buckets=1000000
startup=() # a third set of commands, on the empty namespace only
per=$(n 9000) # pairs a worker (one process holds at most 20,000 files here)
for s in "${shapes[@]}"; do
  case $s in
  tw-many) shape "$s" "--time-wait $(n 200000) --dests 96 --ports 1 --mapped $(n 9000)" 1 20000 "$tw" ;;
  mapped-in) shape "$s" "--mapped $per" 11 40000 "$wide" ;;
  mapped-out) shape "$s" "--mapped $per" 11 5000 "$wide" ;;
  v4-in) shape "$s" "--established $per --dests 8 --sources 200" 11 40000 "$wide" ;;
  v4-out) shape "$s" "--established $per --dests 8 --sources 200" 11 5000 "$wide" ;;
  v6-in) shape "$s" "--ipv6 $per" 11 40000 "$wide" ;;
  v6-out) shape "$s" "--ipv6 $per" 11 5000 "$wide" ;;
  tw-one) shape "$s" "--time-wait $(n 60000) --dests 1 --ports 1" 1 20000 "$tw" "net.ipv4.ip_local_port_range=1024 65000" ;;
  mix) shape "$s" "--time-wait $(n 40000) --dests 96 --ports 1 --established $(n 2500) --sources 200 --mapped $(n 2500) --ipv6 $(n 2500)" 4 40000 "$tw" "$wide" ;;
  empty)
    # Start-up as the goal counts it: the runtime, the dependencies'
    # init and a first encoding, which `version` is, against the floor's
    # whole run.
    startup=(
      --bench "floor (rawdump)=$bin/rawdump"
      --bench "tcpdash version=$bin/tcpdash version"
      ${OLD:+--bench "older build, version=$OLD version"}
    )
    shape "$s" "" 1 20000
    startup=()
    ;;
  *) echo "unknown shape $s" >&2; exit 2 ;;
  esac
done
