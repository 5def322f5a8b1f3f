#!/usr/bin/env bash
# tandem-server under load: requests/s and p50/p99 latency of single-sentence
# requests (beam 5) at 1, 8, 32 and 128 concurrent clients (batched across
# clients: --mini-batch 32, --max-latency-ms 10), then the p99 of 32 polite
# clients while 64, then 128, slow clients hold connections (each sends a
# request's first line, then one byte a second for at most 15 s). With --before BIN, the same for another build's
# tandem-server first (e.g. the cpp-httplib server of commit 05a7835), in the same sitting.
#
#   bench/server.sh [--threads N] [--requests N] [--before OLD/build/bin/tandem-server]
#                   [--model DIR --text FILE]
#
# Model: compare.sh's (emb 256, rnn 512, GRU, Bahdanau, Multi30k en->de, 300
# updates, cached in bench/work) unless --model names another, with --text its
# source lines (test_2016_flickr's English side by default). Each client walks
# through the lines from its own offset. The client is Python (threads, one HTTP
# connection a request, as a plain client would); a request waits at most 30 s.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
REQUESTS=10  # a client
BEFORE="" MODEL="" TEXT=""
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while (($#)); do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    --before) BEFORE="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --text) TEXT="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
if [[ -z "$MODEL" ]]; then
  prepare_multi30k train test_2016_flickr
  tandem_model 300
  MODEL="$WORK/tandem-300" TEXT="$WORK/test_2016_flickr.en"
fi
[[ -f "$TEXT" ]] || { echo "give --text FILE with the model's source lines" >&2; exit 1; }

start_server() {  # start_server BIN: starts it on a free port; sets $server and $port
  "$1" -m "$MODEL" --port 0 --mini-batch 32 --max-latency-ms 10 --cpu-threads "$THREADS" 2> "$WORK/server.err" &
  server=$!
  port=""
  for _ in $(seq 1 300); do
    port="$(grep -o '127.0.0.1:[0-9]*' "$WORK/server.err" | cut -d: -f2 || true)"
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  [[ -n "$port" ]] || { cat "$WORK/server.err" >&2; kill "$server"; exit 1; }
}

load() {  # load LABEL CLIENTS SLOW: CLIENTS polite clients, REQUESTS each, beside SLOW slow connections
  python3 - "$port" "$2" "$REQUESTS" "$TEXT" "$1" "$3" <<'PY'
import json, socket, sys, threading, time, urllib.request
port, clients, requests, path, label, slow = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
lines = [l.rstrip("\n") for l in open(path, encoding="utf-8")]
latencies, failures = [], []
lock = threading.Lock()
stop = threading.Event()
def slow_client():
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"POST /translate HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for _ in range(15):  # a byte a second for at most 15 s
            if stop.wait(1.0):
                break
            s.sendall(b"X")
    except OSError:
        pass  # closed by the server (its deadline): the slow client's loss
def client(c):
    for r in range(requests):
        body = json.dumps({"text": [lines[(c * requests + r) % len(lines)]], "beam_size": 5}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/translate", data=body,
                                         headers={"Content-Type": "application/json"})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                json.load(response)
            with lock:
                latencies.append(time.perf_counter() - start)
        except Exception as e:
            with lock:
                failures.append(str(e)[:80])
slows = [threading.Thread(target=slow_client, daemon=True) for _ in range(slow)]
for t in slows: t.start()
time.sleep(0.5 if slow else 0)
threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
seconds = time.perf_counter() - start
stop.set()
latencies.sort()
p = lambda q: 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
print(f"{label:<8} {clients:>7} {slow:>5} {len(latencies) / seconds:>8.1f} {p(0.5):>8.0f} {p(0.99):>8.0f} {len(failures):>7}"
      + (f"   (first failure: {failures[0]})" if failures else ""))
PY
}

echo "== tandem-server, beam 5, $THREADS threads, $REQUESTS requests a client; model $MODEL"
echo "   CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-8s %7s %5s %8s %8s %8s %7s\n" server clients slow "req/s" "p50 ms" "p99 ms" failed
for which in before after; do
  if [[ "$which" == before ]]; then
    [[ -n "$BEFORE" ]] || continue
    start_server "$BEFORE"
  else
    start_server "$BIN/tandem-server"
  fi
  for clients in 1 8 32 128; do load "$which" "$clients" 0; done
  load "$which" 32 64
  load "$which" 32 128
  kill -TERM "$server"
  for _ in $(seq 1 100); do kill -0 "$server" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$server" 2> /dev/null || true
  wait "$server" 2> /dev/null || true
done
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
