//! Looking up libvirt networks' bridges (`--connect URI`), read-only, with the `virt`
//! crate. Never used from a hook (a hook must not call back into libvirt).

use translator::to_vif::{NetworkMap, NetworkResolver};

use crate::report::Failure;

#[cfg(feature = "libvirt")]
mod imp {
    use super::*;
    use virt::connect::Connect;
    use virt::error::ErrorNumber;

    /// A read-only libvirt connection (closed by `Connect`'s own `Drop`), with
    /// `--network` entries taking precedence.
    pub struct LibvirtNetworks {
        pub(super) map: NetworkMap,
        pub(super) conn: Connect,
    }

    impl NetworkResolver for LibvirtNetworks {
        fn bridge_of(&self, network: &str) -> Result<Option<String>, String> {
            if let Some(b) = self.map.bridge_of(network)? {
                return Ok(Some(b));
            }
            match self.conn.lookup_network_by_name(network) {
                Ok(net) => net
                    .bridge_name()
                    .map(Some)
                    .map_err(|e| e.message().to_owned()),
                Err(e) if e.code().is(ErrorNumber::NoNetwork) => Ok(None),
                Err(e) => Err(e.message().to_owned()),
            }
        }
    }

    pub fn open(uri: &str, map: NetworkMap) -> Result<Box<dyn NetworkResolver>, Failure> {
        // libvirt prints every error to stderr by default; vifkit reports them itself.
        virt::error::clear_error_callback();
        match Connect::open_read_only(Some(uri)) {
            Ok(conn) => Ok(Box::new(LibvirtNetworks { map, conn })),
            Err(e) => Err(Failure::Invalid(vec![format!(
                "Cannot connect to libvirt at {uri}: {}",
                e.message()
            )])),
        }
    }
}

/// The resolver for `--connect URI`, with the `--network` map first.
#[cfg(feature = "libvirt")]
pub fn resolver(uri: &str, map: NetworkMap) -> Result<Box<dyn NetworkResolver>, Failure> {
    imp::open(uri, map)
}

/// Without the `libvirt` feature, `--connect` is refused with the reason.
#[cfg(not(feature = "libvirt"))]
pub fn resolver(uri: &str, _map: NetworkMap) -> Result<Box<dyn NetworkResolver>, Failure> {
    Err(Failure::Invalid(vec![format!(
        "--connect {uri}: this vifkit was built without the libvirt feature; give --network NAME=BRIDGE"
    )]))
}
