#!/usr/bin/env bash
# `npm test`: the whole suite — unit tests, then every integration suite against BOTH targets:
#   embedded PGlite + filesystem store, and real PostgreSQL (127.0.0.1:5432) + a real S3 server.
# The S3 server is OpenStack Swift with s3api, started by scripts/s3-test-server.sh (installed from Debian
# when missing and we are root or in CI). Without it, the real target is skipped locally and fails in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${S3_ENDPOINT:-}" ]]; then
  if [[ -x /usr/bin/swift-proxy-server || "${CI:-}" == "true" || $(id -u) -eq 0 ]]; then
    eval "export $(bash scripts/s3-test-server.sh start "${MODELPRESS_SWIFT_DIR:-/tmp/modelpress-swift}")"
  else
    echo "# no S3 server: the real PostgreSQL+S3 target will be skipped" >&2
  fi
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && [[ -d /etc/postgresql ]]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi

files=("$@")
[[ ${#files[@]} -eq 0 ]] && files=(test/unit/*.test.ts test/integration/*.test.ts test/e2e/*.test.ts)
exec node --import tsx --test --test-concurrency="${MODELPRESS_TEST_CONCURRENCY:-1}" "${files[@]}"
