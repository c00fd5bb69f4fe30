#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (tests/test_kiosk.py) and
# scripts/screenshots.py, which drive it with playwright. Playwright's own browser
# download is never used. Not part of setup.sh: serving needs no browser.
# Exit 3: it cannot be installed here (not root, no apt-get); 1: the install failed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-chromium: chromium is missing and this is not root; install it with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends chromium" >&2
  exit 3
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-chromium: no apt-get here; install chromium from your distribution" >&2
  exit 3
fi
echo "setup-chromium: installing chromium" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
