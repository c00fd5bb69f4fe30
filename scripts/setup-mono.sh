#!/usr/bin/env bash
# Install what the Unity bridge's console tests need: the mcs C# compiler and the mono
# runtime, from Debian's packages (System.dll, which they pull in, has ClientWebSocket).
# Not part of setup.sh: serving needs no mono. Called by tests/test_unity_bridge.py.
set -euo pipefail
packages=(mono-mcs mono-runtime)
if command -v mcs >/dev/null 2>&1 && command -v mono >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-mono: mcs or mono is missing and this is not root; install them with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-mono: no apt-get here; install mono (mcs and the runtime) from your distribution" >&2
  exit 1
fi
echo "setup-mono: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
command -v mcs >/dev/null && command -v mono >/dev/null
