#!/usr/bin/env bash
# Runs every test. Installs what the tests need first (root, Debian): nftables, iproute2, socat, conntrack, curl, iputils-ping,
# clang (links the native CLI and the CNI plugin), promtool, and for the package and unit tests systemd-nspawn
# (systemd-container), lintian, objdump (binutils) and strace; for the CNI plugin's runtime tests podman (CNI backend),
# runc, containernetworking-plugins and busybox-static.
# Publishes the native (NativeAOT) CLI and CNI plugin once, as the package ships them, and runs the tests that start
# them against those (PORTPUBLISHER_TEST_CLI and PORTPUBLISHER_CNI_BIN name them); PORTPUBLISHER_TEST_CLI=PATH uses that
# CLI instead (and PORTPUBLISHER_CNI_BIN, if set, that plugin), and an empty PORTPUBLISHER_TEST_CLI= skips the publish
# and tests the JIT builds.
# Prints a closing line "N passed, N failed, N skipped" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

# Required by the kernel tests; promtool (Debian's prometheus) only lints the metrics text, so it is best effort.
need=() want=()
for pair in nft:nftables ip:iproute2 socat:socat conntrack:conntrack curl:curl ping:iputils-ping clang:clang; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
command -v promtool >/dev/null 2>&1 || want+=(prometheus)
# The package tests: build the .deb (objdump reads the glibc it needs), lint it, install it into a booted container;
# strace lists the daemon's system calls against the unit's SystemCallFilter.
for pair in systemd-nspawn:systemd-container lintian:lintian objdump:binutils strace:strace; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || want+=("${pair#*:}")
done
# The CNI plugin in a real runtime (tests/PortPublisher.Cni.Tests, Category=Podman): Podman 4 with its CNI backend, runc
# (crun refuses this machine's hybrid cgroups), the bridge/host-local/portmap plugins in /usr/lib/cni, a static busybox
# for the image (clang, above, links the plugin's NativeAOT build).
for pair in podman:podman runc:runc /usr/lib/cni/bridge:containernetworking-plugins /bin/busybox:busybox-static; do
  { command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "${pair%%:*}" ]; } || want+=("${pair#*:}")
done

apt_install() {
  # Packages such as prometheus would start their daemons on install; tests need only their tools.
  local blocker=/usr/sbin/policy-rc.d made=
  [ -e "$blocker" ] || { printf '#!/bin/sh\nexit 101\n' > "$blocker"; chmod +x "$blocker"; made=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  local rc=$?
  [ -n "$made" ] && rm -f "$blocker"
  return $rc
}

if [ ${#need[@]} -gt 0 ] || [ ${#want[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${need[*]} ${want[*]}"
    apt-get update -qq >/dev/null || echo "apt-get update failed; trying the installed lists" >&2
    if [ ${#need[@]} -gt 0 ]; then
      apt_install "${need[@]}" || { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
    fi
    # One at a time: a package that cannot be had costs only the tests that need it.
    for w in "${want[@]}"; do
      apt_install "$w" || echo "could not install $w: the tests that need it are skipped with a reason" >&2
    done
  else
    echo "missing ${need[*]} ${want[*]} (not root or no apt-get): tests that need them are skipped with a reason" >&2
  fi
fi

log=$(mktemp)
native_dir=
trap 'rm -f "$log"; [ -z "$native_dir" ] || rm -rf "$native_dir"' EXIT

# The native CLI and CNI plugin, published once (a minute or two each), from this commit's sources the way the package
# builds them.
native_failed=0
if [ -z "${PORTPUBLISHER_TEST_CLI+set}" ]; then
  native_dir=$(mktemp -d "${TMPDIR:-/tmp}/portpublisher-native.XXXXXX")
  chmod 0755 "$native_dir" # the CLI also runs as nobody (setpriv) in a test
  echo "publishing the native CLI and CNI plugin (NativeAOT) for the end-to-end tests"
  started=$SECONDS
  if BINARIES="portpublisher portpublisher-cni" packaging/publish.sh "$native_dir"; then
    export PORTPUBLISHER_TEST_CLI=$native_dir/portpublisher
    [ -n "${PORTPUBLISHER_CNI_BIN:-}" ] || export PORTPUBLISHER_CNI_BIN=$native_dir/portpublisher-cni
    echo "published $PORTPUBLISHER_TEST_CLI and $PORTPUBLISHER_CNI_BIN in $((SECONDS - started)) s"
  else
    echo "publishing the native CLI or CNI plugin failed: the tests run the JIT builds, and this run fails" >&2
    native_failed=1
  fi
fi

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
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$assemblies" -eq 0 ] || [ "$native_failed" -ne 0 ]; then
  exit 1
fi
