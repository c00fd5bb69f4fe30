#!/usr/bin/env bash
# The two quick-start commands:
#   ./run.sh serve   install everything, then run the server with the embedded defaults
#   ./run.sh test    install everything, then run lint, type checks and the tests
# Any other arguments go to npc-runtime, e.g. ./run.sh chat jin
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
cmd=${1:-serve}
shift || true
case "$cmd" in
  test)
    . .venv/bin/activate
    echo "== ruff" >&2
    ruff check .
    ruff format --check .
    echo "== mypy" >&2
    mypy npc_runtime
    echo "== pytest" >&2
    exec pytest "$@"
    ;;
  *)
    exec .venv/bin/npc-runtime "$cmd" "$@"
    ;;
esac
