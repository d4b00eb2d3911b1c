#!/usr/bin/env bash
# The package's install test, run by tests/run.sh as root: lintian finds no error;
# `dpkg -i` puts the binaries, man pages, completions, D-Bus files, units, the Cockpit
# page, libvirt hook links and xl scripts in place; `man vifkit` and bash completion work; `dpkg -r`
# leaves only the conffiles; `dpkg --purge` leaves nothing of the package (and removes
# the registry and lock directories vifkit made at run time).
#
# It installs into this machine's own /usr and /etc: it refuses to run where vifkit is
# already installed, and always removes the package again.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
deb=$(ls "$target"/deb/vifkit_*.deb)
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i)"
if dpkg-query -W -f='${Status}' vifkit 2>/dev/null | grep -q installed; then
  fail "a vifkit package is already installed here: not touching it"
fi
[ ! -e /usr/bin/vifkit ] || fail "/usr/bin/vifkit exists and is no package's: not touching it"

echo "== lintian"
lint=$(lintian --fail-on none --display-level '>=warning' "$deb" 2>&1 || true)
echo "$lint"
if grep -q '^E: ' <<<"$lint"; then fail "lintian reports errors"; fi

cleanup() { dpkg --purge vifkit >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== dpkg -i"
dpkg -i "$deb" >/dev/null
want=(
  /usr/bin/vifkit /usr/bin/vifkit-libvirt /usr/bin/vifkit-xl
  /etc/vifkit/vifkit.toml
  /usr/share/man/man8/vifkit.8.gz /usr/share/man/man8/vifkit-bridge-add.8.gz
  /usr/share/bash-completion/completions/vifkit
  /usr/share/zsh/vendor-completions/_vifkit
  /usr/share/fish/vendor_completions.d/vifkit.fish
  /usr/share/dbus-1/system.d/org.vifkit.conf
  /usr/share/dbus-1/system-services/org.vifkit.service
  /usr/share/polkit-1/actions/org.vifkit.policy
  /usr/share/dbus-1/interfaces/org.vifkit.{Bridges1,NicModels1,Pairings1,Translator1,Translator2,Bridge2,Nic2}.xml
  /usr/share/cockpit/vifkit/manifest.json /usr/share/cockpit/vifkit/index.html
  /usr/share/cockpit/vifkit/vifkit.js /usr/share/cockpit/vifkit/vifkit.css
  "$(pkg-config systemd --variable=systemdsystemunitdir)/vifkit.service"
  "$(pkg-config systemd --variable=systemdsystemunitdir)/vifkit-boot.service"
  /etc/libvirt/hooks/qemu.d/50-vifkit /etc/libvirt/hooks/libxl.d/50-vifkit
  /etc/libvirt/hooks/network.d/50-vifkit
  /etc/xen/scripts/vif-vifkit /etc/xen/scripts/vif-vifkit-route /etc/xen/scripts/vif-vifkit-nat
)
for f in "${want[@]}"; do [ -e "$f" ] || fail "$f is not installed"; done
for h in qemu libxl network; do
  [ "$(readlink "/etc/libvirt/hooks/$h.d/50-vifkit")" = /usr/bin/vifkit ] ||
    fail "/etc/libvirt/hooks/$h.d/50-vifkit does not link to /usr/bin/vifkit"
done
[ "$(/usr/bin/vifkit --version)" = "vifkit $(dpkg-query -W -f='${Version}' vifkit | sed 's/-[^-]*$//')" ] ||
  fail "vifkit --version does not match the package version"
# The boot unit is enabled (dh_installsystemd's postinst), as a symlink in wants/.
unitdir=$(pkg-config systemd --variable=systemdsystemunitdir)
[ -L /etc/systemd/system/multi-user.target.wants/vifkit-boot.service ] ||
  fail "vifkit-boot.service is not enabled"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' vifkit | awk 'NF {print $1}')
grep -qx /etc/vifkit/vifkit.toml <<<"$conffiles" || fail "/etc/vifkit/vifkit.toml is not a conffile"

echo "== man vifkit"
page=$(MANWIDTH=80 man -P cat vifkit 2>/dev/null) || fail "man vifkit failed"
grep -q 'bridge' <<<"$page" || fail "man vifkit does not list the bridge command"
page=$(MANWIDTH=80 man -P cat vifkit-bridge-add 2>/dev/null) || fail "man vifkit-bridge-add failed"
grep -q -- '--may-exist' <<<"$page" || fail "man vifkit-bridge-add lacks --may-exist"

echo "== bash completion"
words=$(bash -c 'source /usr/share/bash-completion/completions/vifkit
  COMP_WORDS=(vifkit bri); COMP_CWORD=1; COMP_LINE="vifkit bri"; COMP_POINT=${#COMP_LINE}
  _vifkit vifkit bri vifkit; echo "${COMPREPLY[*]}"')
[ "$words" = bridge ] || fail "bash completion of 'vifkit bri' gave '$words', not 'bridge'"
words=$(bash -c 'source /usr/share/bash-completion/completions/vifkit
  COMP_WORDS=(vifkit bridge ensure --a); COMP_CWORD=3; COMP_LINE="vifkit bridge ensure --a"
  COMP_POINT=${#COMP_LINE}; _vifkit vifkit --a ensure; echo "${COMPREPLY[*]}"')
[ "$words" = --all ] || fail "bash completion of 'vifkit bridge ensure --a' gave '$words'"

# What vifkit makes at run time: a registry and the lock directory.
/usr/bin/vifkit bridge add br-debtest --creatable >/dev/null
[ -f /var/lib/vifkit/registry.db ] || fail "the packaged vifkit made no registry at the default path"

echo "== dpkg -r"
files=$(dpkg -L vifkit)
dpkg -r vifkit >/dev/null
for f in $files; do
  [ -d "$f" ] && continue
  if grep -qx "$f" <<<"$conffiles"; then
    [ -e "$f" ] || fail "conffile $f went with dpkg -r (policy keeps it until purge)"
  elif [ -e "$f" ] || [ -L "$f" ]; then
    fail "$f is left after dpkg -r"
  fi
done
[ -f /var/lib/vifkit/registry.db ] || fail "dpkg -r removed the registry (only --purge may)"

echo "== dpkg --purge"
dpkg --purge vifkit >/dev/null
for f in $files; do
  [ -d "$f" ] && continue
  if [ -e "$f" ] || [ -L "$f" ]; then fail "$f is left after dpkg --purge"; fi
done
for d in /etc/vifkit /var/lib/vifkit /run/vifkit; do
  [ ! -e "$d" ] || fail "$d is left after dpkg --purge"
done
[ ! -e /etc/systemd/system/multi-user.target.wants/vifkit-boot.service ] ||
  fail "vifkit-boot.service is still enabled after purge"
trap - EXIT
echo "test-deb: ok ($(basename "$deb"))"
