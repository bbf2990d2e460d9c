#!/usr/bin/env bash
# vtund-peer.sh - the real vtund (Debian package vtun, 3.0.4) as a test peer inside a network
# namespace, server or client, from a vtund.conf this script writes.
#
#   vtund-peer.sh server|client --netns NS [options]   start; prints the PID file's path
#   vtund-peer.sh server|client [options] --dry-run    print the vtund.conf, start nothing
#   vtund-peer.sh stop PIDFILE                         stop that instance and all its children
#   vtund-peer.sh --help
#
# Each instance gets a fresh work directory (the PID file's directory, in $BATS_TEST_TMPDIR when
# run by a bats test, else in $TMPDIR or /tmp): vtund.conf, vtund.log (vtund -n logs to stderr
# too), vtund.pid. The PID in vtund.pid leads a process group that holds
# vtund, its per-session children and its `up` commands; it exits when vtund exits, and
# `kill -KILL -- -PID` ends all of them. A --lifetime (default 600 s) bounds every instance even
# when nobody stops it.
#
# vtund writes /var/run/vtund.*.pid and, for `multi no|killold`, lock files in /var/lock/vtund:
# each instance runs in its own mount namespace with a private tmpfs on /run, so the host's /run
# never changes and instances never see each other's files.
set -euo pipefail

PROG=${0##*/}

usage() {
  cat <<'EOF'
usage: vtund-peer.sh server|client --netns NS [options]
       vtund-peer.sh stop PIDFILE

options (the server decides proto, type, encrypt, compress and whether keep-alive is on; a
client's values only choose its own up {} commands):
  --netns NS             network namespace to run in (must exist)
  --session NAME         session name                           (default vtpeer)
  --password PW          shared password                        (default vtpeer-secret)
  --proto tcp|udp        transport                              (default tcp)
  --type tun|ether|tty|pipe                                     (default tun)
  --encrypt no|yes|CIPHER  yes = blowfish128ecb; CIPHER: oldblowfish128ecb,
                         blowfish{128,256}{ecb,cbc,cfb,ofb}, aes{128,256}{ecb,cbc,cfb,ofb}
  --compress no|zlib:N|lzo:N                                    (default no)
  --keepalive yes|no|INTERVAL:COUNT                             (default yes)
  --local-ip ADDR[/LEN]  this end's tunnel address, set by up {} (tun: with --remote-ip as peer;
                         ether: LEN defaults to 24)
  --remote-ip ADDR       the other end's tunnel address
  --server-addr ADDR     client: the server to connect to; server: the address to listen on
  --ipv6                 IPv6 transport (vtund -6); --server-addr is then from 2001:2::/48.
                         vtund.conf takes no IPv6 literal in bindaddr: a server listens on
                         every address of its namespace
  --port PORT            TCP port                               (default 5000)
  --multi yes|no|killold server: a second connection for a connected session
  --timeout SECONDS      vtund's timeout option
  --device NAME, --mtu N the tunnel device's name and MTU
  --persist              client: reconnect after the session ends (vtund -p)
  --extra-option LINE    a raw line for options {}           (repeatable)
  --extra-session LINE   a raw line for the session          (repeatable)
  --extra-up LINE        a raw line at the end of up {}      (repeatable)
  --keep-ipv6            leave IPv6 on the tunnel device (see below)
  --openssl-legacy       load OpenSSL's legacy provider: Debian's vtund needs it for the Blowfish
                         EVP ciphers (yes, blowfish*), or it crashes after OK FLAGS
  --lifetime SECONDS     kill vtund after this long             (default 600)
  --wait-tunnel SECONDS  return only once --local-ip is on this end's device and it is up
                         (needs --local-ip)
  --dry-run              print the vtund.conf on stdout and exit

By default up {} first disables IPv6 on the new device: vtund writes every packet it receives to
its device while its own up {} commands still run, and a packet for a device that is not up yet
(an IPv6 router solicitation of the peer's fresh device, typically) ends the session.
Addresses must be in 198.18.0.0/15 (the server's in 2001:2::/48 with --ipv6).
EOF
}

fail() { echo "$PROG: $*" >&2; exit 2; }
note() { echo "$PROG: $*" >&2; }

# -------------------------------------------------------------------------------------- stop

# A process that exists and is no zombie.
alive() { [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

stop_instance() {
  local pidfile=$1 pid i
  [[ -f $pidfile ]] || fail "stop: no PID file $pidfile"
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || fail "stop: $pidfile holds no PID"
  # TERM to the whole group: `timeout` passes it on to vtund, which ends its session(s) in order
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  # whatever is left of the group (session children, up commands) does not get a second chance
  kill -KILL -- "-$pid" 2>/dev/null || true
  return 0
}

# -------------------------------------------------------------------------------------- options

MODE=${1:-}
case $MODE in
  -h | --help) usage; exit 0 ;;
  stop) [[ $# -eq 2 ]] || fail "usage: $PROG stop PIDFILE"; stop_instance "$2"; exit 0 ;;
  server | client) shift ;;
  *) usage >&2; exit 2 ;;
esac

NETNS='' SESSION=vtpeer PASSWORD=vtpeer-secret PROTO=tcp TYPE=tun ENCRYPT=no COMPRESS=no
KEEPALIVE=yes LOCAL_IP='' REMOTE_IP='' SERVER_ADDR='' PORT=5000 MULTI='' TIMEOUT='' DEVICE=''
MTU='' PERSIST=0 IPV6=0 KEEP_IPV6=0 LEGACY=0 LIFETIME=600 WAIT_TUNNEL=0 DRY_RUN=0
EXTRA_OPTION=() EXTRA_SESSION=() EXTRA_UP=()

while [[ $# -gt 0 ]]; do
  opt=$1
  case $opt in
    --persist) PERSIST=1; shift; continue ;;
    --keep-ipv6) KEEP_IPV6=1; shift; continue ;;
    --ipv6) IPV6=1; shift; continue ;;
    --openssl-legacy) LEGACY=1; shift; continue ;;
    --dry-run) DRY_RUN=1; shift; continue ;;
    -h | --help) usage; exit 0 ;;
  esac
  [[ $# -ge 2 ]] || fail "$opt needs a value"
  val=$2
  shift 2
  case $opt in
    --netns) NETNS=$val ;;
    --session) SESSION=$val ;;
    --password) PASSWORD=$val ;;
    --proto) PROTO=$val ;;
    --type) TYPE=$val ;;
    --encrypt) ENCRYPT=$val ;;
    --compress) COMPRESS=$val ;;
    --keepalive) KEEPALIVE=$val ;;
    --local-ip) LOCAL_IP=$val ;;
    --remote-ip) REMOTE_IP=$val ;;
    --server-addr) SERVER_ADDR=$val ;;
    --port) PORT=$val ;;
    --multi) MULTI=$val ;;
    --timeout) TIMEOUT=$val ;;
    --device) DEVICE=$val ;;
    --mtu) MTU=$val ;;
    --lifetime) LIFETIME=$val ;;
    --wait-tunnel) WAIT_TUNNEL=$val ;;
    --extra-option) EXTRA_OPTION+=("$val") ;;
    --extra-session) EXTRA_SESSION+=("$val") ;;
    --extra-up) EXTRA_UP+=("$val") ;;
    *) fail "unknown option $opt (see --help)" ;;
  esac
done

# ----------------------------------------------------------------------------------- validation

# vtund's lexer: a session name is a word that is not one of its keywords, and "HOST: NAME\n" has
# to fit the 48 characters of an authentication block.
VTUND_KEYWORDS=" options default up down port srcaddr addr iface bindaddr persist multi timeout
  passwd password program speed compress encrypt type proto keepalive stat syslog ip ifconfig
  ifcfg route firewall ppp device nat_hack delay_udp sslauth ipv4 ipv6 "
[[ $SESSION =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{0,40}$ ]] || fail "--session \"$SESSION\" (expected 1-41 of A-Z a-z 0-9 _ -)"
[[ $VTUND_KEYWORDS != *[[:space:]]"$SESSION"[[:space:]]* ]] || fail "--session \"$SESSION\" is a vtund.conf keyword"
[[ $PASSWORD =~ ^[A-Za-z0-9_.@%+=~-]+$ ]] || fail "--password: use letters, digits and . @ % + = ~ - _ (it must be one vtund.conf word)"
[[ $PROTO == tcp || $PROTO == udp ]] || fail "--proto \"$PROTO\" (expected tcp or udp)"
[[ $TYPE =~ ^(tun|ether|tty|pipe)$ ]] || fail "--type \"$TYPE\" (expected tun, ether, tty or pipe)"
[[ $ENCRYPT =~ ^(no|yes|oldblowfish128ecb|(blowfish|aes)(128|256)(ecb|cbc|cfb|ofb))$ ]] || fail "--encrypt \"$ENCRYPT\" (see --help)"
[[ $COMPRESS =~ ^(no|(zlib|lzo):[1-9])$ ]] || fail "--compress \"$COMPRESS\" (expected no, zlib:N or lzo:N)"
[[ $KEEPALIVE =~ ^(yes|no|[0-9]+:[0-9]+)$ ]] || fail "--keepalive \"$KEEPALIVE\" (expected yes, no or INTERVAL:COUNT)"
[[ -z $MULTI || $MULTI =~ ^(yes|no|killold)$ ]] || fail "--multi \"$MULTI\" (expected yes, no or killold)"
for n in PORT LIFETIME WAIT_TUNNEL; do [[ ${!n} =~ ^[0-9]+$ ]] || fail "--${n,,} \"${!n}\" is not a number"; done
[[ -z $TIMEOUT || $TIMEOUT =~ ^[0-9]+$ ]] || fail "--timeout \"$TIMEOUT\" is not a number"
[[ -z $MTU || $MTU =~ ^[0-9]+$ ]] || fail "--mtu \"$MTU\" is not a number"
[[ -z $DEVICE || $DEVICE =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || fail "--device \"$DEVICE\" is not an interface name"
in_test_range() { [[ ${1%/*} =~ ^198\.1[89]\.[0-9]{1,3}\.[0-9]{1,3}$ ]]; }
# 2001:2::/48: the first three groups are 2001, 2 and 0 (written out or folded into "::")
in_test_range6() { [[ ${1,,} =~ ^2001:0{0,3}2:(0{1,4}:|:)[0-9a-f:]*$ ]]; }
for n in LOCAL_IP REMOTE_IP; do
  [[ -z ${!n} ]] || in_test_range "${!n}" || fail "${n,,} \"${!n}\" is outside 198.18.0.0/15, the only range tests may use"
done
if ((IPV6)); then
  [[ -z $SERVER_ADDR ]] || in_test_range6 "$SERVER_ADDR" || fail "server_addr \"$SERVER_ADDR\" is outside 2001:2::/48, the only IPv6 range tests may use"
else
  [[ -z $SERVER_ADDR ]] || in_test_range "$SERVER_ADDR" || fail "server_addr \"$SERVER_ADDR\" is outside 198.18.0.0/15, the only range tests may use"
fi
[[ $MODE == server || -n $SERVER_ADDR ]] || fail "a client needs --server-addr"
[[ $TYPE != tun || -z $LOCAL_IP || -n $REMOTE_IP ]] || fail "--type tun with --local-ip needs --remote-ip"
((WAIT_TUNNEL == 0)) || [[ -n $LOCAL_IP ]] || fail "--wait-tunnel needs --local-ip"

# ------------------------------------------------------------------------------------ vtund.conf

IP_BIN=$(command -v ip || echo /sbin/ip)
SYSCTL_BIN=$(command -v sysctl || echo /sbin/sysctl)

write_conf() {
  echo "options {"
  echo "  port $PORT;"
  echo "  ip $IP_BIN;"
  [[ -n $TIMEOUT ]] && echo "  timeout $TIMEOUT;"
  [[ $MODE == server && -n $SERVER_ADDR ]] && ((!IPV6)) && echo "  bindaddr { addr $SERVER_ADDR; };"
  local l
  for l in ${EXTRA_OPTION[@]+"${EXTRA_OPTION[@]}"}; do echo "  $l"; done
  echo "}"
  echo "$SESSION {"
  echo "  passwd $PASSWORD;"
  echo "  type $TYPE;"
  echo "  proto $PROTO;"
  echo "  compress $COMPRESS;"
  echo "  encrypt $ENCRYPT;"
  echo "  keepalive $KEEPALIVE;"
  echo "  stat no;"
  [[ -n $MULTI ]] && echo "  multi $MULTI;"
  [[ -n $DEVICE ]] && echo "  device $DEVICE;"
  for l in ${EXTRA_SESSION[@]+"${EXTRA_SESSION[@]}"}; do echo "  $l"; done
  echo "  up {"
  if [[ $TYPE == tun || $TYPE == ether ]]; then
    ((KEEP_IPV6)) || echo "    program $SYSCTL_BIN \"-q -w net.ipv6.conf.%d.disable_ipv6=1\" wait;"
    if [[ -n $LOCAL_IP && $TYPE == tun ]]; then
      echo "    ip \"addr add ${LOCAL_IP%/*} peer ${REMOTE_IP%/*} dev %d\";"
    elif [[ -n $LOCAL_IP ]]; then
      local cidr=$LOCAL_IP
      [[ $cidr == */* ]] || cidr=$cidr/24
      echo "    ip \"addr add $cidr dev %d\";"
    fi
    echo "    ip \"link set %d${MTU:+ mtu $MTU} up\";"
  fi
  for l in ${EXTRA_UP[@]+"${EXTRA_UP[@]}"}; do echo "    $l"; done
  echo "  };"
  echo "}"
}

if ((DRY_RUN)); then
  write_conf
  exit 0
fi

# ----------------------------------------------------------------------------------------- start

[[ $(id -u) -eq 0 ]] || fail "must run as root (namespaces, tun/tap devices)"
command -v vtund >/dev/null || fail "vtund is not installed (apt-get install vtun)"
[[ -n $NETNS ]] || fail "--netns is required"
[[ -e /run/netns/$NETNS ]] || fail "no network namespace \"$NETNS\""

# inside the running bats test's directory when there is one (bats removes it afterwards)
WORK=$(mktemp -d -p "${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}" "vtund-peer.$MODE.$SESSION.XXXXXX")
CONF=$WORK/vtund.conf LOG=$WORK/vtund.log PIDFILE=$WORK/vtund.pid
write_conf >"$CONF"
chmod 600 "$CONF"

OPENSSL_ENV=()
if ((LEGACY)); then
  cat >"$WORK/openssl.cnf" <<'EOF'
# the default provider plus the legacy one, which has Blowfish
openssl_conf = init
[init]
providers = providers
[providers]
default = on
legacy = on
[on]
activate = 1
EOF
  OPENSSL_ENV=(env "OPENSSL_CONF=$WORK/openssl.cnf")
fi

ARGS=(-n -f "$CONF")
((IPV6)) && ARGS+=(-6)
if [[ $MODE == server ]]; then
  ARGS+=(-s -P "$PORT")
else
  ((PERSIST)) && ARGS+=(-p)
  ARGS+=(-P "$PORT" "$SESSION" "$SERVER_ADDR")
fi

# One chain of exec()s, so the PID below stays the same process from setsid down to timeout:
#   setsid (new process group, led by this PID) -> ip netns exec -> unshare --mount (own /run)
#   -> sh (tmpfs on /run, /run/lock/vtund for `multi`) -> [env OPENSSL_CONF] -> timeout -> vtund
# timeout relays TERM to vtund and ends with it.
# shellcheck disable=SC2016 # expanded by the inner shell
setsid ip netns exec "$NETNS" unshare --mount --propagation private -- \
  sh -c 'mount -t tmpfs -o mode=0755 vtund-run /run && mkdir -p /run/lock/vtund && exec "$@"' sh \
  ${OPENSSL_ENV[@]+"${OPENSSL_ENV[@]}"} timeout -k 3 "$LIFETIME" vtund "${ARGS[@]}" \
  </dev/null >"$LOG" 2>&1 &
PID=$!
echo "$PID" >"$PIDFILE"
# the process group is what stop and the tests kill: it must be led by PID. The background child
# calls setsid() only once it has exec'd setsid(1); on a loaded machine that takes a moment, so
# poll (bounded) instead of reading the group once.
pgid_of() { ps -o pgid= -p "$1" 2>/dev/null | tr -d ' '; }
for _ in $(seq 1 100); do
  PGID=$(pgid_of "$PID")
  [[ -z $PGID || $PGID == "$PID" ]] && break
  sleep 0.05
done
[[ -z $PGID || $PGID == "$PID" ]] || { kill -KILL "$PID"; fail "vtund did not get its own process group"; }

# wait_until SECONDS CHECK...: poll; fail early when vtund is gone.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    if ! alive "$PID"; then
      note "vtund ($MODE, $SESSION) exited; its log:"
      cat "$LOG" >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      note "vtund ($MODE, $SESSION) not ready; its log:"
      cat "$LOG" >&2
      stop_instance "$PIDFILE"
      exit 1
    fi
    sleep 0.1
  done
}
listening() { ip netns exec "$NETNS" ss -Hltn "sport = :$PORT" | grep -q LISTEN; }
# the address on a device that is up: up {} adds the address before `link set up`, and a ping in
# between finds no route ("Network is unreachable")
has_tunnel_addr() {
  local addr=${LOCAL_IP%/*}
  ip -n "$NETNS" -o -4 addr show up | grep -qE " inet ${addr//./\\.}[/ ]"
}

[[ $MODE == client ]] || wait_until 10 listening
((WAIT_TUNNEL == 0)) || wait_until "$WAIT_TUNNEL" has_tunnel_addr
echo "$PIDFILE"
