//! A flood of large `Translator1.XmlToVif` calls, as any local user could send them
//! (packaging/bench-dbus-flood.sh runs it and watches the service's memory).
//!
//! ```text
//! dbus_flood --address unix:path=/tmp/bus --connections 100 --calls 20 --size 1048000
//! ```
//!
//! Each of `--connections` connections sends its `--calls` calls back to back without
//! waiting for a reply (one message built at a time, so the client stays small), then
//! collects the replies. The XML is a `<domain>` of about `--size` bytes: one bridged
//! `<interface>`, the rest a long `<description>` (or, with `--interfaces`, bridged
//! `<interface>` elements only). Prints one line: the calls answered,
//! refused with `LimitsExceeded` by the service and by the bus, and failed otherwise
//! (with the first such error).

use anyhow::{bail, Context as _};
use clap::Parser;
use zbus::message::Type;
use zbus::{Message, MessageStream};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "dbus_flood",
    about = "Flood org.vifkit with large XmlToVif calls"
)]
struct Args {
    /// The bus address (e.g. `unix:path=/tmp/x/bus`).
    #[arg(long)]
    address: String,
    /// Connections at once.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Calls per connection, all in flight at once.
    #[arg(long, default_value_t = 20)]
    calls: usize,
    /// The size of each call's XML in bytes (at most the service's 1 MiB).
    #[arg(long, default_value_t = 1_048_000)]
    size: usize,
    /// Fill the document with bridged `<interface>` elements instead of a description
    /// (more translation work per byte).
    #[arg(long)]
    interfaces: bool,
}

/// What the replies said.
#[derive(Debug, Default)]
struct Tally {
    answered: usize,
    /// LimitsExceeded from the service.
    limited: usize,
    /// LimitsExceeded from dbus-daemon (its own queues are full).
    bus_limited: usize,
    failed: usize,
    first_failure: Option<String>,
}

fn document(size: usize, interfaces: bool) -> String {
    if interfaces {
        let one =
            "<interface type='bridge'><source bridge='xenbr0'/><model type='e1000'/></interface>";
        let head = "<domain type='kvm'><name>flood</name><devices>";
        let tail = "</devices></domain>";
        let n = size.saturating_sub(head.len() + tail.len()) / one.len();
        return format!("{head}{}{tail}", one.repeat(n.max(1)));
    }
    let head = "<domain type='kvm'><name>flood</name><description>";
    let tail = "</description><devices><interface type='bridge'><mac address='00:16:3e:00:00:01'/>\
                <source bridge='xenbr0'/></interface></devices></domain>";
    let pad = size.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", "x".repeat(pad))
}

async fn one(address: String, calls: usize, xml: std::sync::Arc<String>) -> anyhow::Result<Tally> {
    let conn = zbus::connection::Builder::address(address.as_str())
        .build()
        .await
        .with_context(|| format!("Cannot connect to {address}"))?;
    let mut replies = MessageStream::from(&conn);
    let mut serials = std::collections::HashSet::new();
    for _ in 0..calls {
        let msg = Message::method_call("/org/vifkit", "XmlToVif")
            .destination("org.vifkit")
            .interface("org.vifkit.Translator1")
            .build(&(xml.as_str(), "hvm"))?;
        serials.insert(msg.primary_header().serial_num());
        conn.send(&msg).await.context("Cannot send a call")?;
    }
    let mut t = Tally::default();
    while !serials.is_empty() {
        use futures::StreamExt as _;
        let Some(m) = replies.next().await else {
            bail!(
                "The connection closed with {} replies missing",
                serials.len()
            );
        };
        let m = m?;
        let hdr = m.header();
        let Some(serial) = hdr.reply_serial() else {
            continue;
        };
        if !serials.remove(&serial) {
            continue;
        }
        match m.message_type() {
            Type::MethodReturn => t.answered += 1,
            Type::Error => {
                let name = hdr.error_name().map(|n| n.to_string()).unwrap_or_default();
                let text: String = m.body().deserialize().unwrap_or_default();
                if name == "org.freedesktop.DBus.Error.LimitsExceeded" {
                    if text.starts_with("Too many large requests") {
                        t.limited += 1;
                    } else {
                        t.bus_limited += 1;
                    }
                } else {
                    t.failed += 1;
                    if t.first_failure.is_none() {
                        t.first_failure = Some(format!("{name}: {text}"));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(t)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("Cannot start a Tokio runtime")?;
    let xml = std::sync::Arc::new(document(args.size, args.interfaces));
    let total = rt.block_on(async {
        let tasks: Vec<_> = (0..args.connections)
            .map(|_| tokio::spawn(one(args.address.clone(), args.calls, xml.clone())))
            .collect();
        let mut total = Tally::default();
        for task in tasks {
            let t = task.await.context("A client task failed")??;
            total.answered += t.answered;
            total.limited += t.limited;
            total.bus_limited += t.bus_limited;
            total.failed += t.failed;
            total.first_failure = total.first_failure.or(t.first_failure);
        }
        anyhow::Ok(total)
    })?;
    println!(
        "calls {} answered {} refused by vifkit {} by the bus {} failed {}{}",
        args.connections * args.calls,
        total.answered,
        total.limited,
        total.bus_limited,
        total.failed,
        total
            .first_failure
            .map(|f| format!(" (first: {f})"))
            .unwrap_or_default()
    );
    Ok(())
}
