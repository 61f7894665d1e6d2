#!/usr/bin/env bash
# Runs every test. Installs what the tests need first (root, Debian): nftables, iproute2, socat, conntrack, curl, promtool.
# Prints a closing line "N passed, N failed, N skipped" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in nft:nftables ip:iproute2 socat:socat conntrack:conntrack curl:curl promtool:prometheus; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${need[*]}"
    # Packages such as prometheus would start their daemons on install; tests need only their tools.
    blocker=/usr/sbin/policy-rc.d
    [ -e "$blocker" ] || { printf '#!/bin/sh\nexit 101\n' > "$blocker"; chmod +x "$blocker"; made_blocker=1; }
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    rc=$?
    [ -n "${made_blocker:-}" ] && rm -f "$blocker"
    [ $rc -eq 0 ] || { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
  else
    echo "missing ${need[*]} (not root or no apt-get): kernel tests will be skipped with a reason" >&2
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test PortPublisher.sln -c "${CONFIGURATION:-Debug}" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# dotnet test prints one summary line per test assembly: "Passed!  - Failed: 0, Passed: 20, Skipped: 0, Total: 20".
read -r passed failed skipped assemblies < <(awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) { gsub(",", "", $(i+1)); if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
    n++
  }
  END { printf "%d %d %d %d\n", p, f, s, n }' "$log")

echo
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$assemblies" -eq 0 ]; then
  exit 1
fi
