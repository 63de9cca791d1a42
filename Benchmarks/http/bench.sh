#!/usr/bin/env bash
# HTTP data-plane benchmark: target-allocator vs nginx and h2o serving the same SD body.
#
#   Benchmarks/http/bench.sh            (make bench-http)
#
# What it does:
#   1. builds target-allocator in release (unless TA_BIN points at a binary);
#   2. writes a realistic snapshot (1 job x COLLECTORS collectors x TARGETS targets, ~11 labels each),
#      starts our server on it and fetches /jobs/<job>/targets?collector_id=collector-0 with curl
#      (no Accept-Encoding, so the identity body): that exact file is what nginx and h2o serve at the same path;
#   3. runs our server, nginx (1 worker) and h2o (1 thread) on 127.0.0.1 high ports, all pinned to SERVER_CPU,
#      with a self-signed P-256 certificate for TLS; the load generator is pinned to CLIENT_CPU;
#   4. for each scenario runs the three servers one after the other (order rotates each round), and prints
#      a markdown table of requests/s, the ratio against the anchor, the target, PASS/FAIL and p99 latency.
#
# Environment (defaults in brackets):
#   DURATION [10]  seconds measured per run      WARMUP [2]  seconds of warm-up before each run
#   ROUNDS [1]     rounds; the table shows the best of the rounds for each server (noise only ever slows a run down)
#   LAT_DURATION [3]  seconds of the separate h2load --log-file run used for the h2 p99 (0 = skip)
#   SCENARIOS ["h1 h2c-m100 h2c-m1 tls-h2-m100 tls-h2-m1"]   (also available: tls-h1)
#   H1_CONNS [50]  COLLECTORS [3]  SERVER_CPU [0]  CLIENT_CPU [1]
#   TARGETS        targets per collector; unset: one run per entry of SIZES ["10 100"], i.e. a 5.8 KB
#                  answer (a collector's usual answer per job) and a 58 KB one, each with its own table
#   CONN_MEMORY [1]  after the table, memory per idle plain/TLS/h2c and per stalled connection (conn-memory.py)
#   TA_BIN         use this target-allocator binary instead of building one
#   SWIFT_SCRATCH  scratch path for the release build (default: SwiftPM's .build)
#   NGINX_SENDFILE [off]  KEEP [0] keep the work directory (logs, configs, per-run output)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
ROUNDS="${ROUNDS:-1}"
LAT_DURATION="${LAT_DURATION:-3}"
SCENARIOS="${SCENARIOS:-h1 h2c-m100 h2c-m1 tls-h2-m100 tls-h2-m1}"
H1_CONNS="${H1_CONNS:-50}"
COLLECTORS="${COLLECTORS:-3}"
SIZES="${SIZES:-10 100}"
CONN_MEMORY="${CONN_MEMORY:-1}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
NGINX_SENDFILE="${NGINX_SENDFILE:-off}"
KEEP="${KEEP:-0}"
JOB="kubernetes-pods"
URL_PATH="/jobs/$JOB/targets"
QUERY="?collector_id=collector-0"

log() { echo "[bench] $*" >&2; }
die() { echo "[bench] error: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------- dependencies
ensure_packages() {
  local missing=() p
  for p in nginx-light h2o wrk nghttp2-client openssl curl python3; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # Any nginx flavour will do.
  if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v nginx >/dev/null; then
    missing=("${missing[@]/nginx-light}")
  fi
  local want=()
  for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
  [ ${#want[@]} -eq 0 ] && return 0
  log "installing: ${want[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y --no-install-recommends "${want[@]}" >/tmp/bench-http-apt.log 2>&1; then
    $sudo apt-get update >/tmp/bench-http-apt.log 2>&1
    $sudo apt-get install -y --no-install-recommends "${want[@]}" >>/tmp/bench-http-apt.log 2>&1 ||
      { cat /tmp/bench-http-apt.log >&2; exit 1; }
  fi
}
ensure_packages
"$repo/scripts/ensure-deps.sh" build
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs; server and client will share a core"

# ---------------------------------------------------------------------------- our binary
if [ -z "${TA_BIN:-}" ]; then
  scratch=()
  [ -n "${SWIFT_SCRATCH:-}" ] && scratch=(--scratch-path "$SWIFT_SCRATCH")
  log "building target-allocator (release)…"
  (cd "$repo" && swift build -c release "${scratch[@]}" --product target-allocator >&2)
  TA_BIN="$(cd "$repo" && swift build -c release "${scratch[@]}" --show-bin-path)/target-allocator"
fi
[ -x "$TA_BIN" ] || die "no executable at $TA_BIN"

# Without TARGETS: one whole run (servers, checks, table) per answer size, same binary.
if [ -z "${TARGETS:-}" ]; then
  status=0
  for size in $SIZES; do
    TARGETS="$size" TA_BIN="$TA_BIN" "${BASH_SOURCE[0]}" || status=1
  done
  exit $status
fi

# ---------------------------------------------------------------------------- work dir, cleanup
work="$(mktemp -d /tmp/bench-http.XXXXXX)"
chmod 755 "$work"   # nginx and h2o workers drop to nobody when started as root
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

used_ports=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    [[ "$used_ports" == *" $p "* ]] && continue
    ss -ltnH "sport = :$p" 2>/dev/null | grep -q . && continue
    used_ports+="$p "
    echo "$p"
    return
  done
}
P_OURS=$(free_port); P_OURS_TLS=$(free_port)
P_NGX_H1=$(free_port); P_NGX_H2C=$(free_port); P_NGX_TLS=$(free_port)
P_H2O=$(free_port); P_H2O_TLS=$(free_port)

wait_http() { # url [curl args…]
  local url="$1"; shift
  for _ in $(seq 1 150); do
    curl -ksf -o /dev/null "$@" "$url" && return 0
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------------------- inputs
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 644 "$work/key.pem"
python3 "$here/gen-snapshot.py" "$work/snapshot.json" "$JOB" "$COLLECTORS" "$TARGETS"

# ---------------------------------------------------------------------------- servers
taskset -c "$SERVER_CPU" "$TA_BIN" --snapshot-file "$work/snapshot.json" \
  --listen-addr "127.0.0.1:$P_OURS" --enable-https-server --listen-addr-https "127.0.0.1:$P_OURS_TLS" \
  --https-tls-cert-file "$work/cert.pem" --https-tls-key-file "$work/key.pem" \
  --event-loop-threads 1 --log-level warning >"$work/ours.log" 2>&1 &
pids+=($!); PID_OURS=$!
wait_http "http://127.0.0.1:$P_OURS$URL_PATH$QUERY" || { cat "$work/ours.log" >&2; die "target-allocator did not come up"; }
curl -sS --http1.1 -o "$work/body.json" -D "$work/ours.headers" "http://127.0.0.1:$P_OURS$URL_PATH$QUERY"
grep -qi '^content-encoding' "$work/ours.headers" && die "our server compressed the body although nobody asked"
chmod 644 "$work/body.json"
BODY_BYTES=$(stat -c %s "$work/body.json")
GROUPS_N=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/body.json")

mkdir -p "$work/nginx-tmp"
sed -e "s|@DIR@|$work|g" -e "s|@PATH@|$URL_PATH|g" -e "s|@PORT_H1@|$P_NGX_H1|g" -e "s|@PORT_H2C@|$P_NGX_H2C|g" \
  -e "s|@PORT_TLS@|$P_NGX_TLS|g" -e "s|@SENDFILE@|$NGINX_SENDFILE|g" "$here/nginx.conf.in" >"$work/nginx.conf"
taskset -c "$SERVER_CPU" nginx -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf" >"$work/nginx.out" 2>&1 &
pids+=($!); PID_NGINX=$!
h2o_user=""   # as root h2o would drop to nobody, which cannot write its logs here
[ "$(id -u)" -eq 0 ] && h2o_user="user: root"
sed -e "s|@DIR@|$work|g" -e "s|@PATH@|$URL_PATH|g" -e "s|@PORT_PLAIN@|$P_H2O|g" -e "s|@PORT_TLS@|$P_H2O_TLS|g" \
  -e "s|@USER@|$h2o_user|" "$here/h2o.conf.in" >"$work/h2o.conf"
taskset -c "$SERVER_CPU" h2o -c "$work/h2o.conf" >"$work/h2o.out" 2>&1 &
pids+=($!); PID_H2O=$!
wait_http "http://127.0.0.1:$P_NGX_H1$URL_PATH$QUERY" || { cat "$work/nginx.out" "$work/nginx-error.log" >&2; die "nginx did not come up"; }
wait_http "http://127.0.0.1:$P_H2O$URL_PATH$QUERY" || { cat "$work/h2o.out" "$work/h2o-error.log" >&2; die "h2o did not come up"; }

# Every server must send the very same bytes, uncompressed, over every protocol used below.
check_same() { # name url curl-args…
  local name="$1" url="$2"; shift 2
  curl -ksS "$@" -o "$work/check.body" -D "$work/check.headers" "$url" || die "$name: request failed"
  cmp -s "$work/check.body" "$work/body.json" || die "$name: body differs from ours ($url)"
  grep -qi '^content-encoding' "$work/check.headers" && die "$name: compressed response"
  grep -qi '^content-type: application/json' "$work/check.headers" || die "$name: content-type is not application/json"
  echo "$name $(head -1 "$work/check.headers" | tr -d '\r') header-bytes=$(stat -c %s "$work/check.headers")" >>"$work/checks.txt"
}
check_same "ours h1" "http://127.0.0.1:$P_OURS$URL_PATH$QUERY" --http1.1
check_same "ours h2c" "http://127.0.0.1:$P_OURS$URL_PATH$QUERY" --http2-prior-knowledge
check_same "ours tls" "https://127.0.0.1:$P_OURS_TLS$URL_PATH$QUERY" --http2
check_same "nginx h1" "http://127.0.0.1:$P_NGX_H1$URL_PATH$QUERY" --http1.1
check_same "nginx h2c" "http://127.0.0.1:$P_NGX_H2C$URL_PATH$QUERY" --http2-prior-knowledge
check_same "nginx tls" "https://127.0.0.1:$P_NGX_TLS$URL_PATH$QUERY" --http2
check_same "h2o h1" "http://127.0.0.1:$P_H2O$URL_PATH$QUERY" --http1.1
check_same "h2o h2c" "http://127.0.0.1:$P_H2O$URL_PATH$QUERY" --http2-prior-knowledge
check_same "h2o tls" "https://127.0.0.1:$P_H2O_TLS$URL_PATH$QUERY" --http2
[ "$(grep -c "tls HTTP/2 200" "$work/checks.txt")" = 3 ] || { cat "$work/checks.txt" >&2; die "TLS did not negotiate h2 everywhere"; }

# ---------------------------------------------------------------------------- load
url_for() { # server scenario
  local s="$1" sc="$2"
  case "$sc" in
    h1 | h2c-*)
      case "$s" in
        ours) echo "http://127.0.0.1:$P_OURS$URL_PATH$QUERY" ;;
        nginx) [ "$sc" = h1 ] && echo "http://127.0.0.1:$P_NGX_H1$URL_PATH$QUERY" || echo "http://127.0.0.1:$P_NGX_H2C$URL_PATH$QUERY" ;;
        h2o) echo "http://127.0.0.1:$P_H2O$URL_PATH$QUERY" ;;
      esac ;;
    tls-*)
      case "$s" in
        ours) echo "https://127.0.0.1:$P_OURS_TLS$URL_PATH$QUERY" ;;
        nginx) echo "https://127.0.0.1:$P_NGX_TLS$URL_PATH$QUERY" ;;
        h2o) echo "https://127.0.0.1:$P_H2O_TLS$URL_PATH$QUERY" ;;
      esac ;;
  esac
}

HZ=$(getconf CLK_TCK)

# p99 in ms from an h2load --log-file (3rd column: µs until end of response).
p99_of_log() {
  awk -F'\t' '$2 == 200 { c[$3]++; n++ } END { for (k in c) print k, c[k]; print "N", n }' "$1" |
    sort -k1,1n | awk '$1 == "N" { next } { a[NR] = $1; b[NR] = $2; n += $2 } END {
      want = n * 0.99; s = 0; for (i = 1; i <= NR; i++) { s += b[i]; if (s >= want) { printf "%.2f", a[i] / 1000; exit } }
      print "-" }'
}

# One measured run. Prints "rps p99ms srv% cli% errors".
# CPU time (clock ticks) used so far by a server: its process (all threads) and its child processes.
server_ticks() { # server
  local root p t=0
  case "$1" in ours) root=$PID_OURS ;; nginx) root=$PID_NGINX ;; h2o) root=$PID_H2O ;; esac
  for p in $root $(ps -o pid= --ppid "$root" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] || continue
    # fields after "(comm)": state is $1, utime $12, stime $13
    t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
  done
  echo "$t"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# One measured run. Prints "rps p99ms server-µs/req server-core-% errors".
run_one() { # server scenario round
  local s="$1" sc="$2" r="$3" url out rps p99 err t0 t1 w0 w1 n lp
  url="$(url_for "$s" "$sc")"
  out="$work/run.$sc.$s.$r.txt"
  local -a cmd
  case "$sc" in
    h1 | tls-h1) cmd=(wrk -t1 -c"$H1_CONNS") ;;
    h2c-m100 | tls-h2-m100) cmd=(h2load -t1 -c10 -m100) ;;
    h2c-m1 | tls-h2-m1) cmd=(h2load -t1 -c50 -m1) ;;
    *) die "unknown scenario $sc" ;;
  esac
  if [ "${cmd[0]}" = wrk ]; then
    taskset -c "$CLIENT_CPU" "${cmd[@]}" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true
    t0=$(server_ticks "$s"); w0=$(now_ms)
    taskset -c "$CLIENT_CPU" "${cmd[@]}" -d"${DURATION}s" --latency "$url" >"$out" 2>&1 || true
    t1=$(server_ticks "$s"); w1=$(now_ms)
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    n=$(awk '/requests in/ { print $1 }' "$out")
    p99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
             m = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1; printf "%.2f", v * m }' "$out")
    err=$(awk '/Non-2xx|Socket errors/ { printf "%s ", $0 }' "$out")
  else
    # CPU is sampled from the end of the warm-up to the end of the run.
    taskset -c "$CLIENT_CPU" "${cmd[@]}" -D "$DURATION" --warm-up-time "$WARMUP" "$url" >"$out" 2>&1 &
    lp=$!
    sleep "$WARMUP"
    t0=$(server_ticks "$s"); w0=$(now_ms)
    wait "$lp" || true
    t1=$(server_ticks "$s"); w1=$(now_ms)
    rps=$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($(i) ~ /^req\/s/) { v = $(i-1); gsub(/,/, "", v); printf "%.0f", v } }' "$out")
    n=$((${rps:-0} * DURATION))
    err=$(awk '/^requests:/ { if ($10 + 0 > 0 || $12 + 0 > 0) printf "failed=%s errored=%s", $10, $12 }
               /^status codes:/ { if ($5 + 0 > 0 || $7 + 0 > 0 || $9 + 0 > 0) printf " non-2xx: %s", $0 }' "$out")
    p99="-"
    if [ "$LAT_DURATION" != 0 ]; then
      rm -f "$work/lat.log"
      taskset -c "$CLIENT_CPU" "${cmd[@]}" -D "$LAT_DURATION" --warm-up-time 1 --log-file="$work/lat.log" "$url" >"$out.lat" 2>&1 || true
      [ -s "$work/lat.log" ] && p99=$(p99_of_log "$work/lat.log")
      rm -f "$work/lat.log"
    fi
  fi
  local us share
  us=$(awk -v d="$((t1 - t0))" -v hz="$HZ" -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.1f", d / hz * 1e6 / n; else print "-" }')
  share=$(awk -v d="$((t1 - t0))" -v hz="$HZ" -v w="$((w1 - w0))" 'BEGIN { if (w > 0) printf "%.0f", 100 * d / hz / (w / 1000); else print "-" }')
  echo "${rps:-0} ${p99:--} $us $share ${err:+ERR:${err// /_}}"
}

declare -A RPS P99 CPU SHARE ERR
servers=(ours nginx h2o)
log "body: $BODY_BYTES bytes ($GROUPS_N target groups) at $URL_PATH$QUERY; ${DURATION}s per run, ${ROUNDS} round(s)"
log "load: $(uptime)"
for ((r = 1; r <= ROUNDS; r++)); do
  for sc in $SCENARIOS; do
    # rotate the order every round so that a noisy stretch does not always hit the same server
    for ((k = 0; k < 3; k++)); do
      s="${servers[$(((k + r - 1) % 3))]}"
      read -r rps p99 us share err < <(run_one "$s" "$sc" "$r")
      log "round $r $sc $s: $rps req/s, p99 $p99 ms, server ${us} µs CPU/request, server got ${share}% of a core ${err:-}"
      key="$sc/$s"
      if [ -z "${RPS[$key]:-}" ] || [ "$rps" -gt "${RPS[$key]}" ]; then RPS[$key]=$rps; CPU[$key]="$us"; SHARE[$key]=$share; fi
      if [ "$p99" != "-" ] && { [ -z "${P99[$key]:-}" ] || awk -v a="$p99" -v b="${P99[$key]}" 'BEGIN { exit !(a < b) }'; }; then
        P99[$key]=$p99
      fi
      [ -n "${err:-}" ] && ERR[$key]="${err}"
    done
  done
done

# ---------------------------------------------------------------------------- report
anchor_of() { case "$1" in h2c-m100 | h2c-m1) echo h2o ;; *) echo nginx ;; esac; }
target_of() { case "$1" in h1) echo 1.0 ;; h2c-m100 | h2c-m1) echo 1.0 ;; tls-h2-m100) echo 1.5 ;; *) echo "" ;; esac; }
describe() {
  case "$1" in
    h1) echo "HTTP/1.1 wrk -c$H1_CONNS" ;;
    tls-h1) echo "HTTP/1.1 TLS wrk -c$H1_CONNS" ;;
    h2c-m100) echo "h2c h2load -c10 -m100" ;;
    h2c-m1) echo "h2c h2load -c50 -m1" ;;
    tls-h2-m100) echo "TLS h2 h2load -c10 -m100" ;;
    tls-h2-m1) echo "TLS h2 h2load -c50 -m1" ;;
  esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, server on cpu$SERVER_CPU, client on cpu$CLIENT_CPU, body $BODY_BYTES B" \
  "(identity), ${DURATION}s/run, best of $ROUNDS round(s); $(nginx -v 2>&1 | sed 's/.*\///'), h2o $(h2o -v | head -1 | awk '{print $3}')"
echo
echo "| scenario | ours req/s | nginx req/s | h2o req/s | ours/nginx | ours/h2o | target | result | p99 ms ours / nginx / h2o | p99 ≤ nginx | server CPU µs/req ours / nginx / h2o | by CPU vs anchor | core share % |"
echo "|---|---:|---:|---:|---:|---:|---|---|---|---|---|---|---|"
fail=0
for sc in $SCENARIOS; do
  o=${RPS[$sc/ours]:-0}; n=${RPS[$sc/nginx]:-0}; h=${RPS[$sc/h2o]:-0}
  anchor=$(anchor_of "$sc"); target=$(target_of "$sc")
  a=${RPS[$sc/$anchor]:-0}
  if [ -n "$target" ]; then
    tgt="≥ ${target}× $anchor"
    if awk -v o="$o" -v a="$a" -v t="$target" 'BEGIN { exit !(a > 0 && o >= t * a) }'; then res=PASS; else res=FAIL; fail=1; fi
  else
    tgt="(info)"; res="-"
  fi
  po=${P99[$sc/ours]:--}; pn=${P99[$sc/nginx]:--}; ph=${P99[$sc/h2o]:--}
  if [ "$po" = - ] || [ "$pn" = - ]; then pres="n/a"
  elif awk -v a="$po" -v b="$pn" 'BEGIN { exit !(a <= b) }'; then pres=PASS
  else pres=FAIL; fail=1; fi
  [ -n "${ERR[$sc/ours]:-}${ERR[$sc/nginx]:-}${ERR[$sc/h2o]:-}" ] && res="$res (errors!)"
  echo "| $(describe "$sc") | $o | $n | $h | $(ratio "$o" "$n") | $(ratio "$o" "$h") | $tgt | $res | $po / $pn / $ph | $pres |" \
    "${CPU[$sc/ours]:--} / ${CPU[$sc/nginx]:--} / ${CPU[$sc/h2o]:--} | $(ratio "${CPU[$sc/$anchor]:-0}" "${CPU[$sc/ours]:-0}") |" \
    "${SHARE[$sc/ours]:--} / ${SHARE[$sc/nginx]:--} / ${SHARE[$sc/h2o]:--} |"
done
echo
echo "p99: wrk --latency for HTTP/1.1; for h2load runs, from a separate ${LAT_DURATION}s run with --log-file" \
  "(per-request time to end of response), since h2load itself prints only min/max/mean/sd."
echo "server CPU µs/req: CPU time of the server's processes during the measured window / requests; 'by CPU vs anchor' =" \
  "anchor µs/req ÷ ours (how much more work per core-second we do; less sensitive to a noisy neighbour than req/s)." \
  "core share: the server's CPU time / wall time (100 = it had cpu$SERVER_CPU to itself)."
if ls "$work"/run.tls-* >/dev/null 2>&1; then
  echo "TLS as negotiated by h2load with all three: $(cat "$work"/run.tls-* | awk '/^(TLS Protocol|Cipher|Server Temp Key):/ { $1 = $1; print }' | sort -u | paste -sd ';' -)."
fi
for key in "${!ERR[@]}"; do echo "errors in $key: ${ERR[$key]}"; done
if [ "$CONN_MEMORY" = 1 ]; then
  echo
  echo "Memory per connection of our server (body $BODY_BYTES B; conn-memory.py):"
  echo
  python3 "$here/conn-memory.py" "$PID_OURS" "$P_OURS" "$P_OURS_TLS" "$URL_PATH$QUERY" || log "conn-memory.py failed"
fi
exit $fail
