#!/usr/bin/env bash
# `make fleet-demo` (README "Many hosts"): a fleet in miniature. Every bundled dataset stands for one
# host of a fleet: its snapshot/ (the host's rules and network) and captures/any.pcap (one capture
# window). Each host is replayed on its own — nothing is shared between hosts, so the replays run in
# parallel (xargs -P, one per core here; one per machine or per container in a real fleet) — and
# exported as Parquet into a folder of its own, as each machine would write and upload it. The
# folders hold disjoint host=NAME partitions, so they merge by copying into one tree (an object
# store prefix in a real fleet), which `tracereplay fleet` (or DuckDB, Spark, Trino) then reads as one.
#
# Variables: CLI (the built tracereplay), OUT (default out/fleet; replaced), HOSTS (dataset names),
# JOBS (parallel replays, default nproc).
set -euo pipefail
cd "$(dirname "$0")/../.."

CLI=${CLI:-src/TraceReplay.Cli/bin/Release/net10.0/linux-x64/tracereplay}
OUT=${OUT:-out/fleet}
HOSTS=${HOSTS:-docker-host docker-host-live home-router home-router-port-clash ipv6-host kubernetes-node l2-bridge raw-zone table-full}
JOBS=${JOBS:-$(nproc)}
[ -x "$CLI" ] || { echo "fleet-demo: $CLI not built (run make build)"; exit 1; }
CLI=$(realpath "$CLI")

case "$(realpath -m "$OUT")" in /|"$(pwd)") echo "fleet-demo: OUT=$OUT would remove too much"; exit 1 ;; esac
rm -rf "$OUT"
mkdir -p "$OUT/runs" "$OUT/parts"

# One job per host: replay the capture window (the snapshot's conntrack.txt is the table when the
# capture started: the replay starts from it), then export the run as that host's partitions.
host_job() {
  local name=$1 out=$2
  "$CLI" replay -q --host "datasets/$name/snapshot" "datasets/$name/captures/any.pcap" --out "$out/runs/$name.duckdb" >"$out/runs/$name.log" 2>&1 &&
    "$CLI" export "$out/runs/$name.duckdb" --parquet "$out/parts/$name" --host-name "$name" >>"$out/runs/$name.log" 2>&1 &&
    echo "  $name: $(grep -m1 '^Sightings:' "$out/runs/$name.log")" ||
    { echo "  $name: FAILED (see $out/runs/$name.log)"; return 1; }
}
export -f host_job
export CLI

echo "== replaying ${HOSTS// /, } ($JOBS at a time)"
start=$(date +%s.%N)
printf '%s\n' $HOSTS | xargs -P "$JOBS" -I{} bash -c 'host_job "$1" "$2"' _ {} "$OUT"
echo "   $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e - s}') s"

# The per-host folders are disjoint (TABLE/date=D/host=NAME/): merging them is a copy.
mkdir -p "$OUT/lake"
for name in $HOSTS; do cp -r "$OUT/parts/$name/." "$OUT/lake/"; done
echo "== one tree: $OUT/lake ($(find "$OUT/lake" -name '*.parquet' | wc -l) Parquet files)"
find "$OUT/lake/packets" -maxdepth 2 | sort | sed 's/^/   /' | head -12

q() { echo; echo "\$ tracereplay fleet query $OUT/lake \"$1\""; "$CLI" fleet query "$OUT/lake" "$1"; }
q "SELECT * FROM v_hosts"
q "SELECT host, verdict, count(DISTINCT packet_id) AS packets FROM packets GROUP BY ALL ORDER BY host, verdict"
q "SELECT host, count(*) AS nat_bindings, count(DISTINCT nat_addr) AS nat_addresses FROM nat_mappings GROUP BY host ORDER BY host"
# Rule numbers differ between hosts' rule sets; the rule's text (or the policy, or the kernel's reason) does not.
q "SELECT CASE WHEN rule_text IS NULL OR cause LIKE '%:policy' THEN cause ELSE rule_text END AS rule_or_reason, count(DISTINCT host) AS hosts, sum(packets) AS packets, string_agg(DISTINCT host, ', ' ORDER BY host) AS which FROM v_drops_by_rule GROUP BY ALL HAVING hosts > 1 ORDER BY hosts DESC, packets DESC"
echo; echo "\$ tracereplay fleet drops $OUT/lake"
"$CLI" fleet drops "$OUT/lake"
