#!/usr/bin/env bash
# Installs the Debian packages the apps test suite, `pnpm dev` and `pnpm bench:app` need:
# PostgreSQL and Redis (real stores for the tests), Chromium (the portal browser test) and wrk
# (the benchmark's reference load generator), and gnupg (the gitops suite signs and verifies a mesh
# tag with a throwaway key). Idempotent: packages already present are skipped,
# so CI pays for apt only on a fresh machine.
set -euo pipefail

packages=(postgresql redis-server chromium wrk gnupg)

have() {
  case "$1" in
    postgresql) ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 ;;
    redis-server) command -v redis-server >/dev/null 2>&1 ;;
    chromium) [ -x /usr/bin/chromium ] ;;
    wrk) command -v wrk >/dev/null 2>&1 ;;
    gnupg) command -v gpg >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

missing=()
for pkg in "${packages[@]}"; do
  if ! have "$pkg"; then missing+=("$pkg"); fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-test-deps: all present (${packages[*]})"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the packages' own service instances from starting: the tests and `pnpm dev`
# start throwaway servers on ephemeral ports and the system ones would only hold ports and memory.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-test-deps: done"
