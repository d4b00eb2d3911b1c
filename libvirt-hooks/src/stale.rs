//! Stale records in the hooks: a record of another guest that holds a MAC or a device
//! this guest needs is dropped when its guest is gone, instead of refusing the guest.
//!
//! A hook may not ask libvirt which domains run (libvirtd waits for the hook: asking
//! would deadlock it), so here a record is stale when it was written in another boot,
//! or when none of its devices is on the host ([`hostnet::stale`]).

use hostnet::stale::{self, Stale};
use registry::{Attachment, BootId, RegistryError};

use crate::host::Host;

/// Why `a` (another guest's record, found by `who`'s hook) is stale, if it is. A device
/// lookup that fails is logged, and the record taken as live.
pub(crate) fn judge(host: &Host<'_>, who: &str, a: &Attachment) -> Option<Stale> {
    // Netlink is opened only when the boot does not decide.
    let looked = stale::judge_with(a, BootId::current(), None, &mut |dev| {
        Ok(host.nl.get()?.link(dev)?.is_some())
    });
    match looked {
        Ok(why) => why,
        Err(e) => {
            host.log.warn(&format!(
                "{who}: cannot tell whether the record of {} is stale (its devices cannot \
                 be looked up): {}",
                a.owner(),
                translator::diag::error_chain(&e)
            ));
            None
        }
    }
}

/// Logs that `a` was dropped as stale.
pub(crate) fn log_dropped(host: &Host<'_>, who: &str, a: &Attachment, why: &Stale) {
    host.log
        .info(&format!("{who}: {}", stale::dropped_line(a, why)));
}

/// Drops `a` if it is stale (and still as read), logging it: `true` when it is gone.
pub(crate) fn drop_if_stale(
    host: &Host<'_>,
    who: &str,
    a: &Attachment,
) -> Result<bool, RegistryError> {
    let Some(why) = judge(host, who, a) else {
        return Ok(false);
    };
    if host.registry.remove_if_unchanged(a)? {
        log_dropped(host, who, a, &why);
    }
    Ok(true)
}
