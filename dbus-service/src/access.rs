//! Who may change the registry: reading is open to every local user; `Register`,
//! `Unregister` and `Ensure` need uid 0 or polkit's yes for the action
//! [`MANAGE_ACTION`]. Everyone else gets `org.freedesktop.DBus.Error.AccessDenied`, and
//! so does everyone when polkit cannot be asked (no system bus, no polkit, no answer).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::OnceCell;
use zbus::fdo::DBusProxy;
use zbus::message::{Flags, Header};
use zbus::names::BusName;
use zbus::{Connection, Variant};

use super::error::ServiceError;

/// The polkit action that lets a user change the registry.
pub const MANAGE_ACTION: &str = "org.vifkit.manage";

/// How long polkit may take to answer before the caller is refused.
const POLKIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Who is calling, as the bus (or, on a peer-to-peer connection, the socket) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's unique bus name, if on a bus.
    pub bus_name: Option<String>,
    /// The caller's uid.
    pub uid: u32,
    /// The caller's process id, when known.
    pub pid: Option<u32>,
}

/// How the service asks polkit about callers that are not root.
#[derive(Debug)]
pub struct Access {
    /// Whether the service is on the system bus itself: then the caller's bus name is a
    /// subject polkit can check (`system-bus-name`); elsewhere it is the caller's process
    /// (`unix-process`).
    on_system_bus: bool,
    /// The system bus connection to polkit, made on first need.
    system: OnceCell<Result<Connection, String>>,
}

impl Access {
    /// Access control for a service on the system bus (`on_system_bus`) or another bus.
    pub fn new(on_system_bus: bool) -> Access {
        Access {
            on_system_bus,
            system: OnceCell::new(),
        }
    }

    /// Finds out who sent `hdr`.
    pub async fn caller(conn: &Connection, hdr: &Header<'_>) -> Result<Caller, ServiceError> {
        if !conn.is_bus() {
            // Peer to peer: the other end of the socket.
            let creds = conn.peer_creds().await.map_err(|e| {
                ServiceError::AccessDenied(format!("Cannot tell who the peer is: {e}"))
            })?;
            let uid = creds.unix_user_id().ok_or_else(|| {
                ServiceError::AccessDenied("The peer's user id is unknown".into())
            })?;
            return Ok(Caller {
                bus_name: None,
                uid,
                pid: creds.process_id(),
            });
        }
        let sender = hdr
            .sender()
            .ok_or_else(|| ServiceError::AccessDenied("The call has no sender".into()))?;
        let deny = |e: zbus::Error| {
            ServiceError::AccessDenied(format!("Cannot tell who {sender} is: {e}"))
        };
        let dbus = DBusProxy::new(conn).await.map_err(deny)?;
        let creds = dbus
            .get_connection_credentials(BusName::from(sender.to_owned()))
            .await
            .map_err(|e| deny(e.into()))?;
        let uid = creds.unix_user_id().ok_or_else(|| {
            ServiceError::AccessDenied(format!("The bus does not know {sender}'s user id"))
        })?;
        Ok(Caller {
            bus_name: Some(sender.to_string()),
            uid,
            pid: creds.process_id(),
        })
    }

    /// Lets the call go on if its sender is root or polkit authorizes it for
    /// [`MANAGE_ACTION`]; `what` says what the call does, for the refusal.
    pub async fn check_manage(
        &self,
        conn: &Connection,
        hdr: &Header<'_>,
        what: &str,
    ) -> Result<(), ServiceError> {
        let caller = Access::caller(conn, hdr).await?;
        if caller.uid == 0 {
            return Ok(());
        }
        let interactive = hdr
            .primary()
            .flags()
            .contains(Flags::ALLOW_INTERACTIVE_AUTH);
        let why = match self.polkit(&caller, interactive).await {
            Ok(true) => return Ok(()),
            Ok(false) => "polkit says no".to_owned(),
            Err(e) => format!("polkit cannot be asked: {e}"),
        };
        Err(ServiceError::AccessDenied(format!(
            "{what} needs root or the polkit action {MANAGE_ACTION}; uid {} is not authorized \
             ({why})",
            caller.uid
        )))
    }

    async fn system_bus(&self) -> Result<&Connection, String> {
        self.system
            .get_or_init(|| async {
                Connection::system()
                    .await
                    .map_err(|e| format!("no system bus: {e}"))
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Asks polkit's `CheckAuthorization` whether `caller` may manage the registry.
    async fn polkit(&self, caller: &Caller, interactive: bool) -> Result<bool, String> {
        let bus = self.system_bus().await?;
        let mut details: HashMap<&str, Variant<'_>> = HashMap::new();
        let kind = match (&caller.bus_name, self.on_system_bus) {
            (Some(name), true) => {
                details.insert("name", Variant::from(name.as_str()));
                "system-bus-name"
            }
            _ => {
                let pid = caller.pid.ok_or("the caller's process id is unknown")?;
                let start = process_start_time(pid)?;
                details.insert("pid", Variant::from(pid));
                details.insert("start-time", Variant::from(start));
                details.insert(
                    "uid",
                    Variant::from(i32::try_from(caller.uid).unwrap_or(-1)),
                );
                "unix-process"
            }
        };
        let no_details: HashMap<&str, &str> = HashMap::new();
        let body = (
            (kind, details),
            MANAGE_ACTION,
            no_details,
            u32::from(interactive),
            "",
        );
        let call = bus.call_method(
            Some("org.freedesktop.PolicyKit1"),
            "/org/freedesktop/PolicyKit1/Authority",
            Some("org.freedesktop.PolicyKit1.Authority"),
            "CheckAuthorization",
            &body,
        );
        let reply = tokio::time::timeout(POLKIT_TIMEOUT, call)
            .await
            .map_err(|_| format!("no answer in {} s", POLKIT_TIMEOUT.as_secs()))?
            .map_err(|e| e.to_string())?;
        let (authorized, _challenge, _details): (bool, bool, HashMap<String, String>) = reply
            .body()
            .deserialize()
            .map_err(|e| format!("unexpected answer: {e}"))?;
        Ok(authorized)
    }
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22), which
/// polkit uses with the pid to tell a process from a later one with the same pid.
fn process_start_time(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("/proc/{pid}/stat is not as expected"))?;
    rest.split_whitespace()
        .nth(19)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| format!("/proc/{pid}/stat has no start time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_this_process() {
        let t = process_start_time(std::process::id()).unwrap();
        assert!(t > 0);
        assert!(process_start_time(u32::MAX).is_err());
    }
}
