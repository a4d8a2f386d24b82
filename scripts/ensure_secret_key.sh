#!/usr/bin/env bash
# Give this checkout a signing key of its own, once.
#
# When SECRET_KEY is not in the environment, tradeengine/settings.py reads
# the key from SECRET_KEY_FILE (default .secrets/django-secret-key, which git
# ignores). This script creates that file with a random key, readable by its
# owner only (mode 0600), unless it exists already: the key must stay the same
# from one run to the next, or every session and token would be invalidated.
# Nothing is done when SECRET_KEY is set (production, CI secrets).
#
# Idempotent and safe to run concurrently (the file appears whole or not at
# all); prints one line when it creates the key.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEY_FILE="${SECRET_KEY_FILE:-$ROOT_DIR/.secrets/django-secret-key}"

if [ -n "${SECRET_KEY:-}" ] || [ -s "$KEY_FILE" ]; then
    exit 0
fi

umask 077
mkdir -p "$(dirname "$KEY_FILE")"
tmp="$(mktemp "$KEY_FILE.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
# 64 random bytes, URL-safe base64 without padding: 86 characters.
head -c 64 /dev/urandom | base64 -w 0 | tr '+/' '-_' | tr -d '=' >"$tmp"
chmod 600 "$tmp"
# A hard link fails when the name exists: a concurrent run keeps its key.
if ln "$tmp" "$KEY_FILE" 2>/dev/null; then
    printf 'ensure_secret_key: generated %s\n' "$KEY_FILE"
fi
