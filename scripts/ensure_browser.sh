#!/usr/bin/env bash
# Make sure a headless browser for the admin UI tests is installed:
# Debian's chromium and its matching chromedriver (never a downloaded build).
# Idempotent and silent when both are present.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
    exit 0
fi
if ! have apt-get; then
    echo "ensure_browser: chromium and chromedriver are missing; install them to run the browser tests" >&2
    exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    have sudo || { echo "ensure_browser: need root or sudo to install chromium" >&2; exit 0; }
    SUDO=(sudo)
fi
echo "ensure_browser: installing chromium and chromium-driver with apt-get"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
