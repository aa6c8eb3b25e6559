#!/usr/bin/env bash
# Times the first `make run` of a fresh clone with empty Go module, Go build
# and npm caches (docs/operations.md quotes it): seconds until each part is
# built and until /readyz answers. Uses a temporary directory for the clone
# and the caches, and FOLIO_HTTP_ADDR (default 127.0.0.1:8080) for readyz;
# the stack is stopped at the end.
set -uo pipefail
repo="$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)"
tmp="$(mktemp -d)"
addr="${FOLIO_HTTP_ADDR:-127.0.0.1:8080}"
git clone -q "$repo" "$tmp/folio"
cd "$tmp/folio"
export GOMODCACHE="$tmp/gomod" GOCACHE="$tmp/gocache" npm_config_cache="$tmp/npm" GOFLAGS=-modcacherw
start=$(date +%s)
setsid make run --no-print-directory >"$tmp/run.log" 2>&1 &
pid=$!
declare -A seen
status=1
while :; do
  now=$(($(date +%s) - start))
  for f in bin/folio .folio/bin/versitygw web/demo/dist/index.html; do
    if [[ -z "${seen[$f]:-}" && -e $f ]]; then seen[$f]=1; echo "$f at $now s"; fi
  done
  if curl -fsS -o /dev/null "http://$addr/readyz" 2>/dev/null; then
    echo "readyz after $now s"; status=0; break
  fi
  if ! kill -0 $pid 2>/dev/null; then echo "make run exited:"; tail -20 "$tmp/run.log"; break; fi
  if ((now > 900)); then echo "no /readyz after 900 s"; break; fi
  sleep 1
done
kill -INT -- -$pid 2>/dev/null; sleep 5; kill -KILL -- -$pid 2>/dev/null
rm -rf "$tmp"
exit $status
