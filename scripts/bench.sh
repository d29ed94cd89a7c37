#!/usr/bin/env bash
# `make bench` (issue 9): the whole pipeline as users run it, on a large generated capture, against the
# tools users would otherwise reach for on the very same file.
#
#   1. installs what is missing (root + apt-get): tcpdump, tshark, argus (argus-server), ra (argus-client)
#   2. writes the capture: `TraceReplay.Benchmarks generate` (DockerHostTraffic: docker-host under load,
#      each forwarded packet seen three times as `tcpdump -i any` records it)
#   3. times `tracereplay replay --host datasets/docker-host/snapshot FILE --out RUN.duckdb --stats`
#      (its own figures: packets/s, CPU ns and bytes allocated per sighting, peak RSS), then
#      `tcpdump -r FILE -w /dev/null` (the floor for reading the file), `tshark -r FILE -q -z conv,tcp`
#      and `argus -r FILE -w /dev/null`, each with GNU time, and prints each tool's time as a ratio to ours.
#      argus 3.0.8 cannot read LINUX_SLL2 (it says "unsupported device type 276" and exits 0): it is
#      tried on FILE and reported as failing, then timed on the same records rewritten as LINUX_SLL (v1).
#
# Variables: PACKETS (sightings, default 4,000,000), SNAPLEN (default 262144: full frames), FLOWS,
# RATE (real packets per second of capture time), BENCH_DIR (where the capture and run go; removed
# at the end unless KEEP=1), CLI and BENCH (the built programs; make passes the published CLI and the
# Release benchmarks).
# A tool that is missing or fails is reported as such, never given a made-up time.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKETS=${PACKETS:-4000000}
SNAPLEN=${SNAPLEN:-262144}
FLOWS=${FLOWS:-20000}
RATE=${RATE:-50000}
KEEP=${KEEP:-0}
CONFIG=${CONFIG:-Release}
# The published CLI (make publish: ReadyToRun, what make bench passes) when there is one, else the build.
CLI_DEFAULT=out/tracereplay/tracereplay
[ -x "$CLI_DEFAULT" ] || CLI_DEFAULT=src/TraceReplay.Cli/bin/$CONFIG/net10.0/linux-x64/tracereplay
CLI=${CLI:-$CLI_DEFAULT}
BENCH=${BENCH:-tests/TraceReplay.Benchmarks/bin/$CONFIG/net10.0/linux-x64/TraceReplay.Benchmarks}
SNAPSHOT=datasets/docker-host/snapshot
export PATH="$PATH:/usr/sbin:/sbin" # argus lives in /usr/sbin

say() { printf '%s\n' "$*"; }

# --- 1. tools ---------------------------------------------------------------------------------------
declare -A PKG_OF=([tcpdump]=tcpdump [tshark]=tshark [argus]=argus-server [ra]=argus-client [/usr/bin/time]=time)
missing=()
for tool in "${!PKG_OF[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${PKG_OF[$tool]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "bench: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "bench: missing ${missing[*]} (not root or no apt-get: those tools are reported as missing)"
  fi
fi
[ -x "$CLI" ] || { say "bench: $CLI not built (run make publish)"; exit 1; }
[ -x "$BENCH" ] || { say "bench: $BENCH not built (run make build)"; exit 1; }
command -v /usr/bin/time >/dev/null || { say "bench: GNU time (/usr/bin/time) is required"; exit 1; }

# --- 2. the capture ---------------------------------------------------------------------------------
own_dir=0
if [ -z "${BENCH_DIR:-}" ]; then BENCH_DIR=$(mktemp -d /tmp/tracereplay-bench.XXXXXX); own_dir=1; fi
mkdir -p "$BENCH_DIR"
cleanup() {
  if [ "$KEEP" != 1 ]; then
    rm -f "$BENCH_DIR/capture.pcap" "$BENCH_DIR/capture-sll1.pcap" "$BENCH_DIR/run.duckdb" "$BENCH_DIR"/*.log "$BENCH_DIR"/*.time
    rm -f "$BENCH_DIR/floor/floor.duckdb" "$BENCH_DIR/floor/floor.duckdb.wal"; rmdir "$BENCH_DIR/floor" 2>/dev/null || true
    [ "$own_dir" = 1 ] && rmdir "$BENCH_DIR" 2>/dev/null || true
  fi
}
trap cleanup EXIT
FILE=$BENCH_DIR/capture.pcap
SLL1=$BENCH_DIR/capture-sll1.pcap
say "== generating $PACKETS sightings, snaplen $SNAPLEN, $FLOWS concurrent flows, $RATE packets/s of capture time"
sll1=(); command -v argus >/dev/null && sll1=(--sll1 "$SLL1")
"$BENCH" generate --packets "$PACKETS" --snaplen "$SNAPLEN" --flows "$FLOWS" --rate "$RATE" --out "$FILE" "${sll1[@]}" | sed 's/^/  /'
cat "$FILE" >/dev/null # every tool then reads it from the page cache

# --- 3. the runs ------------------------------------------------------------------------------------
# timed NAME CMD...: runs CMD under GNU time; sets WALL[NAME], CPU[NAME], RSS[NAME] (MB) or FAIL[NAME].
declare -A WALL CPU RSS FAIL
timed() {
  local name=$1; shift
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then FAIL[$name]="missing: $1 not installed"; return; fi
  local log=$BENCH_DIR/$name.log tf=$BENCH_DIR/$name.time
  # argus reports errors (ArgusError) and still exits 0.
  if /usr/bin/time -o "$tf" -f '%e %U %S %M' "$@" >"$log" 2>&1 && ! grep -q 'ArgusError' "$log"; then
    read -r w u s m <"$tf"
    WALL[$name]=$w; CPU[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}'); RSS[$name]=$(awk -v m="$m" 'BEGIN{printf "%.0f", m/1024}')
  else
    FAIL[$name]="failed: $(grep -v '^Command exited' "$log" | grep -iv 'running as user' | tail -2 | tr '\n' ' ')"
  fi
}

say "== tracereplay replay --host $SNAPSHOT FILE --out RUN.duckdb --stats (load: $(cut -d' ' -f1-3 /proc/loadavg))"
rm -f "$BENCH_DIR/run.duckdb"
timed tracereplay "$CLI" replay -q --host "$SNAPSHOT" "$FILE" --out "$BENCH_DIR/run.duckdb" --stats
if [ -n "${FAIL[tracereplay]:-}" ]; then say "bench: tracereplay ${FAIL[tracereplay]}"; exit 1; fi
sed -n '/^Stats:/,$p' "$BENCH_DIR/tracereplay.log"
stat() { awk -F': ' -v k="  $1" '$1 == k {print $2}' "$BENCH_DIR/tracereplay.log"; }

say "== the same file with other tools (load: $(cut -d' ' -f1-3 /proc/loadavg))"
timed tcpdump tcpdump -r "$FILE" -w /dev/null
timed tshark tshark -r "$FILE" -q -z conv,tcp
timed argus argus -r "$FILE" -w /dev/null
[ -f "$SLL1" ] && { cat "$SLL1" >/dev/null; timed argus_sll1 argus -r "$SLL1" -w /dev/null; }

ours=${WALL[tracereplay]}
sightings=$(stat sightings)
say ""
say "$(printf '%-44s %9s %9s %12s %9s  %s' 'tool (same file)' 'wall s' 'CPU s' 'sightings/s' 'peak MB' 'ours / theirs: wall, CPU')"
row() {
  local name=$1 label=$2
  if [ -n "${FAIL[$name]:-}" ]; then printf '%-44s %s\n' "$label" "${FAIL[$name]}"; return; fi
  awk -v l="$label" -v w="${WALL[$name]}" -v c="${CPU[$name]}" -v m="${RSS[$name]}" -v n="$sightings" -v o="$ours" -v oc="${CPU[tracereplay]}" -v self="$([ "$name" = tracereplay ] && echo 1 || echo 0)" \
    'BEGIN { printf "%-44s %9.2f %9.2f %12.0f %9s  %s\n", l, w, c, (w > 0 ? n / w : 0), m, self ? "(ours)" : sprintf("%.2f, %s", (w > 0 ? o / w : 0), (c > 0 ? sprintf("%.2f", oc / c) : "-")) }'
}
row tracereplay "tracereplay replay --out RUN.duckdb"
row tcpdump "tcpdump -r FILE -w /dev/null (floor)"
row tshark "tshark -r FILE -q -z conv,tcp"
row argus "argus -r FILE -w /dev/null"
[ -f "$SLL1" ] && row argus_sll1 "argus, same records as LINUX_SLL v1"
say ""
say "tracereplay's own figures (--stats; from the snapshot load to the database's completion, runtime start excluded):"
say "  $(stat sightings) sightings = $(stat real_packets) real packets; $(stat sightings_per_second) sightings/s, $(stat real_packets_per_second) real packets/s (wall)"
say "  $(stat wall_ns_per_sighting) ns per sighting (wall), $(stat cpu_ns_per_sighting) ns per sighting (CPU), $(stat allocated_bytes_per_sighting) bytes allocated per sighting, peak RSS $(stat peak_rss_mb) MB"
say "  run database: $(du -m "$BENCH_DIR/run.duckdb" | cut -f1) MB; load average at the end $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
say "  phases: runtime start $(stat runtime_start_seconds) s (before the command), start-up $(stat startup_seconds) s wall / $(stat startup_cpu_seconds) s CPU (snapshot, host, database created),"
say "          replay loop $(stat replay_loop_seconds) s / $(stat replay_loop_cpu_seconds) s, tail $(stat tail_seconds) s / $(stat tail_cpu_seconds) s (Complete: rules, connections, commit)"
say "  CPU s by thread: simulate $(stat simulate_thread_cpu_seconds), receive $(stat receive_thread_cpu_seconds), writer $(stat writer_thread_cpu_seconds), other (JIT, GC, DuckDB's pool) $(stat other_threads_cpu_seconds)"
say "  in the loop, CPU ns per sighting: simulate $(stat simulate_thread_loop_cpu_ns_per_sighting), receive $(stat receive_thread_loop_cpu_ns_per_sighting), writer $(stat writer_thread_loop_cpu_ns_per_sighting), other $(stat other_threads_loop_cpu_ns_per_sighting)"
say "  (the simulate thread is the critical path: on free cores the loop takes about its CPU time, whatever the load was)"
say "(ratio above 1: we take longer. Wall times compare tools only on an idle machine; with other work running, compare CPU seconds)"

# --- 4. floors --------------------------------------------------------------------------------------
# What the targets are up against on this machine: DuckDB storing the run's own rows with nothing of ours
# around it (FloorRun), and reading the file (tcpdump above). Their CPU together, spread over every core,
# is the least wall time any replay of this file into DuckDB could take here.
say ""
say "== floors: DuckDB alone storing this run's rows ($BENCH floor --run RUN.duckdb --threads $(nproc))"
if "$BENCH" floor --run "$BENCH_DIR/run.duckdb" --threads "$(nproc)" --dir "$BENCH_DIR/floor" >"$BENCH_DIR/floor.log" 2>&1; then
  sed -n '/COMMIT + CHECKPOINT/,$p' "$BENCH_DIR/floor.log" | sed 's/^ */  /'
  store_cpu=$(awk '/all tables/ { for (i = 1; i <= NF; i++) if ($i == "CPU") { print $(i + 1); exit } }' "$BENCH_DIR/floor.log")
else
  say "  floor failed: $(tail -2 "$BENCH_DIR/floor.log" | tr '\n' ' ')"; store_cpu=
fi
if [ -n "${WALL[tcpdump]:-}" ] && [ -n "$store_cpu" ]; then
  awk -v s="$store_cpu" -v r="${CPU[tcpdump]}" -v tw="${WALL[tcpdump]}" -v n="$(nproc)" -v o="$ours" -v k="$sightings" 'BEGIN {
    least = (s + r) / n
    if (least <= 0 || tw <= 0) exit
    printf "  storing (%.2f CPU s) + reading as tcpdump does (%.2f CPU s), on %d cores and nothing else: at least %.2f s wall,\n", s, r, n, least
    printf "  %.1fx tcpdump'"'"'s wall and %.2f M sightings/s, before any simulation; ours: %.2f s (%.1fx)\n", least / tw, k / least / 1e6, o, o / tw
  }'
fi
