#!/usr/bin/env bash
# `npm run lint:openapi`: the committed OpenAPI document must pass Redocly (recommended) and Spectral (oas) with
# no error and no warning. Redocly exits 0 on warnings, so its JSON totals are checked here.
set -euo pipefail
cd "$(dirname "$0")/.."
doc=openapi/openapi.json
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
report=$(npx redocly lint "$doc" --format=json 2>/dev/null || true)
node -e '
  const r = JSON.parse(process.argv[1]);
  for (const p of r.problems ?? []) if (!p.ignored) console.error(`redocly ${p.severity} ${p.ruleId}: ${p.message} (${p.location?.[0]?.pointer ?? ""})`);
  const t = r.totals ?? {};
  console.log(`redocly (recommended): ${t.errors} errors, ${t.warnings} warnings, ${t.ignored} ignored`);
  if (t.errors !== 0 || t.warnings !== 0) process.exit(1);
' "$report"
npx spectral lint "$doc" --ruleset .spectral.yaml --fail-severity=warn
