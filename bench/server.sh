#!/usr/bin/env bash
# tandem-server under load: requests/s and p50/p99 latency of single-sentence
# requests (beam 5) at 1, 8 and 32 concurrent clients, batched across clients
# (--mini-batch 32, --max-latency-ms 10) and one request at a time (--mini-batch 1).
#
#   bench/server.sh [--data-dir DIR] [--threads N] [--requests N]
#
# Model: compare.sh's (emb 256, rnn 512, GRU, Bahdanau, Multi30k en->de, 300
# updates, cached in bench/work). Sentences: test_2016_flickr's English side,
# each client walking through them from its own offset. The client is Python
# (threads, one HTTP connection a request, as a plain client would).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
REQUESTS=20  # a client
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while (($#)); do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
prepare_multi30k train test_2016_flickr
tandem_model 300
echo "== tandem-server, beam 5, $THREADS threads, $REQUESTS requests a client; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-12s %8s %10s %10s %10s\n" batching clients "req/s" "p50 ms" "p99 ms"
for batch in 32 1; do
  "$BIN/tandem-server" -m "$WORK/tandem-300" --port 0 --mini-batch "$batch" --max-latency-ms 10 \
    --cpu-threads "$THREADS" 2> "$WORK/server.err" &
  server=$!
  port=""
  for _ in $(seq 1 200); do
    port="$(grep -o '127.0.0.1:[0-9]*' "$WORK/server.err" | cut -d: -f2 || true)"
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  [[ -n "$port" ]] || { cat "$WORK/server.err" >&2; kill "$server"; exit 1; }
  for clients in 1 8 32; do
    python3 - "$port" "$clients" "$REQUESTS" "$WORK/test_2016_flickr.en" "$batch" <<'PY'
import json, sys, threading, time, urllib.request
port, clients, requests, path, batch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
lines = [l.rstrip("\n") for l in open(path, encoding="utf-8")]
latencies, failures = [], []
lock = threading.Lock()
def client(c):
    for r in range(requests):
        body = json.dumps({"text": [lines[(c * requests + r) % len(lines)]], "beam_size": 5}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/translate", data=body,
                                         headers={"Content-Type": "application/json"})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                json.load(response)
            with lock:
                latencies.append(time.perf_counter() - start)
        except Exception as e:
            with lock:
                failures.append(str(e))
threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
seconds = time.perf_counter() - start
latencies.sort()
p = lambda q: 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]
label = "batched 32" if batch == "32" else "one at a time"
print(f"{label:<12} {clients:>8} {len(latencies) / seconds:>10.1f} {p(0.5):>10.0f} {p(0.99):>10.0f}"
      + (f"   ({len(failures)} failed: {failures[0]})" if failures else ""))
PY
  done
  kill -TERM "$server"
  wait "$server" || true
done
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
