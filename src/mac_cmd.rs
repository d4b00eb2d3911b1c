//! `vifkit mac`: new MAC addresses.

use anyhow::{Context, Result};
use translator::mac::{MacAddr, MacStrategy};

/// Prints `count` new addresses, one per line.
pub fn run(oui: Option<&str>, xen_oui: bool, count: u32) -> Result<String> {
    let strategy = match (oui, xen_oui) {
        (Some(o), _) => MacStrategy::oui(o).with_context(|| format!("Invalid --oui `{o}`"))?,
        (None, true) => MacStrategy::XenOui,
        (None, false) => MacStrategy::LocalRandom,
    };
    let mut out = String::with_capacity(18 * count as usize);
    for _ in 0..count {
        let mac = MacAddr::generate(strategy).context("Cannot read /dev/urandom")?;
        mac.write_to(&mut out);
        out.push('\n');
    }
    Ok(out)
}
