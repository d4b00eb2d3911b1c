//! What libvirt asks of a hook: the driver (from the program's name or its `.d`
//! directory) and the four arguments `OBJECT OPERATION SUB-OPERATION EXTRA`.

use std::fmt;
use std::path::Path;

/// The libvirt driver whose hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Driver {
    /// `/etc/libvirt/hooks/libxl`: Xen guests.
    Libxl,
    /// `/etc/libvirt/hooks/qemu`: QEMU/KVM guests.
    Qemu,
    /// `/etc/libvirt/hooks/network`: libvirt virtual networks.
    Network,
}

impl Driver {
    /// Every driver vifkit hooks into, in installation order.
    pub const ALL: [Driver; 3] = [Driver::Libxl, Driver::Qemu, Driver::Network];

    /// The hook's file name (`libxl`, `qemu`, `network`).
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Libxl => "libxl",
            Driver::Qemu => "qemu",
            Driver::Network => "network",
        }
    }

    /// Whose records a guest hook of this driver writes (`libxl`: Xen's, `qemu`: QEMU's);
    /// `None` for the network hook.
    pub fn records(self) -> Option<registry::Driver> {
        match self {
            Driver::Libxl => Some(registry::Driver::Xen),
            Driver::Qemu => Some(registry::Driver::Qemu),
            Driver::Network => None,
        }
    }

    /// The driver a hook file name stands for.
    pub fn from_name(name: &str) -> Option<Driver> {
        match name {
            "libxl" => Some(Driver::Libxl),
            "qemu" => Some(Driver::Qemu),
            "network" => Some(Driver::Network),
            _ => None,
        }
    }

    /// The driver a program path stands for when libvirt runs it as a hook:
    /// `/etc/libvirt/hooks/qemu`, or any file in `/etc/libvirt/hooks/qemu.d/`.
    /// `None` for any other path (the program was run as `vifkit`).
    pub fn from_program(path: &Path) -> Option<Driver> {
        let base = path.file_name()?.to_str()?;
        if let Some(d) = Driver::from_name(base) {
            return Some(d);
        }
        let dir = path.parent()?.file_name()?.to_str()?;
        Driver::from_name(dir.strip_suffix(".d")?)
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation, as libvirt names it in the second argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Guest: before resources are allocated (`prepare begin -`).
    Prepare,
    /// Guest or network: starting (`start begin -`).
    Start,
    /// Guest or network: started (`started begin -`).
    Started,
    /// Guest or network: stopped (`stopped end -`).
    Stopped,
    /// Guest: resources released (`release end -`).
    Release,
    /// Guest: incoming migration, a filter (`migrate begin -`).
    Migrate,
    /// Guest: restore from a saved image, a filter (`restore begin -`).
    Restore,
    /// Guest: libvirtd restarted and found the guest running (`reconnect begin -`).
    Reconnect,
    /// Network: a port was created (`port-created begin -`).
    PortCreated,
    /// Network: a port was deleted (`port-deleted begin -`).
    PortDeleted,
    /// Anything else (`attach`, `updated`, `shutdown`, future operations): nothing to do.
    Other(String),
}

impl Op {
    /// The operation for libvirt's spelling.
    pub fn parse(s: &str) -> Op {
        match s {
            "prepare" => Op::Prepare,
            "start" => Op::Start,
            "started" => Op::Started,
            "stopped" => Op::Stopped,
            "release" => Op::Release,
            "migrate" => Op::Migrate,
            "restore" => Op::Restore,
            "reconnect" => Op::Reconnect,
            "port-created" => Op::PortCreated,
            "port-deleted" => Op::PortDeleted,
            other => Op::Other(other.to_owned()),
        }
    }

    /// libvirt's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Op::Prepare => "prepare",
            Op::Start => "start",
            Op::Started => "started",
            Op::Stopped => "stopped",
            Op::Release => "release",
            Op::Migrate => "migrate",
            Op::Restore => "restore",
            Op::Reconnect => "reconnect",
            Op::PortCreated => "port-created",
            Op::PortDeleted => "port-deleted",
            Op::Other(s) => s,
        }
    }

    /// Whether libvirt only logs a failure of this operation (the guest is going away
    /// anyway): the hook then exits 0 whatever happened.
    pub fn failure_is_only_logged(&self) -> bool {
        matches!(self, Op::Stopped | Op::Release | Op::PortDeleted)
    }
}

/// One hook invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Whose hook.
    pub driver: Driver,
    /// The guest's or network's name (first argument).
    pub object: String,
    /// The operation (second argument).
    pub op: Op,
    /// The sub-operation (`begin`, `end`, `-`).
    pub sub_op: String,
    /// The extra argument (`-`, or a reason for `release`).
    pub extra: String,
}

/// Arguments that are not what libvirt passes a hook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Expected the hook arguments OBJECT OPERATION SUB-OPERATION [EXTRA] as libvirt passes \
     them, got {count} argument(s)"
)]
pub struct ArgsError {
    /// How many were given.
    pub count: usize,
}

impl Request {
    /// Reads libvirt's arguments (`OBJECT OP SUBOP EXTRA`; a missing EXTRA is `-`).
    pub fn from_args<S: AsRef<str>>(driver: Driver, args: &[S]) -> Result<Request, ArgsError> {
        let a: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        match a.as_slice() {
            [object, op, sub_op] | [object, op, sub_op, _] if !object.is_empty() => Ok(Request {
                driver,
                object: (*object).to_owned(),
                op: Op::parse(op),
                sub_op: (*sub_op).to_owned(),
                extra: a.get(3).copied().unwrap_or("-").to_owned(),
            }),
            _ => Err(ArgsError { count: a.len() }),
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {}",
            self.driver,
            self.object,
            self.op.as_str(),
            self.sub_op,
            self.extra
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_comes_from_the_name_or_its_directory() {
        let d = |p: &str| Driver::from_program(Path::new(p));
        assert_eq!(d("/etc/libvirt/hooks/qemu"), Some(Driver::Qemu));
        assert_eq!(d("/etc/libvirt/hooks/libxl"), Some(Driver::Libxl));
        assert_eq!(d("/etc/libvirt/hooks/network"), Some(Driver::Network));
        assert_eq!(d("/etc/libvirt/hooks/qemu.d/50-vifkit"), Some(Driver::Qemu));
        assert_eq!(d("/etc/libvirt/hooks/libxl.d/x"), Some(Driver::Libxl));
        assert_eq!(d("network.d/50-vifkit"), Some(Driver::Network));
        assert_eq!(d("/usr/bin/vifkit"), None);
        assert_eq!(d("vifkit"), None);
        assert_eq!(d("/etc/libvirt/hooks/lxc"), None);
        assert_eq!(d("/etc/libvirt/hooks/lxc.d/50-vifkit"), None);
        assert_eq!(d("/etc/libvirt/hooks/qemu.dd/50-vifkit"), None);
        assert_eq!(d("/"), None);
    }

    #[test]
    fn guest_hooks_write_their_drivers_records() {
        assert_eq!(Driver::Libxl.records(), Some(registry::Driver::Xen));
        assert_eq!(Driver::Qemu.records(), Some(registry::Driver::Qemu));
        assert_eq!(Driver::Network.records(), None);
    }

    #[test]
    fn arguments_as_libvirt_passes_them() {
        let r = Request::from_args(Driver::Qemu, &["vm1", "release", "end", "-"]).unwrap();
        assert_eq!(r.object, "vm1");
        assert_eq!(r.op, Op::Release);
        assert_eq!(r.sub_op, "end");
        assert_eq!(r.extra, "-");
        assert_eq!(r.to_string(), "qemu vm1 release end -");
        let r = Request::from_args(Driver::Network, &["default", "port-created", "begin"]).unwrap();
        assert_eq!(r.op, Op::PortCreated);
        assert_eq!(r.extra, "-");
        let r = Request::from_args(Driver::Libxl, &["g", "attach", "begin", "-"]).unwrap();
        assert_eq!(r.op, Op::Other("attach".into()));
        for bad in [
            &[][..],
            &["a", "b"],
            &["a", "b", "c", "d", "e"],
            &["", "b", "c"],
        ] {
            assert!(Request::from_args(Driver::Qemu, bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Request::from_args(Driver::Qemu, &["a"])
                .unwrap_err()
                .to_string(),
            "Expected the hook arguments OBJECT OPERATION SUB-OPERATION [EXTRA] as libvirt \
             passes them, got 1 argument(s)"
        );
    }

    #[test]
    fn only_teardown_failures_are_only_logged() {
        for op in ["stopped", "release", "port-deleted"] {
            assert!(Op::parse(op).failure_is_only_logged(), "{op}");
        }
        for op in [
            "prepare",
            "start",
            "started",
            "migrate",
            "restore",
            "reconnect",
        ] {
            assert!(!Op::parse(op).failure_is_only_logged(), "{op}");
            assert_eq!(Op::parse(op).as_str(), op);
        }
    }
}
