#!/usr/bin/env bash
# Installs portpublisherd and portpublisher from this checkout, and the systemd unit (run as root).
#   deploy/install.sh            build (Release), install to /usr/lib/portpublisher, enable and start the unit
#   deploy/install.sh --no-start install only
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=/usr/lib/portpublisher
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
command -v nft >/dev/null || apt-get install -y nftables
dotnet publish src/PortPublisher.Service -c Release -o "$prefix" --nologo
dotnet publish src/PortPublisher.Cli -c Release -o "$prefix/cli" --nologo
ln -sf "$prefix/cli/portpublisher" /usr/local/bin/portpublisher
ln -sf "$prefix/portpublisherd" /usr/local/sbin/portpublisherd
install -m 0644 README.md "$prefix/README.md"
install -m 0644 deploy/portpublisher.service /etc/systemd/system/portpublisher.service
mkdir -p /etc/portpublisher
[ -f /etc/portpublisher/portpublisher.json ] || install -m 0644 deploy/portpublisher.json /etc/portpublisher/portpublisher.json
systemctl daemon-reload
if [ "${1:-}" != "--no-start" ]; then
  systemctl enable --now portpublisher.service
  systemctl --no-pager status portpublisher.service
fi
