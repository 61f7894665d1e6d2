#!/usr/bin/env bash
# Builds the portpublisher .deb with dpkg-deb: the native portpublisher and portpublisher-cni (NativeAOT) and the
# self-contained portpublisherd (no .NET needed on the target), the CNI plugin linked into /usr/lib/cni (where Debian's
# containernetworking-plugins and Podman look), the systemd unit, the default configuration as a conffile, the
# maintainer scripts (a portpublisher system user and group; enable and start, restart on upgrade, stop on removal,
# purge the state), bash completion, man pages generated from the binaries' own --help, copyright and changelog.
#   packaging/build-deb.sh [VERSION] [OUTDIR]        (default: 1.0.0, packaging/out)
# Prints the path of the .deb last. Needs the .NET SDK, clang (links the native CLI), dpkg-deb, objcopy and objdump
# (binutils), and unshare (util-linux); it runs the built daemon's --help for its man page inside a throwaway network
# namespace (unshare -n as root, unshare -rn otherwise), never in this machine's own. Runs as any user: files are
# owned by root in the package either way (--root-owner-group).
# Environment: LINTIAN=1 runs lintian on the result (packaging/lintian-overrides lists what is accepted and why);
# PORTPUBLISHER_PUBLISHED=DIR packages the binaries publish.sh put in DIR instead of publishing again.
set -euo pipefail

version=${1:-1.0.0}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$root/packaging/out}
here=$root/packaging
arch=$(dpkg --print-architecture)
case "$arch" in
  amd64) rid=linux-x64 ;;
  arm64) rid=linux-arm64 ;;
  *) echo "build-deb.sh: no .NET runtime identifier for $arch" >&2; exit 2 ;;
esac
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || { echo "build-deb.sh: invalid version '$version'" >&2; exit 2; }
for tool in dpkg-deb unshare gzip objcopy; do
  command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool is missing (apt-get install dpkg util-linux gzip binutils)" >&2; exit 1; }
done

stage=$(mktemp -d "${TMPDIR:-/tmp}/portpublisher-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg=$stage/pkg
lib=$pkg/usr/lib/portpublisher
doc=$pkg/usr/share/doc/portpublisher
started=$SECONDS

if [ -n "${PORTPUBLISHER_PUBLISHED:-}" ]; then
  # For iterating on the packaging alone: binaries that publish.sh made before.
  install -D -m 0755 -t "$lib" "$PORTPUBLISHER_PUBLISHED/portpublisherd" "$PORTPUBLISHER_PUBLISHED/portpublisher" \
    "$PORTPUBLISHER_PUBLISHED/portpublisher-cni"
else
  RID=$rid "$here/publish.sh" "$lib" "$version"
fi
published=$SECONDS

# As dh_strip does: the native CLI's .comment (compiler idents of the objects linked in) is not needed at run time.
# (The daemon's cannot be touched: its single-file bundle is appended to the ELF file, which objcopy would drop.)
objcopy --remove-section=.comment "$lib/portpublisher"
objcopy --remove-section=.comment "$lib/portpublisher-cni"

# The daemon's --help and --version only print, but the rule is that it never runs in this machine's namespace.
if [ "$(id -u)" = 0 ]; then isolate=(unshare -n); else isolate=(unshare -rn); fi

install -d "$pkg/usr/bin" "$pkg/usr/sbin" "$pkg/usr/lib/cni" "$pkg/lib/systemd/system" "$pkg/etc/portpublisher" \
  "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/man/man1" "$pkg/usr/share/man/man8" \
  "$doc/examples" "$pkg/usr/share/lintian/overrides" "$pkg/DEBIAN"
ln -s ../lib/portpublisher/portpublisher "$pkg/usr/bin/portpublisher"
ln -s ../lib/portpublisher/portpublisherd "$pkg/usr/sbin/portpublisherd"
# Runtimes run plugins by their type's name from their CNI directories: Podman and CRI-O search /usr/lib/cni;
# containerd and the kubelet use /opt/cni/bin, which a package does not own (the README says to link it there).
ln -s ../portpublisher/portpublisher-cni "$pkg/usr/lib/cni/portpublisher-cni"
install -m 0644 "$root/deploy/portpublisher.service" "$pkg/lib/systemd/system/portpublisher.service"
install -m 0644 "$root/deploy/portpublisher.json" "$pkg/etc/portpublisher/portpublisher.json"
install -m 0644 "$root/deploy/prometheus-scrape.yml" "$doc/examples/prometheus-scrape.yml"
install -m 0644 "$root/deploy/portpublisher-cni.conflist" "$doc/examples/portpublisher-cni.conflist"
install -m 0644 "$here/debian/copyright" "$doc/copyright"
gzip -9nc "$here/debian/changelog" > "$doc/changelog.gz"
gzip -9nc "$root/README.md" > "$doc/README.md.gz"
install -m 0644 "$here/lintian-overrides" "$pkg/usr/share/lintian/overrides/portpublisher"
"$here/completion.sh" "$lib/portpublisher" > "$pkg/usr/share/bash-completion/completions/portpublisher"
bash -n "$pkg/usr/share/bash-completion/completions/portpublisher"

# The pages' date is the changelog's, so the same sources make the same package.
date=$(date -u -d "$(sed -n 's/^ -- .*>  //p' "$here/debian/changelog" | head -1)" +%Y-%m-%d)
"$here/man.sh" portpublisher 1 "publish ports of network namespaces, as docker run -p does" "$date" "$version" \
  "$here/man/portpublisher.1.in" -- "$lib/portpublisher" | gzip -9n > "$pkg/usr/share/man/man1/portpublisher.1.gz"
"$here/man.sh" portpublisherd 8 "the PortPublisher service: publishes ports of network namespaces" "$date" "$version" \
  "$here/man/portpublisherd.8.in" -- "${isolate[@]}" "$lib/portpublisherd" | gzip -9n > "$pkg/usr/share/man/man8/portpublisherd.8.gz"

# The oldest glibc the binaries accept: the newest GLIBC_x.y symbol version they import.
glibc=$(objdump -T "$lib/portpublisherd" "$lib/portpublisher" "$lib/portpublisher-cni" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
[ -n "$glibc" ] || { echo "build-deb.sh: could not read the glibc version the binaries need (objdump from binutils)" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@GLIBC@/$glibc/" \
  "$here/debian/control.in" > "$pkg/DEBIAN/control"
install -m 0644 "$here/debian/conffiles" "$pkg/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$here/debian/$script" "$pkg/DEBIAN/$script"
done
(cd "$pkg" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/portpublisher_${version}_${arch}.deb
# xz at level 6 (dpkg's default) keeps the 106 MB of binaries to about 35 MB.
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "build-deb.sh: publish $((published - started)) s, package $((SECONDS - published)) s, $(du -h "$deb" | cut -f1) ($size KiB installed)" >&2

if [ "${LINTIAN:-0}" = 1 ]; then
  lintian --display-info --pedantic --info "$deb" >&2 || true
fi
echo "$deb"
