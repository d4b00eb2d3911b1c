//! `vifkit top`: which guest NIC moves the most traffic, refreshed every interval (what
//! admins do with `iftop -i vif5.0`, for every guest NIC at once).
//!
//! Each round reads every device's counters in one netlink dump (`IFLA_STATS64`), waits
//! the interval, reads them again and ranks the devices by bytes per second both ways.
//! A device that vanished or was recreated (another interface index, or counters that
//! went back) in between is left out of that round.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use hostnet::netlink::{LinkCounters, LinkState, Netlink};
use registry::Attachment;
use serde_json::{json, Value};

use crate::config::Config;
use crate::report::Failure;

/// The options of `vifkit top`.
#[derive(Debug, Clone, Copy)]
pub struct TopArgs {
    /// Time between two readings.
    pub interval: Duration,
    /// Stop after this many rounds (`None`: until interrupted).
    pub count: Option<u32>,
    /// Every device, not only the guest NICs the registry knows.
    pub all: bool,
    /// One JSON object per round (JSON Lines) instead of a table.
    pub json: bool,
    /// At most this many rows per round.
    pub limit: usize,
}

/// One device's traffic over one interval.
#[derive(Debug, Clone)]
struct Rate {
    device: String,
    guest: Option<String>,
    rx_bps: u64,
    tx_bps: u64,
    rx_pps: u64,
    tx_pps: u64,
    drops: u64,
    errors: u64,
}

impl Rate {
    fn total(&self) -> u64 {
        self.rx_bps.saturating_add(self.tx_bps)
    }
}

/// Per second over `secs`, rounded down.
fn per_sec(delta: u64, secs: f64) -> u64 {
    // Counters fit in u64; a rate over at least 1 ms cannot overflow back.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let r = (delta as f64 / secs) as u64;
    r
}

/// The rates between two readings; devices present in both with the same index.
fn rates(
    before: &[LinkState],
    after: &[LinkState],
    secs: f64,
    label: &HashMap<String, String>,
    all: bool,
) -> Vec<Rate> {
    let old: HashMap<(u32, &str), LinkCounters> = before
        .iter()
        .filter_map(|l| Some(((l.index, l.name.as_str()), l.counters?)))
        .collect();
    let mut out = Vec::new();
    for l in after {
        let guest = label.get(&l.name).cloned();
        if guest.is_none() && !all {
            continue;
        }
        let (Some(new), Some(old)) = (l.counters, old.get(&(l.index, l.name.as_str()))) else {
            continue;
        };
        let d = |n: u64, o: u64| n.checked_sub(o);
        let (Some(rxb), Some(txb), Some(rxp), Some(txp)) = (
            d(new.rx_bytes, old.rx_bytes),
            d(new.tx_bytes, old.tx_bytes),
            d(new.rx_packets, old.rx_packets),
            d(new.tx_packets, old.tx_packets),
        ) else {
            continue;
        };
        let drops = d(new.rx_dropped, old.rx_dropped)
            .unwrap_or(0)
            .saturating_add(d(new.tx_dropped, old.tx_dropped).unwrap_or(0));
        let errors = d(new.rx_errors, old.rx_errors)
            .unwrap_or(0)
            .saturating_add(d(new.tx_errors, old.tx_errors).unwrap_or(0));
        out.push(Rate {
            device: l.name.clone(),
            guest,
            rx_bps: per_sec(rxb, secs),
            tx_bps: per_sec(txb, secs),
            rx_pps: per_sec(rxp, secs),
            tx_pps: per_sec(txp, secs),
            drops,
            errors,
        });
    }
    // Busiest first; ties by name, so the order is stable.
    out.sort_by(|a, b| b.total().cmp(&a.total()).then(a.device.cmp(&b.device)));
    out
}

/// `1536` -> `1.5K`: bytes (or packets) per second, as `iftop` abbreviates them.
fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        n.to_string()
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

/// What each guest NIC device is: `eth2 of alice (xen domain 5)`.
fn labels(attachments: &[Attachment]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for a in attachments {
        let nic = a
            .guest_name
            .as_ref()
            .map_or_else(|| format!("device {}", a.devid), |g| g.to_string());
        let what = format!(
            "{nic} of {} ({} domain {})",
            a.domain_name, a.driver, a.domid
        );
        m.insert(a.backend.to_string(), what.clone());
        if let Some(e) = &a.emulated {
            m.insert(e.to_string(), format!("{what}, emulated"));
        }
    }
    m
}

fn render_table(round: &[Rate], secs: f64, limit: usize) -> String {
    let mut out =
        format!("vifkit top: traffic over {secs:.1} s, busiest first (rx: sent by the guest)\n");
    let mut rows = vec![[
        "device",
        "rx/s",
        "tx/s",
        "rx pkt/s",
        "tx pkt/s",
        "drops",
        "errors",
        "guest NIC",
    ]
    .map(str::to_owned)
    .to_vec()];
    for r in round.iter().take(limit) {
        rows.push(vec![
            r.device.clone(),
            human(r.rx_bps),
            human(r.tx_bps),
            human(r.rx_pps),
            human(r.tx_pps),
            r.drops.to_string(),
            r.errors.to_string(),
            r.guest.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            // Numbers right-aligned, names left-aligned.
            let pad = widths[c].saturating_sub(cell.chars().count());
            if (1..=6).contains(&c) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if round.is_empty() {
        out.push_str("(no guest NIC on this host; --all shows every device)\n");
    }
    out
}

fn render_json(round: &[Rate], secs: f64, limit: usize) -> String {
    let nics: Vec<Value> = round
        .iter()
        .take(limit)
        .map(|r| {
            json!({
                "device": r.device,
                "guest": r.guest,
                "rx_bytes_per_s": r.rx_bps,
                "tx_bytes_per_s": r.tx_bps,
                "rx_packets_per_s": r.rx_pps,
                "tx_packets_per_s": r.tx_pps,
                "dropped": r.drops,
                "errors": r.errors,
            })
        })
        .collect();
    let mut s = json!({ "interval_s": secs, "devices": nics }).to_string();
    s.push('\n');
    s
}

/// `vifkit top`: prints one block per interval (a refreshing screen on a terminal).
pub fn run(cfg: &Config, a: &TopArgs) -> Result<String, Failure> {
    let nl = Netlink::new().map_err(anyhow::Error::from)?;
    let tty = std::io::stdout().is_terminal() && !a.json;
    let mut before = nl.links_with_counters().map_err(anyhow::Error::from)?;
    let mut at = Instant::now();
    let mut done = 0u32;
    while a.count.is_none_or(|n| done < n) {
        std::thread::sleep(a.interval);
        // The registry is read each round: guests come and go.
        let attachments = match crate::bridge_cmd::open_existing(cfg)? {
            Some(reg) => reg.attachments().map_err(anyhow::Error::from)?,
            None => Vec::new(),
        };
        let after = nl.links_with_counters().map_err(anyhow::Error::from)?;
        let now = Instant::now();
        let secs = now.duration_since(at).as_secs_f64().max(0.001);
        let round = rates(&before, &after, secs, &labels(&attachments), a.all);
        let text = if a.json {
            render_json(&round, secs, a.limit)
        } else {
            render_table(&round, secs, a.limit)
        };
        let mut stdout = std::io::stdout().lock();
        let written = if tty {
            // Clear the screen and go home, as top does.
            stdout.write_all(b"\x1b[H\x1b[2J")
        } else if done > 0 && !a.json {
            stdout.write_all(b"\n")
        } else {
            Ok(())
        }
        .and_then(|()| stdout.write_all(text.as_bytes()))
        .and_then(|()| stdout.flush());
        match written {
            Ok(()) => {}
            // `vifkit top | head`: the reader went away, which ends top.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(String::new()),
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context("Cannot write the output")
                    .into())
            }
        }
        before = after;
        at = now;
        done += 1;
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str, rx: u64, tx: u64) -> LinkState {
        LinkState {
            index,
            name: name.to_owned(),
            kind: None,
            mtu: 1500,
            master: None,
            up: true,
            lower: None,
            bridge: None,
            vlan: None,
            counters: Some(LinkCounters {
                rx_bytes: rx,
                tx_bytes: tx,
                rx_packets: rx / 100,
                tx_packets: tx / 100,
                ..LinkCounters::default()
            }),
        }
    }

    #[test]
    fn busiest_first_and_recreated_devices_left_out() {
        let label: HashMap<String, String> = [("vif1.0", "a"), ("vif2.0", "b"), ("vif3.0", "c")]
            .map(|(d, g)| (d.to_owned(), g.to_owned()))
            .into_iter()
            .collect();
        let before = [
            link(5, "vif1.0", 1000, 0),
            link(6, "vif2.0", 0, 0),
            link(7, "vif3.0", 5000, 5000),
            link(1, "lo", 0, 0),
        ];
        let after = [
            link(5, "vif1.0", 3000, 0),      // 1000 B/s over 2 s
            link(6, "vif2.0", 10000, 10000), // 10000 B/s
            link(9, "vif3.0", 9000, 9000),   // recreated: another index
            link(1, "lo", 100, 100),
        ];
        let r = rates(&before, &after, 2.0, &label, false);
        let got: Vec<(&str, u64)> = r.iter().map(|r| (r.device.as_str(), r.total())).collect();
        assert_eq!(got, [("vif2.0", 10000), ("vif1.0", 1000)]);
        let r = rates(&before, &after, 2.0, &label, true);
        assert_eq!(r.len(), 3);
        assert_eq!(r[2].device, "lo");
        assert_eq!(r[2].guest, None);
    }

    #[test]
    fn counters_that_went_back_are_left_out() {
        let label = HashMap::from([("vif1.0".to_owned(), "a".to_owned())]);
        let r = rates(
            &[link(5, "vif1.0", 5000, 0)],
            &[link(5, "vif1.0", 100, 0)],
            1.0,
            &label,
            false,
        );
        assert!(r.is_empty());
    }

    #[test]
    fn human_units() {
        assert_eq!(human(0), "0");
        assert_eq!(human(1023), "1023");
        assert_eq!(human(1536), "1.5K");
        assert_eq!(human(3 * 1024 * 1024), "3.0M");
    }
}
