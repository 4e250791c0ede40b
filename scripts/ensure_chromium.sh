#!/usr/bin/env bash
# Install Debian's headless-capable Chromium (and fonts for readable screenshots) when it is missing.
# Used by the browser test tier and scripts/screenshot_dashboard.py; prints the binary's path.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is missing and installing it needs root: apt-get install -y chromium" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium fonts-dejavu-core fonts-liberation >/dev/null
fi
command -v chromium
