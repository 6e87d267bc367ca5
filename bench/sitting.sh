#!/usr/bin/env bash
# One benchmark sitting: ROUNDS rounds of (erlang, raw-socket, akka-remote, libcluster_net pingpong), interleaved so
# that the machine's noise spreads over all four, as shared/anchors/run_sitting.sh does for the anchors alone.
# Prints one result line per run, with the load average when it ended; full logs (stderr, profile lines) go to $LOG.
# Usage: bench/sitting.sh [ROUNDS] [ROUNDTRIPS] [STREAM_MESSAGES]      (defaults 3 20000 1000000)
# Env:   ANCHORS (default ../shared/anchors next to the repository), LOG, SKIP (e.g. "akka" or "erlang akka").
# The Erlang anchor needs erl and erlc: apt-get install -y erlang-base erlang-dev (Debian).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ANCHORS=${ANCHORS:-$repo/../shared/anchors}
ROUNDS=${1:-3}; RT=${2:-20000}; S=${3:-1000000}
LOG=${LOG:-/tmp/libcluster_sitting.$$.log}
SKIP=${SKIP:-}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# The anchors' folder may be read-only and their scripts build next to their sources: work in one private copy,
# built once up front so that no build overlaps a measurement.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$ANCHORS"/. "$work"/ && chmod -R u+w "$work"
echo "# log: $LOG" >&2
{
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr)"
  echo "# dotnet: $(dotnet --version) runtime $(dotnet --list-runtimes | awk '/NETCore.App/ {v=$2} END {print v}'); erlang: $(command -v erl >/dev/null && erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().' || echo missing)"
  if git -C "$repo" rev-parse --short HEAD >/dev/null 2>&1; then
    echo "# repository: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- src || echo ' + uncommitted changes in src/')"
  else
    echo "# repository: $repo (not a git checkout)"
  fi
} | tee -a "$LOG" >&2
(cd "$work/raw-socket" && dotnet build -c Release -v q -nologo -clp:NoSummary --disable-build-servers) >>"$LOG" 2>&1 || echo "raw-socket build failed (see $LOG)" >&2
(cd "$work/akka-remote" && dotnet build -c Release -v q -nologo -clp:NoSummary --disable-build-servers) >>"$LOG" 2>&1 || echo "akka-remote build failed (see $LOG)" >&2
dotnet publish "$here/LibCluster.Net.Benchmarks" -c Release -o "$work/lcbench" -v q -nologo --disable-build-servers >>"$LOG" 2>&1 || { echo "bench build failed (see $LOG)" >&2; exit 1; }

for r in $(seq 1 "$ROUNDS"); do
  for b in erlang raw akka libcluster; do
    case " $SKIP " in *" $b "*) continue ;; esac
    case $b in
      erlang) cmd=(timeout -k 5 300 bash "$work/erlang_dist_bench.sh" "$RT" "$S") ;;
      raw)    cmd=(bash "$work/raw-socket/run.sh" "$RT" "$S") ;;
      akka)   cmd=(bash "$work/akka-remote/run.sh" "$RT" "$S") ;;
      libcluster) cmd=(timeout -k 5 300 dotnet "$work/lcbench/LibCluster.Net.Benchmarks.dll" pingpong --roundtrips "$RT" --messages "$S") ;;
    esac
    if [ "$b" = erlang ] && ! command -v erl >/dev/null; then echo "round=$r erlang SKIPPED (no erl: apt-get install -y erlang-base erlang-dev)"; continue; fi
    echo "=== round $r $b $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOG"
    "${cmd[@]}" >"$LOG.out" 2>>"$LOG"; rc=$?
    cat "$LOG.out" >>"$LOG"
    line=$(grep -E '^(erlang_dist|raw_socket|akka_remote|libcluster_net) ' "$LOG.out" | head -1)
    echo "round=$r ${line:-$b FAILED rc=$rc} load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done
rm -f "$LOG.out"
echo "# extras (stderr lines):" >&2
grep -E '^(raw_socket_extra|akka_remote_extra|pingpong_profile|pingpong_extra) ' "$LOG" >&2
