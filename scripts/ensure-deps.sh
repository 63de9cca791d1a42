#!/usr/bin/env bash
# Installs the Debian packages the build, the demo or the tests need, when missing.
#   scripts/ensure-deps.sh build   libnghttp2 headers, zlib (gzip), c-ares (DNS SD), RE2 (relabel regexes), jemalloc
#   scripts/ensure-deps.sh test    + the real clients, peers and browser the tests drive
set -euo pipefail
what="${1:-build}"
packages=(libnghttp2-dev zlib1g-dev libc-ares-dev libre2-dev libjemalloc-dev pkg-config)
if [ "$what" = test ]; then
  packages+=(curl nghttp2-client openssl prometheus)
  # The browser test renders the / page in Debian's headless Chromium.
  packages+=(chromium)
  # The emulator tests drive the real kubectl; Debian's kubernetes-client when none is installed.
  command -v kubectl >/dev/null || packages+=(kubernetes-client)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/ensure-deps.log 2>&1; then
  $SUDO apt-get update >/tmp/ensure-deps.log 2>&1
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/ensure-deps.log 2>&1 || { cat /tmp/ensure-deps.log >&2; exit 1; }
fi
# Debian starts the prometheus service on install; tests run their own instances.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  $SUDO systemctl stop prometheus || true
fi
