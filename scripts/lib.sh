# Helpers the scripts here source.

# wait_ready HTTP_PORT PID LOG: waits until the server's /readyz answers 200 (its bundle is
# loaded and warmed up); prints LOG and fails when the server exits or 10 s pass.
wait_ready() {
  local port="$1" pid="$2" log="$3"
  for _ in $(seq 1 200); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/readyz', timeout=1)" \
      2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.05
  done
  echo "the server did not become ready" >&2
  cat "$log" >&2
  return 1
}
