//! The NIC model registry: which models exist, which are emulated, which guests can
//! use them, and what QEMU makes of a name.
//!
//! Under xl a model is QEMU's business: libxl starts the device model with
//! `-device MODEL,id=nicN,netdev=netN,mac=...` (`libxl__build_device_model_args_new` in
//! Xen's `tools/libs/light/libxl_dm.c`), unchecked. So a model works when it is the name
//! (or an alias, `qdev_alias_table` in QEMU's `system/qdev-monitor.c`) of a QEMU device;
//! the names below are QEMU's (`hw/net/*.c`). libvirt's KVM names that are not QEMU
//! device names (`virtio`) make QEMU refuse to start the guest under xl: [`notice`]
//! says which device to write instead.

use crate::guest::GuestType;

/// One NIC model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NicModel {
    /// The name in `model=` and `<model type>`.
    pub name: &'static str,
    /// A human description.
    pub description: &'static str,
    /// An emulated hardware NIC (false for paravirtual ones: netfront, virtio).
    pub emulated: bool,
    /// Provided by the device model (QEMU), so HVM only: every emulated NIC, and virtio.
    pub device_model: bool,
    /// The QEMU device type the name selects (itself, or the type it is an alias of);
    /// `None` for netfront, which is Xen's and not QEMU's.
    pub qemu_device: Option<&'static str>,
}

impl NicModel {
    /// Whether a guest of this type can have a NIC of this model.
    pub fn fits(&self, guest: GuestType) -> bool {
        !self.device_model || guest.has_emulated_nics()
    }
}

/// Xen's paravirtual NIC, libvirt's name for an xl `type=vif` NIC.
pub const NETFRONT: &str = "netfront";

/// An emulated NIC that QEMU provides under the name `name`.
const fn qemu(name: &'static str, description: &'static str) -> NicModel {
    NicModel {
        name,
        description,
        emulated: true,
        device_model: true,
        qemu_device: Some(name),
    }
}

/// A QEMU alias of an emulated NIC's device type.
const fn alias(name: &'static str, of: &'static str, description: &'static str) -> NicModel {
    NicModel {
        name,
        description,
        emulated: true,
        device_model: true,
        qemu_device: Some(of),
    }
}

/// A virtio NIC, paravirtual but provided by QEMU.
const fn virtio(name: &'static str, of: &'static str, description: &'static str) -> NicModel {
    NicModel {
        name,
        description,
        emulated: false,
        device_model: true,
        qemu_device: Some(of),
    }
}

/// The models vifkit knows: netfront, and the x86 NIC devices QEMU has, in QEMU's
/// spelling.
pub const MODELS: &[NicModel] = &[
    qemu("rtl8139", "Realtek RTL8139 (Xen's default emulated NIC)"),
    qemu("e1000", "Intel 82540EM gigabit (e1000)"),
    alias(
        "e1000-82540em",
        "e1000",
        "Intel 82540EM gigabit (QEMU's alias of e1000)",
    ),
    qemu("e1000-82544gc", "Intel 82544GC gigabit"),
    qemu("e1000-82545em", "Intel 82545EM gigabit"),
    qemu("e1000e", "Intel 82574L gigabit (PCI Express)"),
    qemu("vmxnet3", "VMware paravirtualized NIC (emulated by QEMU)"),
    qemu("pcnet", "AMD PCnet32"),
    qemu("ne2k_pci", "NE2000 PCI"),
    qemu("ne2k_isa", "NE2000 ISA"),
    qemu("i82550", "Intel 82550 (e100)"),
    qemu("i82551", "Intel 82551 (e100)"),
    qemu("i82557a", "Intel 82557A (e100)"),
    qemu("i82557b", "Intel 82557B (e100)"),
    qemu("i82557c", "Intel 82557C (e100)"),
    qemu("i82558a", "Intel 82558A (e100)"),
    qemu("i82558b", "Intel 82558B (e100)"),
    qemu("i82559a", "Intel 82559A (e100)"),
    qemu("i82559b", "Intel 82559B (e100)"),
    qemu("i82559c", "Intel 82559C (e100)"),
    qemu("i82559er", "Intel 82559ER (e100)"),
    qemu("i82562", "Intel 82562 (e100)"),
    qemu("i82801", "Intel 82801 (e100)"),
    NicModel {
        name: NETFRONT,
        description: "Xen paravirtual NIC (netfront)",
        emulated: false,
        device_model: false,
        qemu_device: None,
    },
    virtio(
        "virtio-net-pci",
        "virtio-net-pci",
        "virtio network device on PCI (QEMU; HVM guests with virtio drivers)",
    ),
    virtio(
        "virtio-net",
        "virtio-net-pci",
        "virtio network device (QEMU's alias of virtio-net-pci on x86)",
    ),
    virtio(
        "virtio-net-pci-transitional",
        "virtio-net-pci-transitional",
        "virtio network device, transitional (legacy and modern drivers)",
    ),
    virtio(
        "virtio-net-pci-non-transitional",
        "virtio-net-pci-non-transitional",
        "virtio network device, modern drivers only",
    ),
];

/// libvirt's model names under KVM that are not QEMU device names, with the QEMU device
/// each stands for (libvirt's QEMU driver translates them; libxl does not).
pub const LIBVIRT_ONLY: &[(&str, &str)] = &[
    ("virtio", "virtio-net-pci"),
    ("virtio-transitional", "virtio-net-pci-transitional"),
    ("virtio-non-transitional", "virtio-net-pci-non-transitional"),
];

/// Looks a model up by name (exact, as libxl passes it to QEMU unchanged).
pub fn lookup(name: &str) -> Option<&'static NicModel> {
    MODELS.iter().find(|m| m.name == name)
}

/// The models a guest type can use, in registry order.
pub fn for_guest(guest: GuestType) -> impl Iterator<Item = &'static NicModel> {
    MODELS.iter().filter(move |m| m.fits(guest))
}

/// What to tell the user about an HVM NIC's model, the same in both directions (`model=`
/// and `<model type>`): nothing for a model QEMU has; for a libvirt name QEMU does not
/// know (`virtio`), the device xl needs; for any other name, that vifkit does not know
/// it. A sentence without the model's name, which the caller puts before it.
pub fn notice(name: &str) -> Option<String> {
    if lookup(name).is_some() {
        return None;
    }
    Some(match LIBVIRT_ONLY.iter().find(|(n, _)| *n == name) {
        Some((_, device)) => format!(
            "QEMU has no NIC device `{name}` (it is libvirt's name under KVM); xl hands the \
             model to QEMU as its -device name, so the guest would not start: the device \
             xl needs is {device}"
        ),
        None => format!(
            "`{name}` is not a NIC model vifkit knows; xl hands it to QEMU unchecked as its \
             -device name"
        ),
    })
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
        assert!(!lookup("virtio-net-pci").unwrap().emulated);
        assert_eq!(lookup("e1000-82540em").unwrap().qemu_device, Some("e1000"));
        assert_eq!(for_guest(GuestType::Hvm).count(), MODELS.len());
        // Every name is one `model=` and `<model type>` take, and appears once.
        for (i, m) in MODELS.iter().enumerate() {
            assert_eq!(crate::vif::check_model(m.name), Ok(()), "{}", m.name);
            assert!(MODELS[..i].iter().all(|o| o.name != m.name), "{}", m.name);
            assert_eq!(m.qemu_device.is_none(), m.name == NETFRONT);
            if let Some(d) = m.qemu_device {
                assert!(lookup(d).is_some(), "{d}");
            }
        }
        for (name, device) in LIBVIRT_ONLY {
            assert!(lookup(name).is_none());
            assert!(lookup(device).is_some());
        }
    }

    #[test]
    fn notices() {
        for known in [
            "rtl8139",
            "e1000",
            "e1000e",
            "virtio-net-pci",
            "i82559er",
            "vmxnet3",
        ] {
            assert_eq!(notice(known), None, "{known}");
        }
        let v = notice("virtio").unwrap();
        assert!(v.contains("virtio-net-pci"), "{v}");
        let f = notice("fancy").unwrap();
        assert!(f.contains("not a NIC model vifkit knows"), "{f}");
    }
}
