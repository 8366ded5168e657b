#!/usr/bin/env bash
# Slurm for real on two nodes of this one machine (as root; CI runs it after `npm test`, which builds dist/):
#   1. installs Debian's slurm-wlm and munge (apt-get update first),
#   2. builds a two-node cluster: a bridge, two network namespaces on it, each with its own hostname (UTS
#      namespace) running one slurmd (`slurmd -N`); slurmctld and the reference backend in the root namespace,
#   3. runs a 3-shard replay (`launch slurm --shards 3 --per-node 2`: the shards on both nodes, the time
#      server on the first) against the backend and checks the merged run: both host names, measured
#      offsets to the time server, and the same requests, tokens and percentiles as one process replaying
#      the same trace (ids, tokens exactly; the merged percentiles exactly those of the union of the shards' raw rows),
#   4. runs a 4-chunk sweep as a job array and its dependent collect job, checks the result and the chunk
#      stores copied to the shared folder; then one whose chunk 1 fails: the collect job must not stay pending,
#   5. stops everything it started and removes the namespaces, the bridge and its folder.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
NODE_BIN="$(command -v node)"
SB="$NODE_BIN $ROOT/bin/splitbench.js"
fail() { echo "slurm.sh: FAIL: $*" >&2; exit 1; }
log() { echo "slurm.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || fail "must run as root (it installs Slurm, creates network namespaces and starts daemons)"
[ -f "$ROOT/dist/src/cli/main.js" ] || fail "build first (npm test or npx tsc -p .)"
command -v ip >/dev/null || fail "needs iproute2 (ip)"
command -v unshare >/dev/null || fail "needs util-linux (unshare)"

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null
fi

TAG=$(printf '%04x' $(( $$ % 65536 )))
O3=$(( 100 + $$ % 150 ))
NET=10.232.$O3
BR="sbbr$TAG"
NODES=("sb${TAG}n1" "sb${TAG}n2")
TMP="$(mktemp -d /tmp/splitbench-slurm.XXXXXX)"
chmod 755 "$TMP"
STARTED_MUNGE=0
SERVE_PID=""
cleanup() {
  set +e
  if command -v scancel >/dev/null && [ -n "${SLURM_CONF:-}" ]; then scancel --user=root >/dev/null 2>&1; sleep 1; fi
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null
  for f in "$TMP"/slurmd-*.pid "$TMP/slurmctld.pid"; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  sleep 1
  for f in "$TMP"/slurmd-*.pid "$TMP/slurmctld.pid"; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
  # Anything still running in a node's namespace (job steps, time servers) goes with it.
  for n in "${NODES[@]}"; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$n" 2>/dev/null
  done
  ip link del "$BR" 2>/dev/null
  if [ "$STARTED_MUNGE" = 1 ] && [ -f /run/munge/munged.pid ]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# 2. The network: a bridge with the controller's address, one namespace per node on it.
ip link add "$BR" type bridge
ip addr add "$NET.1/24" dev "$BR"
ip link set "$BR" up
i=0
for n in "${NODES[@]}"; do
  i=$((i + 1))
  ip netns add "$n"
  ip link add "v${TAG}h$i" type veth peer name "v${TAG}n$i"
  ip link set "v${TAG}h$i" master "$BR" up
  ip link set "v${TAG}n$i" netns "$n"
  ip -n "$n" link set lo up
  ip -n "$n" addr add "$NET.1$i/24" dev "v${TAG}n$i"
  ip -n "$n" link set "v${TAG}n$i" up
done

mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- munged --force
  STARTED_MUNGE=1
fi
mkdir -p "$TMP/state" "$TMP/shared" "$TMP/nodetmp"
for n in "${NODES[@]}"; do mkdir -p "$TMP/spool/$n"; done
HOST="$(hostname -s)"
cat > "$TMP/slurm.conf" <<EOF
ClusterName=splitbench
SlurmctldHost=$HOST($NET.1)
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SlurmdParameters=config_overrides
MailProg=/bin/true
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool/%n
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd-%n.pid
SlurmctldLogFile=$TMP/slurmctld.log
SlurmdLogFile=$TMP/slurmd-%n.log
ReturnToService=2
NodeName=${NODES[0]} NodeAddr=$NET.11 CPUs=4 RealMemory=4000 State=UNKNOWN
NodeName=${NODES[1]} NodeAddr=$NET.12 CPUs=4 RealMemory=4000 State=UNKNOWN
PartitionName=main Nodes=${NODES[0]},${NODES[1]} Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$TMP/slurm.conf"
slurmctld -f "$SLURM_CONF"
for n in "${NODES[@]}"; do
  # Its own network and its own host name: what the shard on it records as its host.
  nsenter --net="/run/netns/$n" unshare --uts sh -c "hostname $n && exec slurmd -N $n -f $SLURM_CONF" \
    || fail "slurmd of $n did not start: $(tail -5 "$TMP/slurmd-$n.log" 2>/dev/null)"
done
for i in $(seq 1 80); do
  [ "$(sinfo -h -N -o %T 2>/dev/null | grep -c '^idle$')" = 2 ] && break
  sleep 0.5
done
[ "$(sinfo -h -N -o %T | grep -c '^idle$')" = 2 ] || fail "two idle nodes expected: $(sinfo -N 2>&1) $(tail -5 "$TMP"/slurm*.log 2>/dev/null)"
log "slurm up: $(sinfo -h -N -o '%N(%T,%c cpus)' | tr '\n' ' ')"

wait_job() { # JOBID...: until squeue no longer lists them (at most 3 min)
  for i in $(seq 1 360); do
    [ -z "$(squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  fail "jobs $* did not finish: $(squeue)"
}

# 3. A 3-shard replay over both nodes against the reference backend in the root namespace.
$SB serve --deployment splitwise-hh --host "$NET.1" --port 18777 > "$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for i in $(seq 1 100); do grep -q 'listening on' "$TMP/serve.log" && break; sleep 0.2; done
grep -q 'listening on' "$TMP/serve.log" || fail "serve did not start: $(cat "$TMP/serve.log")"
URL="http://$NET.1:18777"
{
  echo 'request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size'
  for i in $(seq 0 23); do echo "$i,0,0,$(awk "BEGIN{print $i*0.2}"),1,$((128 + (i % 4) * 64)),8"; done
} > "$TMP/trace.csv"
export TMPDIR="$TMP/nodetmp" # jobs inherit it: node-local shard, chunk and merge stores land here
cd "$TMP"
$SB launch slurm --shards 3 --per-node 2 --cpus 1 --mem 500M --lead-s 10 --max-offset-ms 5 --splitbench "$SB" --shared-dir "$TMP/shared" --out "$TMP/run.db" --file "$TMP/shards.sbatch" \
  -- replay --trace "$TMP/trace.csv" --url "$URL"
JOB=$(sbatch --parsable "$TMP/shards.sbatch")
log "shard job $JOB submitted"
wait_job "$JOB"
cat "$TMP"/splitbench-replay-"$JOB".out >&2 || true
[ -f "$TMP/run.db" ] || fail "no merged store at --out"
[ -z "$(ls -A "$TMP/nodetmp")" ] || fail "the shard job left node-local files: $(ls -A "$TMP/nodetmp")"
grep -q "clock reference http://$NET.11:" "$TMP/splitbench-replay-$JOB.out" || fail "the time server did not run on the first node ($NET.11)"
# The same trace, one process, same backend: the reference for the merged run.
$SB replay --trace "$TMP/trace.csv" --url "$URL" --db "$TMP/one.db" --json > /dev/null || fail "one-process replay failed"
node -e '
const D = require(process.argv[3] + "/node_modules/better-sqlite3");
const db = new D(process.argv[1], { readonly: true });
const one = new D(process.argv[2], { readonly: true });
const bad = (m, x) => { console.error(m, JSON.stringify(x)); process.exit(1); };
const shards = db.prepare("SELECT shard_index, host, time_ref, offset_start_ms, offset_end_ms, late, file_sha256 FROM shards ORDER BY shard_index").all();
if (shards.length !== 3 || shards.some((s) => s.late !== 0 || !s.file_sha256)) bad("not 3 on-time shards:", shards);
const hosts = new Set(shards.map((s) => s.host));
if (hosts.size !== 2) bad("shards did not land on both nodes:", shards);
if (shards.some((s) => !/^http:\/\/[0-9.]+:\d+\/time$/.test(s.time_ref ?? "") || s.time_ref === process.argv[4] + "/time" || typeof s.offset_start_ms !== "number" || typeof s.offset_end_ms !== "number")) bad("offsets not measured against the time server:", shards);
const env = JSON.parse(db.prepare("SELECT env_json FROM runs").pluck().get());
if ([...env.hosts].sort().join() !== [...hosts].sort().join()) bad("merged run hosts:", env);
const rows = (d) => d.prepare("SELECT trace_id, status, prompt_tokens, output_tokens, tokens_received FROM requests ORDER BY trace_id").all();
const a = rows(db), b = rows(one);
if (JSON.stringify(a) !== JSON.stringify(b)) bad("merged requests differ from one process:", { merged: a, one: b });
if (a.length !== 24 || a.some((r) => r.status !== "ok")) bad("expected 24 ok requests:", a);
' "$TMP/run.db" "$TMP/one.db" "$ROOT" "$URL" || fail "merged replay does not match"
# Percentiles of the merged run are those of the union of the shards' own rows (nothing averaged).
mkdir -p "$TMP/union"
for f in "$TMP/shared"/*/shard-*.db; do cp "$f" "$TMP/union/"; done
$SB summary --db "$TMP/run.db" --json > "$TMP/merged.json"
$SB summary --db "$TMP/one.db" --json > "$TMP/one.json"
node -e '
const fs = require("fs");
const D = require(process.argv[4] + "/node_modules/better-sqlite3");
const m = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).result[0];
const ttfts = [];
for (const f of fs.readdirSync(process.argv[3])) {
  const db = new D(process.argv[3] + "/" + f, { readonly: true });
  ttfts.push(...db.prepare("SELECT ttft FROM requests WHERE ttft IS NOT NULL").pluck().all());
}
ttfts.sort((x, y) => x - y);
const q = (p) => { const h = (ttfts.length - 1) * p, lo = Math.floor(h); return ttfts[lo] + (h - lo) * ((ttfts[Math.ceil(h)] ?? ttfts[lo]) - ttfts[lo]); };
const got = JSON.stringify(m).match(/"ttft":\{[^}]*\}/)?.[0] ?? "";
const p50 = JSON.parse("{" + got + "}").ttft.p50;
if (ttfts.length !== 24 || Math.abs(p50 - q(0.5)) > 1e-9) { console.error("merged TTFT p50", p50, "union p50", q(0.5), got); process.exit(1); }
const one = JSON.parse(fs.readFileSync(process.argv[2], "utf8")).result[0];
if (m.counts.ok !== one.counts.ok) { console.error("ok counts", m.counts, one.counts); process.exit(1); }
console.error("slurm.sh: TTFT p50 merged " + (p50 * 1000).toFixed(2) + " ms (union of shard rows " + (q(0.5) * 1000).toFixed(2) + " ms); one process " + (JSON.parse("{" + (JSON.stringify(one).match(/"ttft":\{[^}]*\}/)?.[0] ?? "") + "}").ttft.p50 * 1000).toFixed(2) + " ms");
' "$TMP/merged.json" "$TMP/one.json" "$TMP/union" "$ROOT" || fail "merged percentiles are not those of the union"
log "3-shard replay on 2 nodes merged: 24 ok requests, same ids and tokens as one process, offsets measured"

# 4. A 4-chunk sweep as a job array, then the dependent collect job.
$SB launch slurm --chunks 4 --parallel 2 --cpus 1 --mem 500M --name sbsweep --splitbench "$SB" --shared-dir "$TMP/shared" --file "$TMP/sweep.sbatch" \
  -- sweep --trace coding --deployment splitwise-hh,baseline-h100,splitwise-aa,baseline-a100 --rates 1,3 --duration 10
OUT=$(bash "$TMP/sweep.sbatch")
log "$OUT"
JOBS=$(squeue -h -o %F | sort -u | tr '\n' ' ')
wait_job $JOBS
[ -f "$TMP/shared/sbsweep.result.json" ] || fail "no collected sweep result: $(cat "$TMP"/sbsweep-*.out 2>/dev/null | tail -20)"
node -e '
const fs = require("fs");
const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).result.result;
const deps = r.configs.map((c) => c.deployment).join();
if (deps !== "splitwise-hh,baseline-h100,splitwise-aa,baseline-a100" || r.configs.some((c) => c.points.length < 1)) { console.error(JSON.stringify(r)); process.exit(1); }
const dbs = new Set(r.configs.map((c) => c.db));
if (dbs.size !== 4) { console.error("expected one store per chunk:", [...dbs]); process.exit(1); }
for (const d of dbs) if (!d.startsWith(process.argv[2] + "/") || !fs.existsSync(d)) { console.error("chunk store not copied to the shared folder:", d); process.exit(1); }
' "$TMP/shared/sbsweep.result.json" "$TMP/shared" || fail "collected sweep is not 4 configurations from 4 copied chunk stores"
[ -z "$(ls "$TMP/nodetmp" | grep '\.db' || true)" ] || fail "node-local stores left behind: $(ls "$TMP/nodetmp")"
log "4-chunk sweep array collected: 4 configurations, chunk stores in the shared folder"

# A failed chunk: the collect job is cancelled (its dependency can never be met), not left pending.
cat > "$TMP/sb-fail1" <<EOF
#!/bin/sh
if [ "\${SLURM_ARRAY_TASK_ID:-}" = 1 ]; then echo "chunk 1 fails on purpose" >&2; exit 3; fi
exec $SB "\$@"
EOF
chmod +x "$TMP/sb-fail1"
$SB launch slurm --chunks 2 --cpus 1 --mem 500M --name sbfail --splitbench "$TMP/sb-fail1" --shared-dir "$TMP/shared" --file "$TMP/fail.sbatch" \
  -- sweep --trace coding --deployment splitwise-hh,baseline-h100 --rates 1 --duration 5
OUT=$(bash "$TMP/fail.sbatch")
MERGE_JOB=$(echo "$OUT" | sed -n 's/.*merge job \([0-9]*\).*/\1/p')
[ -n "$MERGE_JOB" ] || fail "no merge job id in: $OUT"
JOBS=$(squeue -h -o %F | sort -u | tr '\n' ' ')
wait_job $JOBS
[ ! -f "$TMP/shared/sbfail.result.json" ] || fail "a failed chunk still produced a collected result"
STATE=$(scontrol show job "$MERGE_JOB" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p')
[ "$STATE" = CANCELLED ] || fail "collect job $MERGE_JOB after a failed chunk: state '$STATE', expected CANCELLED ($(scontrol show job "$MERGE_JOB" 2>&1 | head -3))"
log "failed chunk: collect job $MERGE_JOB cancelled, not pending"
log "OK"
