"""Reads NetworkManager keyfiles with libnm's own keyfile reader (NM.keyfile_read, the
code the daemon's keyfile plugin uses) and checks each connection (verify, without
normalising). Prints one line per file: name, id, type, interface, master, slave type,
and the bridge/ethernet/vlan settings; any warning or error fails (exit 1)."""
import sys

import gi

gi.require_version("NM", "1.0")
from gi.repository import GLib, NM  # noqa: E402

bad = 0
for path in sys.argv[1:]:
    kf = GLib.KeyFile()
    kf.load_from_file(path, GLib.KeyFileFlags.NONE)
    warnings = []

    def handler(keyfile, connection, handler_type, data, *user):
        if handler_type == NM.KeyfileHandlerType.WARN:
            w = data.warn_get()
            warnings.append(w[0] if isinstance(w, tuple) else str(w))
        return True

    try:
        c = NM.keyfile_read(
            kf, "/etc/NetworkManager/system-connections", NM.KeyfileHandlerFlags.NONE, handler, None
        )
        c.verify()
    except GLib.Error as e:
        print(f"{path}: {e.message}", file=sys.stderr)
        bad += 1
        continue
    for w in warnings:
        print(f"{path}: warning: {w}", file=sys.stderr)
        bad += 1
    s = c.get_setting_connection()
    out = [
        path.rsplit("/", 1)[-1],
        s.get_id(),
        s.get_connection_type(),
        s.get_interface_name(),
        f"master={s.get_master()}",
        f"slave-type={s.get_slave_type()}",
    ]
    b = c.get_setting_bridge()
    if b:
        out.append(f"stp={b.get_stp()}")
    w = c.get_setting_wired()
    if w and w.get_mtu():
        out.append(f"mtu={w.get_mtu()}")
    v = c.get_setting_vlan()
    if v:
        out.append(f"vlan={v.get_parent()}:{v.get_id()}")
    print(" ".join(out))
sys.exit(1 if bad else 0)
