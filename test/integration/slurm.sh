#!/usr/bin/env bash
# Slurm for real, on this one machine (as root; CI runs it after `npm test`, which builds dist/):
#   1. installs Debian's slurm-wlm and munge (apt-get update first if needed),
#   2. starts munged, slurmctld and slurmd with a single-node configuration in a temporary folder,
#   3. runs a 3-shard replay (`splitbench launch slurm --shards 3`: srun tasks, then the merge step)
#      against the reference backend and checks the merged run,
#   4. runs a 4-chunk sweep as a job array (`launch slurm --chunks 4 --parallel 2`, then the dependent
#      collect job) and checks the merged result,
#   5. stops everything it started and removes its folder.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SB="node $ROOT/bin/splitbench.js"
fail() { echo "slurm.sh: FAIL: $*" >&2; exit 1; }
log() { echo "slurm.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || fail "must run as root (it installs and starts Slurm)"
[ -f "$ROOT/dist/src/cli/main.js" ] || fail "build first (npm test or npx tsc -p .)"

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null; }
fi

TMP="$(mktemp -d /tmp/splitbench-slurm.XXXXXX)"
chmod 755 "$TMP"
STARTED_MUNGE=0
SERVE_PID=""
cleanup() {
  set +e
  if command -v scancel >/dev/null && [ -n "${SLURM_CONF:-}" ]; then scancel --user=root >/dev/null 2>&1; fi
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null
  for d in slurmd slurmctld; do
    [ -f "$TMP/$d.pid" ] && kill "$(cat "$TMP/$d.pid")" 2>/dev/null
  done
  sleep 1
  for d in slurmd slurmctld; do
    [ -f "$TMP/$d.pid" ] && kill -9 "$(cat "$TMP/$d.pid")" 2>/dev/null
  done
  if [ "$STARTED_MUNGE" = 1 ] && [ -f /run/munge/munged.pid ]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# 2. Daemons (the recipe of the scale-out notes: no systemd, no cgroups, no accounting).
mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- munged --force
  STARTED_MUNGE=1
fi
HOST="$(hostname -s)"
mkdir -p "$TMP/spool" "$TMP/state" "$TMP/shared" "$TMP/nodetmp"
export TMPDIR="$TMP/nodetmp"  # jobs inherit it: node-local shard and chunk stores land in this folder
cat > "$TMP/slurm.conf" <<EOF
ClusterName=splitbench
SlurmctldHost=$HOST(127.0.0.1)
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
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/slurmctld.log
SlurmdLogFile=$TMP/slurmd.log
ReturnToService=2
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=8 RealMemory=8000 State=UNKNOWN
PartitionName=main Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$TMP/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for i in $(seq 1 60); do
  [ "$(sinfo -h -N -o %T 2>/dev/null | head -1)" = idle ] && break
  sleep 0.5
done
[ "$(sinfo -h -N -o %T | head -1)" = idle ] || fail "slurmd did not come up: $(tail -5 "$TMP/slurmd.log" "$TMP/slurmctld.log" 2>/dev/null)"
log "slurm up ($(sinfo -h -N -o '%N %T %c'))"

wait_job() { # JOBID...: until squeue no longer lists them
  for i in $(seq 1 600); do
    [ -z "$(squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  fail "jobs $* did not finish: $(squeue)"
}

# 3. A 3-shard replay against the reference backend.
$SB serve --deployment splitwise-hh --host 127.0.0.1 --port 18777 > "$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for i in $(seq 1 100); do grep -q 'listening on' "$TMP/serve.log" && break; sleep 0.2; done
grep -q 'listening on' "$TMP/serve.log" || fail "serve did not start: $(cat "$TMP/serve.log")"
URL=http://127.0.0.1:18777
{
  echo 'request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size'
  for i in $(seq 0 23); do echo "$i,0,0,$(awk "BEGIN{print $i*0.2}"),1,$((128 + (i % 4) * 64)),8"; done
} > "$TMP/trace.csv"
cd "$TMP"
$SB launch slurm --shards 3 --cpus 1 --mem 500M --lead-s 10 --splitbench "$SB" --shared-dir "$TMP/shared" --out "$TMP/run.db" --file "$TMP/shards.sbatch" \
  -- replay --trace "$TMP/trace.csv" --url "$URL" --time-url "$URL"
JOB=$(sbatch --parsable "$TMP/shards.sbatch")
log "shard job $JOB submitted"
wait_job "$JOB"
cat "$TMP"/splitbench-replay-"$JOB".out >&2 || true
$SB summary --db "$TMP/run.db" --json > "$TMP/summary.json" || fail "no merged run in run.db"
node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0];
if (s.counts.ok !== 24) { console.error("merged run has", JSON.stringify(s.counts)); process.exit(1); }
' "$TMP/summary.json" || fail "merged replay is not 24 ok requests"
node -e '
const D = require(process.argv[2] + "/node_modules/better-sqlite3");
const db = new D(process.argv[1], { readonly: true });
const shards = db.prepare("SELECT shard_index, late, file_sha256 FROM shards ORDER BY shard_index").all();
const byShard = db.prepare("SELECT shard, count(*) AS n FROM requests GROUP BY shard ORDER BY shard").all();
if (shards.length !== 3 || shards.some((s) => s.late !== 0 || !s.file_sha256) || byShard.map((r) => r.n).join() !== "8,8,8") {
  console.error(JSON.stringify({ shards, byShard })); process.exit(1);
}
' "$TMP/run.db" "$ROOT" || fail "merged replay does not hold 3 on-time shards of 8 requests"
log "3-shard replay merged: 24 ok requests, shards 8/8/8"

# 4. A 4-chunk sweep as a job array, then the dependent collect job.
$SB launch slurm --chunks 4 --parallel 2 --cpus 1 --mem 500M --name sbsweep --splitbench "$SB" --shared-dir "$TMP/shared" --file "$TMP/sweep.sbatch" \
  -- sweep --trace coding --deployment splitwise-hh,baseline-h100,splitwise-aa,baseline-a100 --rates 1,3 --duration 10
OUT=$(bash "$TMP/sweep.sbatch")
log "$OUT"
JOBS=$(squeue -h -o %F | sort -u | tr '\n' ' ')
wait_job $JOBS
[ -f "$TMP/shared/sbsweep.result.json" ] || fail "no collected sweep result: $(cat "$TMP"/sbsweep-*.out 2>/dev/null | tail -20)"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).result;
const deps = r.configs.map((c) => c.deployment).join();
if (deps !== "splitwise-hh,baseline-h100,splitwise-aa,baseline-a100" || r.configs.some((c) => c.points.length < 1)) { console.error(JSON.stringify(r)); process.exit(1); }
const dbs = new Set(r.configs.map((c) => c.db));
if (dbs.size !== 4) { console.error("expected one store per chunk:", [...dbs]); process.exit(1); }
' "$TMP/shared/sbsweep.result.json" || fail "collected sweep is not 4 configurations from 4 chunks"
log "4-chunk sweep array collected: 4 configurations"
log "OK"
