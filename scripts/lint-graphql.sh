#!/usr/bin/env bash
# `npm run lint:graphql`: graphql-schema-linter over the full SDL as served (schema.graphql plus the schema parts
# generated from registries), with the rules of .graphql-schema-linterrc.yml. Fails on any error.
set -euo pipefail
cd "$(dirname "$0")/.."
sdl=$(npx tsx scripts/print-graphql-schema.ts)
printf '%s\n' "$sdl" | npx graphql-schema-linter --stdin
