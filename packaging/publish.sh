#!/usr/bin/env bash
# Publishes portpublisherd and portpublisher as self-contained single-file Linux executables into OUTDIR, building
# from a copy of this checkout in a temporary directory, so the checkout's bin/ and obj/ are never written (and a root
# build leaves no root-owned files in it).
#   packaging/publish.sh OUTDIR [VERSION]
# Environment: RID (default from the machine: linux-x64 or linux-arm64), DOTNET (default dotnet).
#
# The daemon is self-contained but not trimmed: it binds configuration and validates options by reflection (the
# Service project is not AOT/trim compatible). The CLI is trimmed (its code is trim-analyzed, JSON source-generated):
# 17 MB instead of 70. Neither needs the .NET SDK or runtime on the target, nor libicu (InvariantGlobalization).
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

work=$(mktemp -d "${TMPDIR:-/tmp}/portpublisher-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The sources and the build settings, without any build output.
tar -C "$root" --exclude=bin --exclude=obj -cf - \
  src Directory.Build.props Directory.Packages.props global.json .editorconfig | tar -C "$work" -xf -

# Analyzers already ran in the checkout's build (warnings are errors there); skipping them halves the compile.
props=(-c Release -r "$RID" --self-contained -p:PublishSingleFile=true -p:DebugType=none -p:RunAnalyzers=false --nologo -v:q)
[ -n "$version" ] && props+=("-p:Version=$version")
# The copy has no .git: pass the commit that --version appends, as the checkout's build would.
if rev=$(git -C "$root" rev-parse HEAD 2>/dev/null); then
  props+=("-p:SourceRevisionId=$rev")
fi

mkdir -p "$out"
"$dotnet" publish "$work/src/PortPublisher.Service" "${props[@]}" -o "$work/out/daemon"
"$dotnet" publish "$work/src/PortPublisher.Cli" "${props[@]}" -p:PublishTrimmed=true -o "$work/out/cli"
install -m 0755 "$work/out/daemon/portpublisherd" "$out/portpublisherd"
install -m 0755 "$work/out/cli/portpublisher" "$out/portpublisher"
