#!/usr/bin/env bash
# Publishes portpublisherd, portpublisher and portpublisher-cni as self-contained Linux executables into OUTDIR, building from a copy of
# this checkout in a temporary directory, so the checkout's bin/ and obj/ are never written (and a root build leaves
# no root-owned files in it).
#   packaging/publish.sh OUTDIR [VERSION]
# Environment: RID (default from the machine: linux-x64 or linux-arm64; NativeAOT links for this machine only, so
# another RID needs a cross toolchain), DOTNET (default dotnet), BINARIES (default "portpublisherd portpublisher
# portpublisher-cni": which to publish).
#
# The CLI and the CNI plugin are native (NativeAOT, src/NativeAot.props): one binary each that starts in milliseconds,
# linked with clang (Debian: apt-get install clang). The daemon is a self-contained single file, not trimmed: it binds configuration and
# validates options by reflection (the Service project is not AOT/trim compatible). Neither needs the .NET SDK or
# runtime on the target, nor libicu (InvariantGlobalization).
set -euo pipefail

out=${1:?usage: packaging/publish.sh OUTDIR [VERSION]}
version=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
dotnet=${DOTNET:-dotnet}

if [ -z "${RID:-}" ]; then
  case "$(uname -m)" in
    x86_64) RID=linux-x64 ;;
    aarch64) RID=linux-arm64 ;;
    *) echo "publish.sh: no RID for $(uname -m); set RID" >&2; exit 2 ;;
  esac
fi

binaries=${BINARIES:-portpublisherd portpublisher portpublisher-cni}
native=0
for b in $binaries; do
  case "$b" in
    portpublisherd) ;;
    portpublisher|portpublisher-cni) native=1 ;;
    *) echo "publish.sh: BINARIES: unknown binary '$b' (portpublisherd, portpublisher, portpublisher-cni)" >&2; exit 2 ;;
  esac
done
if [ "$native" = 1 ] && ! command -v clang >/dev/null; then
  echo "publish.sh: clang is needed to link the native portpublisher and portpublisher-cni (Debian: apt-get install clang)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/portpublisher-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The sources and the build settings, without any build output.
tar -C "$root" --exclude=bin --exclude=obj -cf - \
  src Directory.Build.props Directory.Packages.props global.json .editorconfig | tar -C "$work" -xf -

# Analyzers already ran in the checkout's build (warnings are errors there); skipping them halves the compile. The
# trim and AOT analysis of the native publish itself still runs, and its warnings are errors.
props=(-c Release -r "$RID" --self-contained -p:DebugType=none -p:RunAnalyzers=false --nologo -v:q)
[ -n "$version" ] && props+=("-p:Version=$version")
# The copy has no .git: pass the commit that --version appends, as the checkout's build would.
if rev=$(git -C "$root" rev-parse HEAD 2>/dev/null); then
  props+=("-p:SourceRevisionId=$rev")
fi

mkdir -p "$out"
if [[ " $binaries " == *" portpublisherd "* ]]; then
  "$dotnet" publish "$work/src/PortPublisher.Service" "${props[@]}" -p:PublishSingleFile=true -o "$work/out/daemon"
  install -m 0755 "$work/out/daemon/portpublisherd" "$out/portpublisherd"
fi
if [[ " $binaries " == *" portpublisher "* ]]; then
  # PublishAot comes from the project (src/NativeAot.props); its symbols (portpublisher.dbg) are left behind.
  "$dotnet" publish "$work/src/PortPublisher.Cli" "${props[@]}" -o "$work/out/cli"
  install -m 0755 "$work/out/cli/portpublisher" "$out/portpublisher"
fi
if [[ " $binaries " == *" portpublisher-cni "* ]]; then
  "$dotnet" publish "$work/src/PortPublisher.Cni" "${props[@]}" -o "$work/out/cni"
  install -m 0755 "$work/out/cni/portpublisher-cni" "$out/portpublisher-cni"
fi
