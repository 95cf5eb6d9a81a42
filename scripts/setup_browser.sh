#!/usr/bin/env bash
# Headless Chromium for the export report's browser tests (tests/test_report.py), from
# Debian's package `chromium` when it is missing and apt-get can install it (root or
# password-less sudo). Never fails: without a browser those tests skip with the reason.
# THINSEG_NO_BROWSER_INSTALL=1 skips the attempt.
for b in "${THINSEG_CHROMIUM:-}" chromium chromium-browser google-chrome; do
    if [ -n "$b" ] && command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
if [ -n "${THINSEG_NO_BROWSER_INSTALL:-}" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[setup] no Chromium and no apt-get: the report's browser tests will skip" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
        echo "[setup] no Chromium and not root: the report's browser tests will skip (apt-get install chromium)" >&2
        exit 0
    fi
fi
echo "[setup] installing Chromium (Debian package chromium) for the report's browser tests" >&2
log=$(mktemp)
if timeout 600 $sudo apt-get update >"$log" 2>&1 && \
   DEBIAN_FRONTEND=noninteractive timeout 900 $sudo apt-get install -y --no-install-recommends chromium >>"$log" 2>&1; then
    echo "[setup] Chromium installed: $(command -v chromium)" >&2
else
    tail -5 "$log" >&2
    echo "[setup] Chromium could not be installed (log above): the report's browser tests will skip" >&2
fi
rm -f "$log"
exit 0
