#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying `credit submit` and for the tests.
#
#   scripts/slurm-local.sh start [STATE_DIR]   # prints the folder and `export SLURM_CONF=...`
#   scripts/slurm-local.sh status [STATE_DIR]
#   scripts/slurm-local.sh stop [STATE_DIR]
#
# `start` makes STATE_DIR (default: a new folder /tmp/credit-slurm.XXXXXX) holding everything:
# slurm.conf, a munge key, munged's socket, the daemons' state, spool, pid and log files, and
# `env` (source it: it sets SLURM_CONF). It starts munged, then slurmctld and slurmd (as root,
# in the foreground of their own sessions), on 127.0.0.1 ports that were free at start, so two
# clusters or a leftover one never collide. It returns when the node is idle, or fails with the
# log tail of the daemon that died. Jobs see the cluster through SLURM_CONF, which sbatch
# exports to them.
#
# `stop` cancels this cluster's jobs and ends only the daemons this script started, by the pids
# it recorded (checked against their command lines), then removes nothing: the logs stay for
# reading; delete STATE_DIR when done. Without STATE_DIR, stop and status use the folder of
# $SLURM_CONF when it is one of ours.
#
# With SLURM_LOCAL_OWNER_PID=PID, `start` also leaves a watcher that stops the cluster when
# process PID is gone (the test helpers use it, so a killed test run leaves no daemons).
#
# Needs slurm-wlm and munge (scripts/setup-slurm.sh installs them) and root.
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|status [STATE_DIR]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
cmd=$1
dir_arg=${2:-}
marker=.credit-slurm-local

find_sbin() {
    local name=$1
    command -v "$name" 2>/dev/null && return 0
    for d in /usr/sbin /sbin /usr/local/sbin; do
        [ -x "$d/$name" ] && { echo "$d/$name"; return 0; }
    done
    return 1
}

state_dir() {
    local d=$dir_arg
    if [ -z "$d" ] && [ -n "${SLURM_CONF:-}" ]; then
        d=$(dirname "$SLURM_CONF")
    fi
    if [ -z "$d" ] || [ ! -f "$d/$marker" ]; then
        echo "slurm-local: ${d:-no STATE_DIR given and SLURM_CONF unset}: not a folder made by '$0 start'; pass the folder that start printed" >&2
        exit 1
    fi
    (cd "$d" && pwd)
}

# The recorded pid of a daemon, if that process still runs with this cluster's folder on its
# command line (so a recycled pid is never touched).
live_pid() {
    local dir=$1 name=$2 pid
    [ -f "$dir/pids/$name" ] || return 1
    pid=$(cat "$dir/pids/$name")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/" || return 1
    echo "$pid"
}

free_ports() {
    # Two ports the kernel says are free now, bound at once so they differ.
    python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

log_tail() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "---- last lines of $f" >&2
        tail -n 25 "$f" >&2
    done
}

start_daemon() {
    # start_daemon NAME LOGFILE COMMAND...: run in its own session, record the pid.
    local dir=$1 name=$2 out=$3
    shift 3
    setsid "$@" </dev/null >>"$out" 2>&1 &
    echo $! >"$dir/pids/$name"
}

check_alive() {
    local dir=$1 name=$2
    shift 2
    if ! live_pid "$dir" "$name" >/dev/null; then
        echo "slurm-local: $name exited at start" >&2
        log_tail "$@"
        stop_all "$dir" >/dev/null 2>&1 || true
        exit 1
    fi
}

do_start() {
    local missing=()
    for b in munged slurmctld slurmd sbatch scontrol sinfo squeue; do
        find_sbin "$b" >/dev/null || missing+=("$b")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "slurm-local: ${missing[*]} not found; install Slurm and munge with scripts/setup-slurm.sh (Debian packages slurm-wlm and munge)" >&2
        exit 1
    fi
    [ "$(id -u)" -eq 0 ] || { echo "slurm-local: run as root (slurmd starts jobs as their users)" >&2; exit 1; }

    local dir
    if [ -n "$dir_arg" ]; then
        if [ -e "$dir_arg/$marker" ] && live_pid "$(cd "$dir_arg" && pwd)" slurmctld >/dev/null; then
            echo "slurm-local: a cluster already runs in $dir_arg; stop it first" >&2
            exit 1
        fi
        mkdir -p "$dir_arg"
        dir=$(cd "$dir_arg" && pwd)
    else
        dir=$(mktemp -d /tmp/credit-slurm.XXXXXX)
    fi
    chmod 700 "$dir"
    mkdir -p "$dir/pids" "$dir/log" "$dir/state" "$dir/spool" "$dir/munge"
    chmod 700 "$dir/munge"
    touch "$dir/$marker"

    local host ctl_port d_port mem cpus cluster
    host=$(hostname -s)
    mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    cpus=$(nproc)
    # Letters and digits of the folder's name, lower case (Slurm lowercases cluster names).
    cluster="credit-$(basename "$dir" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z' | tail -c 12)"

    # munge: its own key, socket, pid, seed and log, all in the folder.
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    start_daemon "$dir" munged "$dir/log/munged.out" "$(find_sbin munged)" --foreground --force \
        --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" \
        --log-file="$dir/log/munged.log"
    local i
    for i in $(seq 50); do
        [ -S "$dir/munge/munge.socket" ] && break
        live_pid "$dir" munged >/dev/null || break
        sleep 0.1
    done
    check_alive "$dir" munged "$dir/log/munged.log" "$dir/log/munged.out"

    # Ports free when chosen can be taken before the daemons bind them: retry on a clash.
    local attempt
    for attempt in 1 2 3; do
        read -r ctl_port d_port <<<"$(free_ports)"
        cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster for trying credit submit.
ClusterName=$cluster
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
        echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env"

        start_daemon "$dir" slurmctld "$dir/log/slurmctld.out" "$(find_sbin slurmctld)" -D -i -f "$dir/slurm.conf"
        for i in $(seq 100); do
            SLURM_CONF=$dir/slurm.conf scontrol ping 2>/dev/null | grep -q UP && break
            live_pid "$dir" slurmctld >/dev/null || break
            sleep 0.2
        done
        local state=
        if live_pid "$dir" slurmctld >/dev/null; then
            start_daemon "$dir" slurmd "$dir/log/slurmd.out" "$(find_sbin slurmd)" -D -N "$host" -f "$dir/slurm.conf"
            for i in $(seq 150); do
                state=$(SLURM_CONF=$dir/slurm.conf sinfo -h -n "$host" -o %t 2>/dev/null || true)
                [ "$state" = idle ] && break
                live_pid "$dir" slurmd >/dev/null && live_pid "$dir" slurmctld >/dev/null || break
                sleep 0.2
            done
        fi
        if [ "$state" != idle ] && [ "$attempt" -lt 3 ] \
            && cat "$dir"/log/slurm*.log "$dir"/log/slurm*.out 2>/dev/null | grep -q "Address already in use"; then
            echo "slurm-local: port $ctl_port or $d_port was taken meanwhile; choosing others" >&2
            stop_daemons "$dir" slurmd slurmctld >/dev/null
            for f in "$dir"/log/slurm*; do mv "$f" "$f.clash$attempt"; done
            rm -rf "$dir/state" && mkdir -p "$dir/state"
            continue
        fi
        break
    done
    check_alive "$dir" slurmctld "$dir/log/slurmctld.log" "$dir/log/slurmctld.out"
    check_alive "$dir" slurmd "$dir/log/slurmd.log" "$dir/log/slurmd.out"
    if [ "$state" != idle ]; then
        echo "slurm-local: node $host is '${state:-unknown}', not idle, after 30 s" >&2
        log_tail "$dir/log/slurmd.log" "$dir/log/slurmctld.log"
        stop_all "$dir" >/dev/null 2>&1 || true
        exit 1
    fi

    if [ -n "${SLURM_LOCAL_OWNER_PID:-}" ]; then
        local self
        self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
        setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -f "$3/pids/slurmctld" ]; do sleep 2; done; "$2" stop "$3"' \
            watcher "$SLURM_LOCAL_OWNER_PID" "$self" "$dir" </dev/null >>"$dir/log/watcher.out" 2>&1 &
        echo $! >"$dir/pids/watcher"
    fi

    echo "slurm-local: cluster $cluster up in $dir (slurmctld 127.0.0.1:$ctl_port, slurmd :$d_port, node $host idle)" >&2
    echo "slurm-local: stop it with: $0 stop $dir" >&2
    echo "export SLURM_CONF=$dir/slurm.conf"
}

stop_all() {
    local dir=$1 name pid any=0
    if live_pid "$dir" slurmctld >/dev/null; then
        # This cluster's jobs only: the client talks to this slurmctld alone.
        local jobs
        jobs=$(SLURM_CONF=$dir/slurm.conf squeue -h -o %A 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            SLURM_CONF=$dir/slurm.conf scancel $jobs 2>/dev/null || true
            for _ in $(seq 50); do
                [ -z "$(SLURM_CONF=$dir/slurm.conf squeue -h -o %A 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    stop_daemons "$dir" slurmd slurmctld munged
}

# stop_daemons DIR NAME...: TERM (then KILL after 5 s) the recorded, still-ours daemons.
stop_daemons() {
    local dir=$1 name pid any=0
    shift
    for name in "$@"; do
        if pid=$(live_pid "$dir" "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            any=1
            for _ in $(seq 50); do
                live_pid "$dir" "$name" >/dev/null || break
                sleep 0.1
            done
            if live_pid "$dir" "$name" >/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
            echo "slurm-local: stopped $name (pid $pid)"
        fi
        rm -f "$dir/pids/$name"
    done
    [ $any = 1 ] || echo "slurm-local: nothing was running in $dir"
    return 0
}

do_status() {
    local dir=$1 name pid down=0
    for name in munged slurmctld slurmd; do
        if pid=$(live_pid "$dir" "$name"); then
            echo "$name: running (pid $pid)"
        else
            echo "$name: not running"
            down=1
        fi
    done
    if [ $down = 0 ]; then
        echo "SLURM_CONF=$dir/slurm.conf"
        SLURM_CONF=$dir/slurm.conf sinfo 2>&1 || true
        SLURM_CONF=$dir/slurm.conf squeue 2>&1 || true
    fi
    return $down
}

case "$cmd" in
start) do_start ;;
stop)
    d=$(state_dir) || exit 1
    stop_all "$d"
    ;;
status)
    d=$(state_dir) || exit 1
    do_status "$d"
    ;;
*) usage ;;
esac
