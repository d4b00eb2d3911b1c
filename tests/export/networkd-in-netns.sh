#!/usr/bin/env bash
# Runs the system's systemd-networkd on DIR's files, inside the network namespace this
# script runs in (`ip netns exec NS unshare -m --propagation private bash THIS DIR`):
# a private mount namespace hides the host's network configuration, runtime state and
# system bus, and a read-only sysfs makes networkd treat links as initialized without
# udev (as in a container). networkd logs to stderr; it runs until it is killed.
set -euo pipefail
dir=$1
for d in /etc/systemd/network /run/systemd/network /usr/lib/systemd/network /run/systemd /run/dbus; do
  [ -d "$d" ] && mount -t tmpfs tmpfs "$d"
done
umount -l /sys
mount -t sysfs -o ro sysfs /sys
mkdir -p /run/systemd/netif
chown systemd-network: /run/systemd/netif
cp -r "$dir"/. /etc/systemd/network/
export SYSTEMD_LOG_LEVEL=debug SYSTEMD_LOG_TARGET=console
exec /lib/systemd/systemd-networkd
