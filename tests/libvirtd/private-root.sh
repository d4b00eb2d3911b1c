#!/usr/bin/env bash
# private-root.sh DIR CACHE: the private system a test's libvirtd runs in. Run as the
# first process of a new mount and PID namespace, inside the test's network namespace:
#   ip netns exec NS unshare --mount --pid --fork --kill-child private-root.sh DIR CACHE
# It gives the namespace its own /etc (an overlay over the host's, DIR/etc-upper holding
# the changes: libvirt's and vifkit's configuration), /run (DIR/run), /var/lib/libvirt,
# /var/log/libvirt (under DIR) and /var/cache/libvirt (CACHE, shared between runs: QEMU's
# capabilities, which libvirtd probes slowly at its first start), then stays as the
# namespace's init, reaping orphans, until it is killed. Killing it kills every process
# of the namespace (libvirtd, virtlogd, QEMU). The daemons are started by the caller
# (nsenter into this process's namespaces): see tests/common/libvirtd.rs.
set -euo pipefail
dir=$1 cache=$2
mount --make-rprivate /
mkdir -p "$dir"/{etc-upper,etc-work,run,lib,log} "$cache"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$dir/etc-upper,workdir=$dir/etc-work" /etc
mount --bind "$dir/run" /run
mount --bind "$dir/lib" /var/lib/libvirt
mount --bind "$dir/log" /var/log/libvirt
mount --bind "$cache" /var/cache/libvirt
mount -t proc proc /proc   # this PID namespace's processes

# No guests, networks or hooks of the host's; QEMU runs as root, unconfined.
rm -rf /etc/libvirt/hooks /etc/libvirt/qemu /etc/vifkit
mkdir -p /etc/libvirt/hooks /etc/libvirt/qemu/networks/autostart /etc/vifkit
cat >/etc/libvirt/qemu.conf <<'CONF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = []
CONF
cat >/etc/libvirt/libvirtd.conf <<'CONF'
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
CONF
printf 'registry = "sqlite:%s/registry.db"\n' "$dir" >/etc/vifkit/vifkit.toml
echo ready >"$dir/ready"
# The namespace's init: reaps what the daemons leave (bash waits for any child).
trap '' TERM INT HUP
while :; do sleep 3600 & wait $! || true; done
