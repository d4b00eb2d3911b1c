//! The NIC model registry: which models exist, which are emulated, which guests can
//! use them.

use crate::guest::GuestType;

/// One NIC model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NicModel {
    /// The name in `model=` and `<model type>`.
    pub name: &'static str,
    /// A human description.
    pub description: &'static str,
    /// An emulated hardware NIC (false for paravirtual ones).
    pub emulated: bool,
    /// Provided by the device model (QEMU), so HVM only: every emulated NIC, and virtio.
    pub device_model: bool,
}

impl NicModel {
    /// Whether a guest of this type can have a NIC of this model.
    pub fn fits(&self, guest: GuestType) -> bool {
        !self.device_model || guest.has_emulated_nics()
    }
}

/// Xen's paravirtual NIC, libvirt's name for an xl `type=vif` NIC.
pub const NETFRONT: &str = "netfront";

/// The models vifkit knows, emulated ones in QEMU's spelling.
pub const MODELS: &[NicModel] = &[
    NicModel {
        name: "rtl8139",
        description: "Realtek RTL8139 (Xen's default emulated NIC)",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: "e1000",
        description: "Intel 82540EM gigabit (e1000)",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: "e1000-82540em",
        description: "Intel 82540EM gigabit",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: "e1000-82544gc",
        description: "Intel 82544GC gigabit",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: "e1000-82545em",
        description: "Intel 82545EM gigabit",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: "pcnet",
        description: "AMD PCnet32",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: "ne2k_pci",
        description: "NE2000 PCI",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: "ne2k_isa",
        description: "NE2000 ISA",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: "i82551",
        description: "Intel 82551 (e100)",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: "i82557b",
        description: "Intel 82557B (e100)",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: "i82559er",
        description: "Intel 82559ER (e100)",
        emulated: true,
        device_model: true,
    },
    NicModel {
        name: NETFRONT,
        description: "Xen paravirtual NIC (netfront)",
        emulated: false,
        device_model: false,
    },
    NicModel {
        name: "virtio-net",
        description: "virtio network device (QEMU; HVM and KVM guests)",
        emulated: false,
        device_model: true,
    },
];

/// Looks a model up by name (exact, as libxl passes it to QEMU unchanged).
pub fn lookup(name: &str) -> Option<&'static NicModel> {
    MODELS.iter().find(|m| m.name == name)
}

/// The models a guest type can use, in registry order.
pub fn for_guest(guest: GuestType) -> impl Iterator<Item = &'static NicModel> {
    MODELS.iter().filter(move |m| m.fits(guest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry() {
        assert!(lookup("e1000-82545em").unwrap().emulated);
        assert!(!lookup(NETFRONT).unwrap().emulated);
        assert!(lookup("E1000").is_none());
        let pv: Vec<_> = for_guest(GuestType::Pv).map(|m| m.name).collect();
        assert_eq!(pv, ["netfront"]);
        assert!(!lookup("virtio-net").unwrap().emulated);
        assert_eq!(for_guest(GuestType::Hvm).count(), MODELS.len());
    }
}
