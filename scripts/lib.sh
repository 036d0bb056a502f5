# Shared by the benchmark scripts: build the binaries, and hold a large
# population with several tcpload workers (one process may hold 20,000
# open files here).

# release_build OUT PKG: go build as the release is built.
release_build() {
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1" "$2"
}

# prepare: from the repository root, build tcpdash and tcpload into a
# temporary directory $bin, removed when the script exits.
prepare() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  bin=$(mktemp -d)
  trap 'rm -rf "$bin"' EXIT
  # Built as scripts/package.sh builds the release (static, stripped):
  # what users run. A default build links libc and costs 5 ms more a start.
  release_build "$bin/tcpdash" .
  release_build "$bin/tcpdash-exporter" ./cmd/tcpdash-exporter
  go build -o "$bin/tcpload" ./cmd/tcpload
  cp scripts/lib.sh "$bin/"
}

# hold_population BIN PAIRS PROCS: ESTABLISHED pairs in tcpload workers of
# 9,000 each, on their own server ports, plus idle processes up to PROCS
# processes in all; returns once every worker holds its sockets.
hold_population() {
  start_workers "$1" "$2"
  local j
  for ((j = WORKERS; j < $3; j++)); do sleep 86400 & done
}

start_workers() {
  local bin=$1 pairs=$2 per=9000 started=0 i=0 n j
  while ((started < pairs)); do
    n=$((pairs - started < per ? pairs - started : per))
    "$bin/tcpload" --established "$n" --dests 8 --base-port $((20000 + i * 300)) 2>"$bin/worker$i.log" &
    started=$((started + n)) i=$((i + 1))
  done
  for ((j = 0; j < i; j++)); do
    until grep -q holding "$bin/worker$j.log" 2>/dev/null; do
      grep -q error "$bin/worker$j.log" 2>/dev/null && { cat "$bin/worker$j.log" >&2; return 1; }
      sleep 0.2
    done
  done
  WORKERS=$i
}

# need PACKAGES TOOL...: exits, naming the Debian packages to install, if
# a tool is missing.
need() {
  local packages=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install $packages" >&2; exit 1; }
  done
}

# cpu PID: the CPU time (user + system) of a process so far, in clock
# ticks (hz of them a second); rss PID: its resident memory in KiB.
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
