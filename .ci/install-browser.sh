#!/usr/bin/env bash
# Installs headless Chromium from Debian's packages for the browser tests (tests/browser/).
# Idempotent: does nothing when /usr/bin/chromium is already there. Never fails CI: when apt is
# missing or the install fails, it says so and the browser tests skip with a clear reason.
# Playwright (pip, in the test extra) drives /usr/bin/chromium; it never downloads a browser.
set -u

if [ -x /usr/bin/chromium ]; then
    echo "install-browser: /usr/bin/chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: apt-get not found; browser tests will be skipped" >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-browser: not root and no passwordless sudo; browser tests will be skipped" >&2
        exit 0
    fi
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
if $SUDO apt-get update -qq >"$log" 2>&1 \
    && $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >>"$log" 2>&1; then
    echo "install-browser: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
else
    echo "install-browser: apt-get could not install chromium; browser tests will be skipped. Last lines:" >&2
    tail -n 15 "$log" >&2
fi
rm -f "$log"
exit 0
