#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, then the tiny workflow through Snakemake's Slurm
# executor, checked against local runs:
#
#   tests/cluster/slurm_local.sh 2>&1 | tee /tmp/slurm_run.log        # as root
#
# For a Debian machine (written on Debian 12: Slurm 22.05, MariaDB 10.11). It installs slurm-wlm,
# slurmdbd, munge and mariadb-server with apt (their services are kept from starting) and
# snakemake-executor-plugin-slurm with pip, then starts munged, a private MariaDB, slurmdbd,
# slurmctld and slurmd with their state, logs and keys in one temporary directory and on free
# ports. It runs in a private mount namespace (unshare) where /etc/slurm and /run/munge are bind
# mounts of that directory, so the machine's own /etc/slurm is never written; without unshare it
# writes /etc/slurm/slurm.conf and slurmdbd.conf and puts back what was there. On exit (also on
# failure or Ctrl-C) it cancels its jobs, stops the daemons it started by their pids and removes
# the temporary directory; KEEP=1 keeps the directory (logs, results, slurm.conf) for a look.
#
# Runs, each in its own directory, from one frozen copy of the workflow:
#   local        snakemake --cores 2 --configfile config/tiny.yaml               (the reference)
#   slurm        snakemake --profile profiles/slurm-cpu --configfile config/tiny.yaml
#                -> every job went through sbatch (in sacct, COMPLETED); results equal local's
#   nproc2       the same plus tests/cluster/tiny_nproc2.yaml: resources.nproc 2 (torchrun,
#                gloo) with batch 4 per rank (= batch 8 of one process) -> equal to local's up
#                to float tolerance
#   fault-local  tiny + tests/cluster/tiny_fault.yaml (round 0 long enough to hit), locally
#   fault        the same through Slurm; round 0's training job is scancel'ed once it has
#                written checkpoint_0.pt.partial; the profile's `retries` resubmits it, it resumes
#                from the partial and the results equal fault-local's exactly
# Exit status 0 only if every check passed.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
SELF=$REPO/tests/cluster/$(basename "$0")
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || PY=python
[ "$(id -u)" = 0 ] || { echo "run as root (it installs packages and starts daemons)" >&2; exit 2; }
export SLURM_LOCAL_T0=${SLURM_LOCAL_T0:-$(date +%s)}
stamp() { printf '[%s +%4ds] %s\n' "$(date +%H:%M:%S)" "$(($(date +%s) - SLURM_LOCAL_T0))" "$*"; }

# ---------------------------------------------------------------------------------------------
# 1. Packages: the only lasting change to the machine.
if [ -z "${SLURM_LOCAL_NS:-}" ]; then
    stamp "install: slurm-wlm slurmdbd munge mariadb-server (apt), snakemake-executor-plugin-slurm (pip)"
    NEED=()
    for p in slurm-wlm slurmdbd munge mariadb-server; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || NEED+=("$p")
    done
    if [ ${#NEED[@]} -gt 0 ]; then
        # Keep the packages' postinst scripts from starting (and leaving behind) their services.
        ADDED_POLICY=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
            ADDED_POLICY=1
            trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        fi
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${NEED[@]}"
        if [ "$ADDED_POLICY" = 1 ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
    fi
    "$PY" -c 'import snakemake_executor_plugin_slurm' 2>/dev/null ||
        "$PY" -m pip install -q snakemake-executor-plugin-slurm
    # The rest runs in a private mount namespace (see the top of this file). Slurm's commands in
    # the jobs read /etc/slurm/slurm.conf: the executor drops SLURM_CONF from their environment.
    if unshare --mount --propagation private true 2>/dev/null; then
        SLURM_LOCAL_NS=1 exec unshare --mount --propagation private "$SELF" "$@"
    fi
    SLURM_LOCAL_NS=0
fi
stamp "installed: slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm), $(munged -V 2>&1 | head -1)," \
      "$("$PY" -m pip list 2>/dev/null | grep -i '^snakemake-executor-plugin-slurm ' | tr -s ' ')," \
      "snakemake $("$PY" -m snakemake --version), private mount namespace: $([ "$SLURM_LOCAL_NS" = 1 ] && echo yes || echo no)"

T=$(mktemp -d /tmp/slurm_local.XXXXXX)
chmod 755 "$T"
DAEMONS=()          # "name:pidfile", stopped in reverse order on exit
MOUNTS=()           # bind mounts made (private namespace only)
CREATED=()          # directories this script created outside $T, removed on exit
BACKUP=""           # /etc/slurm as it was, when there is no private namespace
SMK_PID=""

alive() {  # a process that exists and is not a zombie
    [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}
cleanup() {
    local rc=$?
    set +e
    trap - INT TERM
    if alive "$SMK_PID"; then  # Ctrl-C for Snakemake: it cancels its jobs and exits
        kill -INT "$SMK_PID"
        for _ in $(seq 150); do alive "$SMK_PID" || break; sleep 0.2; done
        alive "$SMK_PID" && kill -9 "$SMK_PID"
    fi
    if [ ${#DAEMONS[@]} -ge 5 ]; then scancel --user=root 2>/dev/null; sleep 1; fi  # this cluster's jobs
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        local name=${DAEMONS[i]%%:*} pidfile=${DAEMONS[i]#*:} pid
        pid=$(cat "$pidfile" 2>/dev/null) || continue
        alive "$pid" || continue
        kill "$pid"
        for _ in $(seq 100); do alive "$pid" || break; sleep 0.2; done
        if alive "$pid"; then kill -9 "$pid"; echo "stopped $name (pid $pid, SIGKILL)";
        else echo "stopped $name (pid $pid)"; fi
    done
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[i]}"; done
    if [ -n "$BACKUP" ]; then
        rm -f /etc/slurm/slurm.conf /etc/slurm/slurmdbd.conf
        cp -a "$BACKUP"/. /etc/slurm/
    fi
    for ((i = ${#CREATED[@]} - 1; i >= 0; i--)); do rm -rf "${CREATED[i]}"; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
    stamp "exit $rc"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local n=$1 what=$2; shift 2
    for _ in $(seq $((n * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "timed out waiting for $what" >&2; return 1
}

# ---------------------------------------------------------------------------------------------
# 2. The cluster: munged, MariaDB + slurmdbd (the accounting sacct reads), slurmctld, slurmd.
HOST=$(hostname -s)
CLUSTER=lightrnn-local
mkdir -p "$T/etc" "$T/log" "$T/munge" "$T/run-munge" "$T/mysql" "$T/slurmctld" "$T/slurmd"
chmod 700 "$T/munge"
for d in /etc/slurm /run/munge; do [ -d "$d" ] || { mkdir -p "$d" && CREATED+=("$d"); }; done
if [ "$SLURM_LOCAL_NS" = 1 ]; then
    mount --bind "$T/etc" /etc/slurm && MOUNTS+=(/etc/slurm)
    mount --bind "$T/run-munge" /run/munge && MOUNTS+=(/run/munge)
else
    if [ -S /run/munge/munge.socket.2 ]; then
        echo "a munged is already running on /run/munge/munge.socket.2: stop it first" >&2; exit 2
    fi
    BACKUP=$T/etc-slurm-backup && mkdir -p "$BACKUP" && cp -a /etc/slurm/. "$BACKUP"/
fi
CTLD_PORT=$(free_port); SLURMD_PORT=$(free_port); DBD_PORT=$(free_port); MYSQL_PORT=$(free_port)
NODE_LINE=$(slurmd -C | head -1)  # NodeName=HOST CPUs=... RealMemory=... as slurmd sees them
stamp "node: $NODE_LINE"

# munge: a fresh key of our own, on munged's default socket (Slurm's clients use that one)
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
munged --force --key-file "$T/munge/munge.key" --pid-file "$T/munge/munged.pid" \
    --log-file "$T/log/munged.log" --seed-file "$T/munge/munged.seed"
DAEMONS+=("munged:$T/munge/munged.pid")
wait_for 10 munged sh -c "munge -n | unmunge"

# MariaDB for slurmdbd: private data directory, 127.0.0.1 only
mariadb-install-db --no-defaults --user=root --datadir="$T/mysql" --auth-root-authentication-method=socket \
    > "$T/log/mariadb-install.log" 2>&1
mariadbd --no-defaults --user=root --datadir="$T/mysql" --socket="$T/mysql.sock" --port="$MYSQL_PORT" \
    --bind-address=127.0.0.1 --pid-file="$T/mysql.pid" --log-error="$T/log/mariadb.log" \
    --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 2>> "$T/log/mariadb.log" &
DAEMONS+=("mariadbd:$T/mysql.pid")
wait_for 60 mariadbd mariadb --no-defaults --socket="$T/mysql.sock" -e "select 1"
DBPASS=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
mariadb --no-defaults --socket="$T/mysql.sock" -e "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DBPASS';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"

cat > /etc/slurm/slurmdbd.conf <<END_DBD
AuthType=auth/munge
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$T/slurmdbd.pid
LogFile=$T/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$MYSQL_PORT
StorageUser=slurm
StoragePass=$DBPASS
StorageLoc=slurm_acct_db
END_DBD
chmod 600 /etc/slurm/slurmdbd.conf
cat > /etc/slurm/slurm.conf <<END_CONF
ClusterName=$CLUSTER
SlurmctldHost=$HOST
SlurmUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$T/slurmctld
SlurmdSpoolDir=$T/slurmd
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
KillWait=10
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
AccountingStoreFlags=job_comment
$NODE_LINE State=UNKNOWN
PartitionName=cpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
END_CONF
cp /etc/slurm/slurm.conf "$T/log/slurm.conf"

slurmdbd
DAEMONS+=("slurmdbd:$T/slurmdbd.pid")
wait_for 60 slurmdbd timeout 5 sacctmgr -i show cluster
sacctmgr -i add cluster "$CLUSTER" >/dev/null
sacctmgr -i add account lightrnn Description=lightrnn Organization=local >/dev/null
sacctmgr -i add user root Account=lightrnn DefaultAccount=lightrnn >/dev/null
slurmctld
DAEMONS+=("slurmctld:$T/slurmctld.pid")
slurmd
DAEMONS+=("slurmd:$T/slurmd.pid")
wait_for 60 "the node to be idle" sh -c 'sinfo -h -o %t | grep -qx idle'
stamp "cluster up; slurm.conf:"
grep -E '^(NodeName|PartitionName|Accounting|JobAcct|SelectType)' /etc/slurm/slurm.conf | sed 's/^/  /'
sinfo

# ---------------------------------------------------------------------------------------------
# 3. The workflow runs.
WF=$T/wf   # a frozen copy of the workflow: its code hashes stay fixed while the tree is edited
"$PY" - "$REPO" "$WF" <<'END_PY'
import shutil, sys
from pathlib import Path
src, dest = Path(sys.argv[1]), Path(sys.argv[2])
dest.mkdir(parents=True)
ignore = shutil.ignore_patterns("__pycache__", "*.so", "build", ".snakemake")
for name in ("Snakefile", "pipeline", "config", "profiles", "envs", "lightrnn", "cpp"):
    if (src / name).is_dir():
        shutil.copytree(src / name, dest / name, ignore=ignore)
    else:
        shutil.copy2(src / name, dest / name)
END_PY
cp "$REPO"/tests/cluster/tiny_*.yaml "$WF/config/"
TINY=$WF/config/tiny.yaml
PROFILE=$WF/profiles/slurm-cpu
CMP=("$PY" "$REPO/tests/cluster/compare_results.py")
FAILED=()
CHECK=""
TIMES=("set-up (packages, cluster up): $(($(date +%s) - SLURM_LOCAL_T0)) s")
check() { if "$@"; then return 0; fi; FAILED+=("$CHECK"); echo "CHECK FAILED: $CHECK"; return 1; }

RUN_LIMIT=${RUN_LIMIT:-1200}  # seconds a run may take before it is stopped (Ctrl-C) as failed
smk() {  # smk NAME ARGS...: one run in $T/NAME, its output in $T/log/run-NAME.log
    local name=$1 start; start=$(date +%s); shift
    stamp "run $name: snakemake $*"
    if timeout --signal=INT --kill-after=60 "$RUN_LIMIT" \
            "$PY" -m snakemake --snakefile "$WF/Snakefile" --directory "$T/$name" "$@" > "$T/log/run-$name.log" 2>&1; then
        stamp "run $name: done in $(($(date +%s) - start)) s"
        TIMES+=("$name: $(($(date +%s) - start)) s")
    else
        stamp "run $name: FAILED after $(($(date +%s) - start)) s; end of its log:"; tail -40 "$T/log/run-$name.log"
        FAILED+=("run $name"); return 1
    fi
}

# Jobs of a run as Slurm accounted them: every job of the workflow but the target rule `all`
# (a localrule) must have been submitted with sbatch and be in sacct, COMPLETED; no attempt may
# have failed, and exactly EXPECTED_CANCELLED attempts were cancelled (then resubmitted).
SACCT_FMT=JobIDRaw,JobName%36,Comment%32,Partition,AllocCPUS,State,ExitCode,Elapsed
check_sacct() {  # check_sacct RUN EXPECTED_CANCELLED
    local log=$T/log/run-$1.log subs total jobs attempts ids completed cancelled other
    subs=$(grep -o 'Job [0-9]* has been submitted with SLURM jobid [0-9]*' "$log" || true)
    total=$(grep -o 'of [0-9]* steps (100%) done' "$log" | tail -1 | awk '{print $2}')
    jobs=$(printf '%s\n' "$subs" | awk 'NF {print $2}' | sort -u | wc -l)   # Snakemake jobs submitted
    attempts=$(printf '%s\n' "$subs" | awk 'NF' | wc -l)                      # sbatch calls
    ids=$(printf '%s\n' "$subs" | awk 'NF {print $NF}' | paste -sd,)
    if [ -n "$ids" ]; then sacct -X -j "$ids" --format="$SACCT_FMT" | tee "$T/log/sacct-$1.txt";
    else : > "$T/log/sacct-$1.txt"; fi
    completed=$(grep -c ' COMPLETED ' "$T/log/sacct-$1.txt" || true)
    cancelled=$(grep -c ' CANCELLED' "$T/log/sacct-$1.txt" || true)
    other=$(($(tail -n +3 "$T/log/sacct-$1.txt" | wc -l) - completed - cancelled))
    echo "run $1: ${total:-?} jobs in the workflow, the target rule 'all' run by Snakemake itself;" \
         "$jobs jobs submitted with sbatch in $attempts attempts; sacct: $completed COMPLETED," \
         "$cancelled CANCELLED, $other otherwise"
    CHECK="$1: every job went through sbatch and is COMPLETED in sacct ($2 attempts cancelled, none failed)"
    check [ -n "$total" ] && check [ "$jobs" = "$((total - 1))" -a "$completed" = "$jobs" \
            -a "$cancelled" = "$2" -a "$other" = 0 -a "$attempts" = "$((jobs + $2))" ] || true
}

# 3a. the local reference
smk local --cores 2 --configfile "$TINY" || true

# 3b. the same through Slurm
if smk slurm --profile "$PROFILE" --configfile "$TINY"; then
    check_sacct slurm 0
    CHECK="slurm == local (exact)"
    check "${CMP[@]}" "$T/local/results-tiny" "$T/slurm/results-tiny" || true
fi

# 3c. training and reallocation data-parallel: 2 processes (torchrun, gloo) in each job
if smk nproc2 --profile "$PROFILE" --configfile "$TINY" "$WF/config/tiny_nproc2.yaml"; then
    check_sacct nproc2 0
    echo "first line of each training / reallocation log:"
    for f in "$T"/nproc2/results-tiny/logs/{train,realloc}_*.log; do
        echo "  $(basename "$f"): $(head -1 "$f" | cut -c1-150) ..."
    done
    CHECK="nproc2: training and reallocation ran under torchrun --nproc_per_node 2"
    check [ "$(grep -l -- '--nproc_per_node 2' "$T"/nproc2/results-tiny/logs/{train,realloc}_*.log | wc -l)" = 3 ] || true
    # What tests/test_distributed.py promises: the same streams and averaged gradients as one
    # process, so the same results up to float reduction order. Left out: the metrics' training
    # loss (rank 0 reports its own shard's), and the solver's search statistics (arcs, pricing
    # rounds: losses 1e-7 apart take another path to the same table; the tables are compared).
    # Weights: atol 1e-4 (two rounds of Adam; the distributed test allows 1e-5 after one SGD epoch).
    CHECK="nproc2 == local (float tolerance)"
    check "${CMP[@]}" --rtol 1e-4 --atol 1e-4 --ignore train_loss --ignore train_ppl --ignore arcs \
        --ignore pricing_rounds "$T/local/results-tiny" "$T/nproc2/results-tiny" || true
fi

# 3d. a fault under the scheduler: scancel round 0's training once it has written a partial
# checkpoint; the profile's `retries: 1` resubmits the job and it resumes from the partial.
FAULT_CFG=("$TINY" "$WF/config/tiny_fault.yaml")
smk fault-local --cores 2 --configfile "${FAULT_CFG[@]}" || true
stamp "run fault: snakemake --profile $PROFILE --configfile ${FAULT_CFG[*]} (round 0 cancelled mid-job)"
start=$(date +%s)
timeout --signal=INT --kill-after=60 "$RUN_LIMIT" \
    "$PY" -m snakemake --snakefile "$WF/Snakefile" --directory "$T/fault" --profile "$PROFILE" \
    --configfile "${FAULT_CFG[@]}" > "$T/log/run-fault.log" 2>&1 &
SMK_PID=$!
PARTIAL=$T/fault/results-tiny/train/checkpoint_0.pt.partial
CANCELLED=""
while alive "$SMK_PID"; do
    if [ -e "$PARTIAL" ]; then
        sleep "${CANCEL_AFTER:-2}"  # seconds after the first partial checkpoint: well into the epoch
        CANCELLED=$(squeue -h -o '%i %k' | awk '/rule_train_round0/ {print $1}' | head -1)
        if [ -n "$CANCELLED" ]; then
            stamp "fault: $(basename "$PARTIAL") written ${CANCEL_AFTER:-2} s ago; scancel $CANCELLED (train_round0)"
            scancel "$CANCELLED"
            break
        fi
    fi
    sleep 0.05
done
if wait "$SMK_PID"; then
    stamp "run fault: done in $(($(date +%s) - start)) s"
    TIMES+=("fault: $(($(date +%s) - start)) s")
else
    stamp "run fault: FAILED after $(($(date +%s) - start)) s; end of its log:"; tail -40 "$T/log/run-fault.log"
    FAILED+=("run fault")
fi
SMK_PID=""
CHECK="fault: a training job was cancelled mid-job"; check [ -n "$CANCELLED" ] || true
check_sacct fault 1
grep -E "SLURM-job '$CANCELLED' failed|Trying to restart" "$T/log/run-fault.log" | sed 's/^ */  snakemake: /' || true
echo "  the resubmitted job's training log: $(grep -h 'resuming' "$T/fault/results-tiny/logs/train_0.log" || echo 'no resume line')"
CHECK="fault: the resubmitted job resumed from the partial checkpoint"
check grep -q "resuming .*checkpoint_0.pt.partial" "$T/fault/results-tiny/logs/train_0.log" || true
CHECK="fault == fault-local, uninterrupted (exact)"
check "${CMP[@]}" "$T/fault-local/results-tiny" "$T/fault/results-tiny" || true

# ---------------------------------------------------------------------------------------------
stamp "summary"
printf '  wall time %s\n' "${TIMES[@]}"
if [ ${#FAILED[@]} -eq 0 ]; then echo "ALL CHECKS PASSED"; else printf 'FAILED: %s\n' "${FAILED[@]}"; exit 1; fi
