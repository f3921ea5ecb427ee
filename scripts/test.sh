#!/usr/bin/env bash
# `npm test`: the whole suite — unit tests, then every integration suite against BOTH targets:
#   embedded PGlite + filesystem store, and real PostgreSQL (127.0.0.1:5432) + a real S3 server.
# The S3 server is OpenStack Swift with s3api, started by scripts/s3-test-server.sh (installed from Debian
# when missing and we are root or in CI). The real target is required when CI=true or MODELPRESS_TEST_TARGETS
# names it: then a server that does not start fails the run here; otherwise the real target is skipped, loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

real_required() { [[ "${CI:-}" == "true" || ",${MODELPRESS_TEST_TARGETS:-}," == *,real,* ]]; }

if [[ -z "${S3_ENDPOINT:-}" ]]; then
  if [[ -x /usr/bin/swift-proxy-server || $(id -u) -eq 0 ]] || real_required; then
    # A failed start must not hide inside `eval "export $(…)"`: capture first, so its status is checked.
    if s3env=$(bash scripts/s3-test-server.sh start "${MODELPRESS_SWIFT_DIR:-/tmp/modelpress-swift}"); then
      eval "export $s3env"
    elif real_required; then
      echo "# FAIL: the S3 test server did not start, and the real PostgreSQL+S3 target is required (CI=${CI:-} MODELPRESS_TEST_TARGETS=${MODELPRESS_TEST_TARGETS:-})" >&2
      exit 1
    else
      echo "# the S3 test server did not start: the real PostgreSQL+S3 target will be skipped" >&2
    fi
  else
    echo "# no S3 server: the real PostgreSQL+S3 target will be skipped" >&2
  fi
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && [[ -d /etc/postgresql ]]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if real_required && command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "# FAIL: PostgreSQL at 127.0.0.1:5432 is unreachable, and the real PostgreSQL+S3 target is required (CI=${CI:-} MODELPRESS_TEST_TARGETS=${MODELPRESS_TEST_TARGETS:-})" >&2
  exit 1
fi

# One migrated embedded database for every suite to copy (test/helpers/harness.ts); without it each builds its own.
if template=$(node --import tsx scripts/pglite-template.ts 2>/dev/null); then
  export MODELPRESS_TEST_PGLITE_TEMPLATE="$template"
else
  echo "# the embedded database template did not build: every embedded target will initialise its own" >&2
fi

files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
  # Longest first (measured per file in CI logs), so the last file to start is a short one and the two lanes end
  # together: started last, the slowest file alone once stretched the suite by minutes.
  slow=(
    test/integration/jobs-workers.test.ts test/integration/compression-jobs.test.ts test/integration/ml-jobs.test.ts
    test/integration/real-models.test.ts test/integration/fuzz.test.ts test/integration/architectures.test.ts
    test/integration/worker-process.test.ts test/integration/model-export.test.ts
    test/integration/embedded-processes.test.ts test/integration/readme-curl.test.ts test/e2e/dashboard.test.ts
    test/integration/sdk.test.ts test/integration/security.test.ts test/integration/sdk-package.test.ts
  )
  files=("${slow[@]}")
  for f in test/unit/*.test.ts test/integration/*.test.ts test/security/*.test.ts test/e2e/*.test.ts; do
    [[ " ${slow[*]} " == *" $f "* ]] || files+=("$f")
  done
fi
# Files run in parallel, one more than the cores (at most 4): each integration file has its own database, bucket
# and data dir, and part of their time is spent waiting on child processes, heartbeats, sockets and jobs, which a
# third file fills on a 2-core machine; the suite has passed at load averages of 20-34, so the extra file costs no
# flakes.
cores=$(nproc 2>/dev/null || echo 2)
exec node --import tsx --test --test-concurrency="${MODELPRESS_TEST_CONCURRENCY:-$(( cores < 3 ? cores + 1 : 4 ))}" "${files[@]}"
