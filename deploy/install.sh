#!/usr/bin/env bash
# Installs portpublisherd, portpublisher and the CNI plugin portpublisher-cni from this checkout, with the systemd unit, as root. (On Debian the .deb
# from packaging/build-deb.sh is the simpler way: it needs no SDK on the target.)
#   deploy/install.sh             build, install, create the portpublisher user and group, enable and start the unit
#                                 (restart it if it is running: an upgrade)
#   deploy/install.sh --no-start  the same, but start nothing
# Environment:
#   PREFIX   where the programs go (default /usr/local): PREFIX/lib/portpublisher, PREFIX/bin/portpublisher,
#            PREFIX/sbin/portpublisherd, PREFIX/share/man, PREFIX/share/bash-completion. The unit goes to
#            /etc/systemd/system, the configuration to /etc/portpublisher (kept if it exists).
#   CNI_BIN_DIR  where the CNI plugin is linked (default /opt/cni/bin, where containerd and the kubelet look; Podman
#            and CRI-O also search /usr/local/lib/cni and /usr/lib/cni); empty: not linked anywhere.
#   DESTDIR  a staging root: everything is written below it, and nothing is created, started or installed outside it
#            (no user, no apt-get, no systemctl), so it needs no root.
#   PORTPUBLISHER_PUBLISHED  a directory with binaries packaging/publish.sh made, instead of building.
# Building needs the .NET SDK and clang (the CLI is native: NativeAOT). It runs in a temporary copy of the sources
# (packaging/publish.sh), so a root build leaves nothing root-owned in the checkout; the NuGet cache used is the
# invoking user's.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/usr/local}
dest=${DESTDIR:-}
start=1
case "${1:-}" in
  "") ;;
  --no-start) start=0 ;;
  *) echo "install.sh: unknown argument '$1' (use --no-start)" >&2; exit 2 ;;
esac
[[ $prefix == /* ]] || { echo "install.sh: PREFIX must be an absolute path, not '$prefix'" >&2; exit 2; }
cni_bin=${CNI_BIN_DIR-/opt/cni/bin}
[ -z "$cni_bin" ] || [[ $cni_bin == /* ]] || { echo "install.sh: CNI_BIN_DIR must be an absolute path, not '$cni_bin'" >&2; exit 2; }
if [ -z "$dest" ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (or set DESTDIR to stage the files somewhere)" >&2
  exit 1
fi

lib=$prefix/lib/portpublisher
work=$(mktemp -d "${TMPDIR:-/tmp}/portpublisher-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. Build (or take) the binaries: the native CLI and the self-contained daemon.
if [ -n "${PORTPUBLISHER_PUBLISHED:-}" ]; then
  bin=$PORTPUBLISHER_PUBLISHED
  # All three or nothing: a half-installed set would pair a new CLI with an old daemon.
  for b in portpublisherd portpublisher portpublisher-cni; do
    [ -f "$bin/$b" ] || {
      echo "install.sh: PORTPUBLISHER_PUBLISHED=$bin has no $b (packaging/publish.sh $bin publishes all three; do not set BINARIES)" >&2
      exit 2
    }
  done
else
  command -v "${DOTNET:-dotnet}" >/dev/null || {
    echo "install.sh: the .NET SDK (dotnet) is needed to build; on Debian, install the .deb instead (packaging/build-deb.sh)" >&2
    exit 1
  }
  command -v clang >/dev/null || {
    echo "install.sh: clang is needed to build the native portpublisher (Debian: apt-get install clang)" >&2
    exit 1
  }
  bin=$work/bin
  "$root/packaging/publish.sh" "$bin"
fi

# 2. Install the files.
install -D -m 0755 "$bin/portpublisherd" "$dest$lib/portpublisherd"
install -D -m 0755 "$bin/portpublisher" "$dest$lib/portpublisher"
install -D -m 0755 "$bin/portpublisher-cni" "$dest$lib/portpublisher-cni"
install -d "$dest$prefix/bin" "$dest$prefix/sbin"
if [ -n "$cni_bin" ]; then
  install -d "$dest$cni_bin"
  ln -sfn "$lib/portpublisher-cni" "$dest$cni_bin/portpublisher-cni"
fi
ln -sfn "$lib/portpublisher" "$dest$prefix/bin/portpublisher"
ln -sfn "$lib/portpublisherd" "$dest$prefix/sbin/portpublisherd"
install -D -m 0644 "$root/README.md" "$dest$prefix/share/doc/portpublisher/README.md"
install -D -m 0644 "$root/deploy/portpublisher-cni.conflist" "$dest$prefix/share/doc/portpublisher/examples/portpublisher-cni.conflist"
"$root/packaging/completion.sh" "$bin/portpublisher" > "$work/completion"
install -D -m 0644 "$work/completion" "$dest$prefix/share/bash-completion/completions/portpublisher"
if [ "$(id -u)" = 0 ]; then isolate=(unshare -n); else isolate=(unshare -rn); fi
today=$(date -u +%Y-%m-%d)
"$root/packaging/man.sh" portpublisher 1 "publish ports of network namespaces, as docker run -p does" "$today" local \
  "$root/packaging/man/portpublisher.1.in" -- "$bin/portpublisher" > "$work/portpublisher.1"
# Even the daemon's --help runs in a throwaway network namespace, never in this machine's own.
"$root/packaging/man.sh" portpublisherd 8 "the PortPublisher service: publishes ports of network namespaces" "$today" local \
  "$root/packaging/man/portpublisherd.8.in" -- "${isolate[@]}" "$bin/portpublisherd" > "$work/portpublisherd.8"
install -D -m 0644 "$work/portpublisher.1" "$dest$prefix/share/man/man1/portpublisher.1"
install -D -m 0644 "$work/portpublisherd.8" "$dest$prefix/share/man/man8/portpublisherd.8"
sed "s#^ExecStart=/usr/lib/portpublisher/portpublisherd#ExecStart=$lib/portpublisherd#" "$root/deploy/portpublisher.service" > "$work/unit"
install -D -m 0644 "$work/unit" "$dest/etc/systemd/system/portpublisher.service"
if [ -f "$dest/etc/portpublisher/portpublisher.json" ]; then
  echo "install.sh: kept /etc/portpublisher/portpublisher.json (the new default is $root/deploy/portpublisher.json)"
else
  install -D -m 0644 "$root/deploy/portpublisher.json" "$dest/etc/portpublisher/portpublisher.json"
fi
echo "install.sh: installed $lib, $prefix/bin/portpublisher, $prefix/sbin/portpublisherd${cni_bin:+, $cni_bin/portpublisher-cni} and /etc/systemd/system/portpublisher.service${dest:+ under $dest}"

if [ -n "$dest" ]; then
  exit 0
fi

# 3. What the host needs: iproute2 for `ip netns` (recommended, not required: the service speaks netlink itself), and
# the unit's user and group. Members of the group may use the control socket.
if ! command -v ip >/dev/null && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null \
    || echo "install.sh: could not install iproute2 (ip netns); the service works without it" >&2
fi
getent group portpublisher >/dev/null || groupadd --system portpublisher
getent passwd portpublisher >/dev/null ||
  useradd --system --gid portpublisher --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --comment "PortPublisher daemon" portpublisher

# 4. The unit, where systemd is the running init.
if [ ! -d /run/systemd/system ]; then
  echo "install.sh: systemd is not running here, so nothing was started. Run the service as root with:"
  echo "  $prefix/sbin/portpublisherd &"
  echo "  (settings: /etc/portpublisher/portpublisher.json; the socket's group is portpublisher)"
  exit 0
fi
systemctl daemon-reload
if [ "$start" = 0 ]; then
  echo "install.sh: start it with: systemctl enable --now portpublisher"
elif systemctl is-active --quiet portpublisher.service; then
  systemctl restart portpublisher.service
  echo "install.sh: restarted portpublisher.service (NAT'ed connections are kept across the restart)"
else
  systemctl enable --now portpublisher.service
  echo "install.sh: enabled and started portpublisher.service"
fi
systemctl --no-pager --lines=0 status portpublisher.service || true
