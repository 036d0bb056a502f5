#!/usr/bin/env bash
# Measures a scrape of `tcpdash exporter` against a `tcpdash --once --json
# --processes=false` snapshot, side by side in one run, on PAIRS
# ESTABLISHED pairs (100000 for 200,000 sockets) in a private namespace:
# CPU per scrape and per snapshot (median of RUNS), then the exporter's RSS
# over SCRAPES scrapes (it should stay flat).
#
#   scripts/bench-exporter.sh [PAIRS [RUNS [SCRAPES]]]
set -euo pipefail
pairs=${1:-100000}
runs=${2:-10}
scrapes=${3:-1000}
source "$(dirname "$0")/lib.sh"
prepare
need "curl time" curl /usr/bin/time

cat > "$bin/measure.sh" <<'INNER'
set -euo pipefail
bin=$1 pairs=$2 runs=$3 scrapes=$4
source "$bin/lib.sh"
hold_population "$bin" "$pairs" 0
printf '%d sockets\n' "$(ss -tanH | wc -l)"
"$bin/tcpdash" exporter --listen 127.0.0.1:19478 --processes=false 2>"$bin/exporter.log" &
exp=$!
until grep -q "listening on" "$bin/exporter.log"; do sleep 0.1; done
curl -s 127.0.0.1:19478/metrics >/dev/null # warm up
scrape_ms=() once_ms=()
for ((i = 0; i < runs; i++)); do
  c0=$(cpu $exp); curl -s 127.0.0.1:19478/metrics >/dev/null; c1=$(cpu $exp)
  scrape_ms+=($(((c1 - c0) * 1000 / hz)))
  once_ms+=($( { /usr/bin/time -f '%U %S' "$bin/tcpdash" --once --json --processes=false >/dev/null; } 2>&1 | tail -1 | awk '{printf "%d", ($1 + $2) * 1000}'))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
s=$(median "${scrape_ms[@]}") o=$(median "${once_ms[@]}")
printf '  %-44s %6d ms CPU (median of %d)\n' "a scrape of tcpdash exporter" "$s" "$runs"
printf '  %-44s %6d ms CPU (median of %d)\n' "tcpdash --once --json --processes=false" "$o" "$runs"
echo "$s $o" | awk '{printf "  scrape / snapshot = %.2f\n", $1 / $2}'
printf '  exporter RSS over %d scrapes (KiB):' "$scrapes"
for ((i = 1; i <= scrapes; i++)); do
  curl -s 127.0.0.1:19478/metrics >/dev/null
  if ((i == 1 || i % (scrapes / 4) == 0)); then printf ' %d after %d;' "$(rss $exp)" "$i"; fi
done
echo
kill $exp
kill $(jobs -p) 2>/dev/null || true
INNER

"$bin/tcpload" --netns -- bash "$bin/measure.sh" "$bin" "$pairs" "$runs" "$scrapes"
