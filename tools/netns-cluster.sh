#!/usr/bin/env bash
# A cluster in one box: N "machines" as Linux network namespaces joined by a
# bridge, each with its own address, for the tests and benchmarks of training on
# several machines. The machines share this machine's file system (as an NFS
# model folder would). Each has a host name of its own (NAME-I) and an
# /etc/hosts as a default Debian or Ubuntu machine has one, its own name on
# loopback (127.0.1.1), plus the other machines' names and addresses, as a
# cluster's DNS gives them (ip netns exec mounts /etc/netns/NAME-I/hosts on
# /etc/hosts). Needs root, iproute2 and util-linux's unshare.
#
#   tools/netns-cluster.sh up NAME N [RATE]   # machines NAME-1 .. NAME-N at 10.77.0.1 .. 10.77.0.N
#                                             # (RATE: each machine's link shaped with tc, e.g. 1gbit)
#   tools/netns-cluster.sh exec NAME I COMMAND [ARGS...]   # runs COMMAND on machine I
#   tools/netns-cluster.sh down NAME          # removes the machines and the bridge (also half-made ones)
#
# NAME: at most 8 characters (interface names are limited to 15). Clusters of
# different names do not see each other, so their addresses may repeat.
set -euo pipefail

usage() {
  sed -n '11,14p' "$0" >&2
  exit 2
}

need() {
  if [[ "$(id -u)" != 0 ]]; then
    echo "netns-cluster: making network namespaces needs root" >&2
    exit 1
  fi
  if ! command -v ip > /dev/null; then
    echo "netns-cluster: the ip command is missing; apt-get install iproute2" >&2
    exit 1
  fi
}

down() {
  local name="$1" ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${name}-[0-9]+$" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "${name}-br" 2>/dev/null || true
  rm -rf /etc/netns/"${name}"-[0-9]*
}

up() {
  local name="$1" count="$2" rate="${3:-}" i j
  if ((${#name} > 8)) || [[ ! "$name" =~ ^[a-z][a-z0-9]*$ ]]; then
    echo "netns-cluster: NAME must be 1 to 8 lowercase letters and digits, got '$name'" >&2
    exit 2
  fi
  if [[ ! "$count" =~ ^[0-9]+$ ]] || ((count < 1 || count > 250)); then
    echo "netns-cluster: N must be 1 to 250, got '$count'" >&2
    exit 2
  fi
  down "$name"
  # A failure half-way leaves nothing behind.
  trap 'status=$?; if ((status != 0)); then down "$name"; fi' EXIT
  if ! ip link add "${name}-br" type bridge 2>/tmp/netns-cluster.$$; then
    echo "netns-cluster: cannot make a bridge: $(cat /tmp/netns-cluster.$$) (a container without CAP_NET_ADMIN?)" >&2
    rm -f /tmp/netns-cluster.$$
    exit 1
  fi
  rm -f /tmp/netns-cluster.$$
  ip link set "${name}-br" up
  for ((i = 1; i <= count; i++)); do
    ip netns add "${name}-${i}"
    ip link add "${name}-h${i}" type veth peer name eth0 netns "${name}-${i}"
    ip link set "${name}-h${i}" master "${name}-br" up
    ip -n "${name}-${i}" address add "10.77.0.${i}/24" dev eth0
    ip -n "${name}-${i}" link set eth0 up
    ip -n "${name}-${i}" link set lo up
    mkdir -p "/etc/netns/${name}-${i}"
    {
      printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "${name}-${i}"
      for ((j = 1; j <= count; j++)); do
        if ((j != i)); then printf '10.77.0.%d\t%s\n' "$j" "${name}-${j}"; fi
      done
    } > "/etc/netns/${name}-${i}/hosts"
    if [[ -n "$rate" ]]; then
      ip netns exec "${name}-${i}" tc qdisc add dev eth0 root tbf rate "$rate" burst 256kb latency 50ms
    fi
  done
}

(($# >= 2)) || usage
command="$1"
name="$2"
shift 2
case "$command" in
  up) (($# >= 1)) || usage; need; up "$name" "$@" ;;
  down) need; down "$name" ;;
  exec)
    (($# >= 2)) || usage
    index="$1"
    shift
    # The machine's own host name, in a UTS namespace of its own; the
    # process keeps its PID through both execs (signals reach it).
    exec ip netns exec "${name}-${index}" unshare --uts sh -c 'hostname "$0" && exec "$@"' "${name}-${index}" "$@"
    ;;
  *) usage ;;
esac
