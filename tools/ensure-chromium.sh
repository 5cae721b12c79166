#!/usr/bin/env bash
# Make sure headless Chromium and its driver are on PATH for tests/test_serve_browser.py.
# Installs Debian's chromium and chromium-driver when running as root with apt-get (nothing
# downloads a browser); otherwise stops with a message that says what to install.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing Debian's chromium and chromium-driver (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
  if command -v chromedriver >/dev/null 2>&1; then
    echo "[setup] installed: $(chromedriver --version | head -n 1)"
    exit 0
  fi
fi
cat >&2 <<'MSG'
[setup] the browser test needs chromium and chromedriver on PATH, and this script cannot
install them (it installs Debian's packages only when run as root with apt-get):
  sudo apt-get install chromium chromium-driver   # Debian / Ubuntu
then run the command again.
MSG
exit 1
