//! `vifkit-libvirt events URI`: libvirt's domain lifecycle and device events as JSON
//! lines, and detach requests taken on stdin (see the binary's documentation).
//!
//! The `virt` crate 0.5 has libvirt's default event loop (`virEventRegisterDefaultImpl`,
//! `virEventRunDefaultImpl`) but no domain event callbacks: they are registered here
//! through `virt::sys`, in the small unsafe wrappers below. A callback only notes what
//! happened (domain name, id, device alias); the loop then asks libvirt for the live XML
//! outside the callback and prints the line. Detach requests run on a thread of their
//! own with a connection of their own, so a detach that waits for the guest never holds
//! up the events.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::io::{BufRead, Write};
use std::sync::Mutex;

use serde_json::{json, Value};
use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

/// One event, as a callback noted it.
struct Noted {
    event: &'static str,
    domain: String,
    id: Option<u32>,
    uuid: Option<String>,
    alias: Option<String>,
}

thread_local! {
    /// What the callbacks noted since the loop last looked (callbacks run on the loop's
    /// thread, inside `virEventRunDefaultImpl`).
    static NOTED: RefCell<Vec<Noted>> = const { RefCell::new(Vec::new()) };
}

/// stdout, shared by the event loop and the detach thread: one whole line at a time.
static OUT: Mutex<()> = Mutex::new(());

fn emit(v: &Value) {
    let _guard = OUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut line = v.to_string();
    line.push('\n');
    let mut out = std::io::stdout().lock();
    // A reader gone away (serve stopped) ends the helper.
    if out
        .write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

/// A C string libvirt owns, copied; `None` for a null pointer.
///
/// # Safety
/// `p` is null or a NUL-terminated string valid for the call.
unsafe fn c_str(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null, NUL-terminated and valid for this call (the caller's promise).
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// Notes an event of `dom` (a domain pointer libvirt passes a callback, valid for the
/// callback's duration).
fn note(dom: sys::virDomainPtr, event: &'static str, alias: Option<String>) {
    // SAFETY: `dom` is the live domain object libvirt hands the callback.
    let name = unsafe { sys::virDomainGetName(dom) };
    // SAFETY: the name is null or a C string owned by `dom`, copied at once.
    let domain = unsafe { c_str(name) }.unwrap_or_default();
    // SAFETY: as above; virDomainGetID returns (unsigned)-1 for an inactive domain.
    let id = unsafe { sys::virDomainGetID(dom) };
    let mut uuid = [0 as c_char; sys::VIR_UUID_STRING_BUFLEN as usize];
    // SAFETY: the buffer has VIR_UUID_STRING_BUFLEN bytes, as the call needs.
    let uuid = match unsafe { sys::virDomainGetUUIDString(dom, uuid.as_mut_ptr()) } {
        // SAFETY: libvirt wrote a NUL-terminated string into the buffer.
        0 => unsafe { c_str(uuid.as_ptr()) },
        _ => None,
    };
    NOTED.with(|n| {
        n.borrow_mut().push(Noted {
            event,
            domain,
            id: (id != u32::MAX).then_some(id),
            uuid,
            alias,
        })
    });
}

unsafe extern "C" fn on_lifecycle(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    event: c_int,
    _detail: c_int,
    _opaque: *mut c_void,
) -> c_int {
    let what = match u32::try_from(event) {
        Ok(sys::VIR_DOMAIN_EVENT_STARTED) => "started",
        Ok(sys::VIR_DOMAIN_EVENT_STOPPED) => "stopped",
        _ => return 0,
    };
    note(dom, what, None);
    0
}

unsafe extern "C" fn on_device_added(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    alias: *const c_char,
    _opaque: *mut c_void,
) {
    // SAFETY: libvirt passes the alias as a C string valid during the callback.
    note(dom, "device-added", unsafe { c_str(alias) });
}

unsafe extern "C" fn on_device_removed(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    alias: *const c_char,
    _opaque: *mut c_void,
) {
    // SAFETY: as for on_device_added.
    note(dom, "device-removed", unsafe { c_str(alias) });
}

unsafe extern "C" fn on_close(_conn: sys::virConnectPtr, _reason: c_int, _opaque: *mut c_void) {
    eprintln!("error: The connection to libvirt was closed");
    std::process::exit(1);
}

/// Registers `cb` for event `id` of every domain of `conn`.
fn register(
    conn: &Connect,
    id: sys::virDomainEventID,
    cb: sys::virConnectDomainEventGenericCallback,
) -> Result<(), String> {
    // SAFETY: the pointer is used only while `conn` lives (below, in this call).
    let ptr = unsafe { conn.as_ptr() };
    // SAFETY: the connection is open and outlives the loop (it is never dropped before
    // the process exits); `cb` has the signature libvirt calls for `id` (cast to the
    // generic type as libvirt's VIR_DOMAIN_EVENT_CALLBACK macro does); no opaque data.
    let r = unsafe {
        sys::virConnectDomainEventRegisterAny(
            ptr,
            std::ptr::null_mut(),
            c_int::try_from(id).unwrap_or(-1),
            cb,
            std::ptr::null_mut(),
            None,
        )
    };
    if r < 0 {
        return Err(format!(
            "Cannot follow libvirt's domain events (event {id}): {}",
            virt::error::Error::last_error().message()
        ));
    }
    Ok(())
}

/// A callback of libvirt's specific type as the generic type `RegisterAny` takes.
macro_rules! generic {
    ($f:expr, $t:ty) => {
        // SAFETY: only the pointer's type changes; libvirt calls it with the arguments
        // of the event it is registered for, which are $t's.
        Some(unsafe {
            std::mem::transmute::<
                $t,
                unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void),
            >($f)
        })
    };
}

/// What each noted event prints: the domain's live XML with it (but for `stopped`).
fn report(conn: &Connect, n: Noted) {
    let mut v = json!({
        "event": n.event,
        "domain": n.domain,
        "id": n.id,
        "uuid": n.uuid,
        "alias": n.alias,
    });
    if n.event != "stopped" {
        let xml = conn
            .lookup_domain_by_name(&n.domain)
            .and_then(|d| d.xml_desc(0));
        match xml {
            Ok(xml) => v["xml"] = Value::String(xml),
            // Gone meanwhile: its `stopped` follows.
            Err(_) => return,
        }
    }
    emit(&v);
}

/// A detach request's interface element (from the domain's live XML, as the caller
/// read it), checked before it reaches libvirt.
fn detach_xml(element: &str) -> Result<&str, String> {
    if element.len() > 64 * 1024 || !element.starts_with("<interface") {
        return Err(format!(
            "Refused detach request: not an <interface> element ({} bytes)",
            element.len()
        ));
    }
    Ok(element)
}

/// Takes detach requests from stdin until it closes, then ends the process.
fn serve_requests(uri: String) {
    let conn = match Connect::open(Some(&uri)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: Cannot connect to libvirt at {uri}: {}", e.message());
            std::process::exit(1);
        }
    };
    let stdin = std::io::stdin().lock();
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        let Ok(req) = serde_json::from_str::<Value>(&line) else {
            eprintln!("warning: Not a request: {}", line.escape_debug());
            continue;
        };
        let d = &req["detach"];
        let (Some(domain), Some(mac), Some(element)) =
            (d["domain"].as_str(), d["mac"].as_str(), d["xml"].as_str())
        else {
            eprintln!("warning: Not a detach request: {}", line.escape_debug());
            continue;
        };
        let done = detach_xml(element).and_then(|xml| {
            let dom: Domain = conn
                .lookup_domain_by_name(domain)
                .map_err(|e| e.message().to_owned())?;
            dom.detach_device_flags(xml, sys::VIR_DOMAIN_AFFECT_LIVE)
                .map_err(|e| e.message().to_owned())
        });
        emit(&json!({
            "event": "detached",
            "domain": domain,
            "mac": mac,
            "error": done.err(),
        }));
    }
    std::process::exit(0);
}

/// `events URI`: never returns but with an error.
pub fn follow(uri: &str) -> Result<String, String> {
    virt::error::clear_error_callback();
    virt::event::event_register_default_impl()
        .map_err(|e| format!("Cannot start libvirt's event loop: {}", e.message()))?;
    let conn = Connect::open(Some(uri))
        .map_err(|e| format!("Cannot connect to libvirt at {uri}: {}", e.message()))?;
    type Lifecycle = unsafe extern "C" fn(
        sys::virConnectPtr,
        sys::virDomainPtr,
        c_int,
        c_int,
        *mut c_void,
    ) -> c_int;
    type Device =
        unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *const c_char, *mut c_void);
    register(
        &conn,
        sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        generic!(on_lifecycle as Lifecycle, Lifecycle),
    )?;
    register(
        &conn,
        sys::VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
        generic!(on_device_added as Device, Device),
    )?;
    register(
        &conn,
        sys::VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
        generic!(on_device_removed as Device, Device),
    )?;
    // SAFETY: the pointer is used only while `conn` lives (below, in this call).
    let ptr = unsafe { conn.as_ptr() };
    // SAFETY: the connection is open; `on_close` takes the arguments of
    // virConnectCloseFunc and no opaque data.
    let closed = unsafe {
        sys::virConnectRegisterCloseCallback(ptr, Some(on_close), std::ptr::null_mut(), None)
    };
    if closed < 0 {
        return Err(format!(
            "Cannot follow the connection to {uri}: {}",
            virt::error::Error::last_error().message()
        ));
    }
    // Notice a daemon gone within seconds, not only at the next call.
    let _ = conn.set_keep_alive(5, 3);
    let requests_uri = uri.to_owned();
    std::thread::Builder::new()
        .name("detach".into())
        .spawn(move || serve_requests(requests_uri))
        .map_err(|e| format!("Cannot start the request thread: {e}"))?;
    emit(&json!({ "event": "ready" }));
    loop {
        virt::event::event_run_default_impl()
            .map_err(|e| format!("libvirt's event loop failed: {}", e.message()))?;
        let noted = NOTED.with(|n| std::mem::take(&mut *n.borrow_mut()));
        for n in noted {
            report(&conn, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_interface_element_is_detached() {
        let nic = "<interface type='bridge'><mac address='52:54:00:00:0a:01'/></interface>";
        assert_eq!(detach_xml(nic), Ok(nic));
        assert_eq!(
            detach_xml("<disk type='file'/>"),
            Err("Refused detach request: not an <interface> element (19 bytes)".into())
        );
        let big = format!("<interface>{}</interface>", " ".repeat(70_000));
        assert!(detach_xml(&big).is_err());
    }
}
