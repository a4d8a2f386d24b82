#!/usr/bin/env bash
# Give this checkout its own keys, once.
#
# When SECRET_KEY is not in the environment, tradeengine/settings.py reads
# the signing key from SECRET_KEY_FILE (default .secrets/django-secret-key);
# when API_KEY_ENCRYPTION_KEYS is not, the key that encrypts API keys'
# secrets at rest from API_KEY_ENCRYPTION_KEYS_FILE (default
# .secrets/api-key-encryption-keys). git ignores both. This script creates
# each missing file with a random key, readable by its owner only (mode
# 0600), unless it exists already: a key must stay the same from one run to
# the next, or every session and token would be invalidated and every
# stored API key secret lost. Nothing is done for a key set in the
# environment (production, CI secrets).
#
# Idempotent and safe to run concurrently (a file appears whole or not at
# all); prints one line for each key it creates.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# ensure_key FILE BYTES PADDING: FILE holds BYTES random bytes in URL-safe
# base64 (with "=" padding when PADDING is "pad", as Fernet wants).
ensure_key() {
    local key_file="$1" bytes="$2" padding="$3" tmp
    if [ -s "$key_file" ]; then
        return 0
    fi
    (
        umask 077
        mkdir -p "$(dirname "$key_file")"
        tmp="$(mktemp "$key_file.XXXXXX")"
        trap 'rm -f "$tmp"' EXIT
        if [ "$padding" = pad ]; then
            head -c "$bytes" /dev/urandom | base64 -w 0 | tr '+/' '-_' >"$tmp"
        else
            head -c "$bytes" /dev/urandom | base64 -w 0 | tr '+/' '-_' | tr -d '=' >"$tmp"
        fi
        chmod 600 "$tmp"
        # A hard link fails when the name exists: a concurrent run keeps its key.
        if ln "$tmp" "$key_file" 2>/dev/null; then
            printf 'ensure_secret_key: generated %s\n' "$key_file"
        fi
    )
}

# The signing key: 64 random bytes, 86 characters.
if [ -z "${SECRET_KEY:-}" ]; then
    ensure_key "${SECRET_KEY_FILE:-$ROOT_DIR/.secrets/django-secret-key}" 64 nopad
fi
# A Fernet key: 32 random bytes, 44 characters.
if [ -z "${API_KEY_ENCRYPTION_KEYS:-}" ]; then
    ensure_key "${API_KEY_ENCRYPTION_KEYS_FILE:-$ROOT_DIR/.secrets/api-key-encryption-keys}" 32 pad
fi
