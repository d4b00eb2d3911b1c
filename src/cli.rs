//! The command line: the stable commands of the translation contract.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use libvirt_hooks::Driver;
use translator::GuestType;

/// `--help` text shared by the commands that read vif specs.
pub fn vif_syntax_help() -> String {
    format!(
        "VIF SPEC SYNTAX\n  {}\n\nrate=\n  {}\n\nvlan= (Xen 4.19)\n  {}\n\nbridge= with vif-openvswitch\n  {}\n\nmac=\n  {}",
        translator::vif::SYNTAX,
        translator::rate::SYNTAX,
        translator::vlan::SYNTAX,
        translator::bridge_spec::SYNTAX,
        translator::mac::SYNTAX,
    )
}

/// `--help` text for the commands that read xl config files.
pub fn cfg_syntax_help() -> String {
    format!(
        "XL CONFIG SYNTAX\n  {}\n\n{}",
        translator::cfg::SYNTAX,
        vif_syntax_help()
    )
}

/// vifkit: Xen xl vifs <-> libvirt <interface>, and the host plumbing behind them.
#[derive(Debug, Parser)]
#[command(
    name = "vifkit",
    version,
    about,
    max_term_width = 100,
    after_long_help = crate::config::SYNTAX
)]
pub struct Cli {
    /// The configuration file (default: $VIFKIT_CONFIG, else /etc/vifkit/vifkit.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The registry, as a URL: sqlite:PATH (default: $VIFKIT_REGISTRY, else the
    /// configuration file's `registry`, else sqlite:/var/lib/vifkit/registry.db).
    #[arg(long, global = true, value_name = "URL", conflicts_with = "db")]
    pub registry: Option<String>,
    /// Short for --registry sqlite:PATH (default: $VIFKIT_DB).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Guest type as given on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GuestArg {
    /// HVM: emulated NICs possible.
    Hvm,
    /// PV: netfront only.
    Pv,
    /// PVH: netfront only.
    Pvh,
}

impl From<GuestArg> for GuestType {
    fn from(g: GuestArg) -> GuestType {
        match g {
            GuestArg::Hvm => GuestType::Hvm,
            GuestArg::Pv => GuestType::Pv,
            GuestArg::Pvh => GuestType::Pvh,
        }
    }
}

/// The libvirt driver whose hook runs, as named on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HookDriver {
    /// libvirt's libxl driver (Xen guests).
    Libxl,
    /// libvirt's QEMU/KVM driver.
    Qemu,
    /// libvirt's network driver.
    Network,
}

impl From<HookDriver> for Driver {
    fn from(d: HookDriver) -> Driver {
        match d {
            HookDriver::Libxl => Driver::Libxl,
            HookDriver::Qemu => Driver::Qemu,
            HookDriver::Network => Driver::Network,
        }
    }
}

/// Which parser reads xl config files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum XlParser {
    /// vifkit's own parser (pure Rust; errors name the line of each vif).
    #[default]
    Vifkit,
    /// Xen's libxlutil, the parser `xl create` uses.
    Xen,
}

/// Options of the commands that read vif specs.
#[derive(Debug, Clone, Args)]
pub struct VifReadArgs {
    /// An /etc/xen/xl.conf whose vif.default.* settings apply (a spec's own keys win).
    #[arg(long, value_name = "FILE")]
    pub xl_conf: Option<PathBuf>,
    /// Which parser reads the xl config file and the --xl-conf file.
    ///
    /// `xen` reads them with Xen's own libxlutil, exactly as `xl create` does, and
    /// differs from vifkit's parser in what it reports: errors are libxlutil's text
    /// (`FILE:LINE: config parsing error near ...`); problems in a vif name the file but no
    /// line (libxlutil gives no line numbers for list items); and libxlutil's grammar is
    /// stricter where vifkit's is deliberately friendlier: CRLF line ends, `\xHH` and
    /// one- or two-digit octal escapes, and a comment on a last line without a newline
    /// are errors there, a three-digit octal escape silently drops its character, and a
    /// file with a NUL byte is refused. Needs vifkit built with the `xen` feature
    /// (libxenlight).
    #[arg(long, value_enum, value_name = "PARSER", default_value_t = XlParser::Vifkit)]
    pub xl_parser: XlParser,
    /// Unknown keys and repeated keys are warnings (xl's config-file behaviour), not errors.
    #[arg(long)]
    pub lenient: bool,
    /// Every warning that reports something lost is an error.
    #[arg(long)]
    pub strict_loss: bool,
}

/// Options of the commands that read `<interface>` elements.
#[derive(Debug, Clone, Args)]
pub struct XmlReadArgs {
    /// The bridge of a libvirt network, for type='network' (repeatable).
    #[arg(long = "network", value_name = "NAME=BRIDGE", value_parser = parse_network)]
    pub networks: Vec<(String, String)>,
    /// Look up type='network' bridges through this libvirt connection (read-only).
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
    /// Every warning that reports something lost is an error.
    #[arg(long)]
    pub strict_loss: bool,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.1..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("expected seconds from 0.1 to 3600, got `{s}`")),
    }
}

fn parse_network(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, b)) if !n.is_empty() && !b.is_empty() => Ok((n.to_owned(), b.to_owned())),
        _ => Err(format!("expected NAME=BRIDGE, got `{s}`")),
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print one libvirt <interface> per xl vif SPEC, in order.
    #[command(after_long_help = vif_syntax_help())]
    Vif2xml {
        /// Guest type (emulated models and type=ioemu need hvm).
        #[arg(long, value_enum, default_value = "hvm")]
        guest: GuestArg,
        #[command(flatten)]
        read: VifReadArgs,
        /// The vif specs, e.g. 'mac=00:16:3e:01:02:03,bridge=xenbr0'.
        #[arg(value_name = "SPEC", required = true)]
        specs: Vec<String>,
    },
    /// Print the <interface> elements of an xl config's vif list (guest type from type=/builder=).
    #[command(after_long_help = cfg_syntax_help())]
    Cfg2xml {
        #[command(flatten)]
        read: VifReadArgs,
        /// The xl config file.
        #[arg(value_name = "FILE.cfg")]
        file: PathBuf,
    },
    /// Print the xl vif list for <interface> elements (bare, several, <devices>, or a <domain>).
    #[command(after_long_help = vif_syntax_help())]
    Xml2vif {
        /// Guest type for bare elements (a <domain>'s <os><type> wins).
        #[arg(long, value_enum)]
        guest: Option<GuestArg>,
        #[command(flatten)]
        read: XmlReadArgs,
        /// One spec per line instead of `vif = [ ... ]`.
        #[arg(long)]
        list: bool,
        /// The XML file, or - for standard input.
        #[arg(value_name = "FILE", default_value = "-")]
        file: PathBuf,
    },
    /// Rewrite the vif = [...] setting of an xl config from a domain's <interface>s, keeping every other byte.
    #[command(after_long_help = cfg_syntax_help())]
    PatchCfg {
        #[command(flatten)]
        read: XmlReadArgs,
        /// Replace CFG atomically instead of printing the result.
        #[arg(long)]
        in_place: bool,
        /// The xl config to patch.
        #[arg(value_name = "CFG")]
        cfg: PathBuf,
        /// The libvirt domain XML whose interfaces to take.
        #[arg(value_name = "DOMAIN.xml")]
        domain: PathBuf,
    },
    /// Replace a domain's <interface> elements from an xl config's vifs, keeping every other byte.
    #[command(after_long_help = cfg_syntax_help())]
    PatchXml {
        #[command(flatten)]
        read: VifReadArgs,
        /// Replace DOMAIN.xml atomically instead of printing the result.
        #[arg(long)]
        in_place: bool,
        /// The libvirt domain XML to patch.
        #[arg(value_name = "DOMAIN.xml")]
        domain: PathBuf,
        /// The xl config whose vifs to take.
        #[arg(value_name = "CFG")]
        cfg: PathBuf,
    },
    /// Print new unicast MAC addresses (default: random, locally administered).
    #[command(
        after_long_help = "STRATEGIES, best first\n  --oui XX:XX:XX   random in an OUI you own\n  (default)        random, locally administered (first octet xxxxxx10)\n  --xen-oui        random in Xen's OUI 00:16:3e, as libxl does\nA MAC must be unique on its whole LAN segment."
    )]
    Mac {
        /// Random in this OUI (one you own).
        #[arg(long, value_name = "XX:XX:XX", conflicts_with = "xen_oui")]
        oui: Option<String>,
        /// Random in Xen's OUI 00:16:3e.
        #[arg(long)]
        xen_oui: bool,
        /// How many addresses.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=65536))]
        count: u32,
    },
    /// Install the D-Bus service's files (system bus policy, bus activation file,
    /// systemd unit, polkit action, the interfaces' introspection XML), the boot unit
    /// (vifkit-boot.service: reconcile and `bridge ensure --all` before guests start) and
    /// the Cockpit page at their Debian paths under --root.
    #[command(
        after_long_help = "Writes /usr/share/dbus-1/system.d/org.vifkit.conf, \
/usr/share/dbus-1/system-services/org.vifkit.service, /usr/share/polkit-1/actions/org.vifkit.policy, \
vifkit.service and vifkit-boot.service in systemd's unit directory, and the Cockpit page in \
/usr/share/cockpit/vifkit/. Running it again changes nothing. A file that \
exists with other content is not replaced (nothing is written, exit 1) unless --force. \
Afterwards: `systemctl daemon-reload; systemctl reload dbus; systemctl enable vifkit-boot`."
    )]
    InstallService {
        /// Install under this directory instead of / (packaging, a chroot).
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// systemd's unit directory (default: `pkg-config systemd
        /// --variable=systemdsystemunitdir`, else /lib/systemd/system).
        #[arg(long, value_name = "DIR")]
        unit_dir: Option<PathBuf>,
        /// The installed vifkit binary, written into the unit's and the activation
        /// file's Exec= lines.
        #[arg(long, value_name = "PATH", default_value = "/usr/bin/vifkit")]
        bin: String,
        /// Replace installed files whose content differs (e.g. edited by an administrator).
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) on stdout.
    #[command(
        after_long_help = "The Debian package installs them; by hand, for example:\n  \
vifkit completions bash > /usr/share/bash-completion/completions/vifkit\n  \
vifkit completions zsh > /usr/share/zsh/vendor-completions/_vifkit\n  \
vifkit completions fish > /usr/share/fish/vendor_completions.d/vifkit.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL", value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (vifkit.8 and one per command, vifkit-bridge-add.8, ...) into DIR.
    Manpages {
        /// The directory (created if missing; existing pages there are replaced).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Remove the files install-service wrote, where they are exactly as it writes them
    /// (an edited file stays, with a warning). /etc/vifkit and the registry stay.
    UninstallService {
        /// Uninstall under this directory instead of /.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// systemd's unit directory, as for install-service.
        #[arg(long, value_name = "DIR")]
        unit_dir: Option<PathBuf>,
        /// The vifkit path the installed files name (as given to install-service).
        #[arg(long, value_name = "PATH", default_value = "/usr/bin/vifkit")]
        bin: String,
    },
    /// The bridge registry, and making the host's bridges match it.
    Bridge {
        /// What to do.
        #[command(subcommand)]
        command: BridgeCommand,
    },
    /// The xl vif hotplug script: wire a vif as Xen's vif-bridge, vif-openvswitch,
    /// vif-route or vif-nat would (install-xen-scripts writes the scripts xl runs:
    /// vif-vifkit, vif-vifkit-route, vif-vifkit-nat).
    #[command(
        after_long_help = "xl runs the script with `online|offline type_if=vif` for a PV \
backend and `add|remove type_if=tap` for the emulated twin of an ioemu NIC, with `vif`, \
`XENBUS_PATH` (backend/vif/DOMID/DEVID), `INTERFACE` and `netdev` in the environment. \
The NIC's settings are read from xenstore under XENBUS_PATH (bridge, mtu, vlan, ip, mac, \
script) and the outcome is written back as hotplug-status (connected | error, with \
hotplug-error). The mode comes from the name of the `script` key: vif-bridge, \
vif-openvswitch, vif-route (also SUSE's vif-route-ifup) and vif-nat as Xen's scripts; \
vif-vifkit chooses vif-bridge or vif-openvswitch from the bridge (its registered kind, \
Xen's BRIDGE.TAG:TRUNK form, or what the host has); vif-vifkit-route and vif-vifkit-nat \
are the routed and NAT modes. On a Linux bridge, `ip` keeps the guest to those source \
addresses (nftables, table bridge vifkit). After each action the executable \
vif-post.d/*.hook files of xen-scripts-dir (vifkit.toml, default /etc/xen/scripts) run with \
Xen's variables exported; each run is one syslog line (identity vifkit-hotplug). \
VIFKIT_XENSTORE_DIR=DIR reads and writes a directory of key files instead of xenstore, \
VIFKIT_SYSLOG_SOCKET=PATH logs to another socket (both for tests)."
    )]
    VifScript {
        /// `online`, `offline`, `add` or `remove`, then `type_if=vif|tap`.
        #[arg(value_name = "ARG", num_args = 1..=2, required = true)]
        args: Vec<String>,
    },
    /// The libvirt hook (libxl, qemu or network), run as libvirt runs it: the domain XML
    /// (or <hookData>) on stdin. Installed hooks are links to vifkit named after the
    /// driver (see install-hooks), which need no `hook` word.
    Hook {
        /// Trace every step to syslog (or stderr).
        #[arg(long)]
        verbose: bool,
        /// `libxl`, `qemu` or `network`.
        #[arg(value_name = "DRIVER", value_enum, hide_possible_values = true)]
        driver: HookDriver,
        /// OBJECT OPERATION SUB-OPERATION and EXTRA (optional), as libvirt passes them.
        #[arg(value_name = "ARG", num_args = 3..=4, required = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Write /etc/xen/scripts/vif-vifkit, vif-vifkit-route and vif-vifkit-nat, the
    /// hotplug scripts xl runs (never overwriting a file vifkit did not write).
    InstallXenScripts {
        /// Install under DIR instead of / (for packaging and tests).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// The installed vifkit binary the scripts run (absolute).
        #[arg(long, value_name = "PATH", default_value = "/usr/bin/vifkit")]
        bin: PathBuf,
    },
    /// Remove the scripts install-xen-scripts wrote (nothing else).
    UninstallXenScripts {
        /// Uninstall under DIR instead of /.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Write /etc/libvirt/hooks/{libxl,qemu,network}.d/50-vifkit links to this binary
    /// (an existing file is never overwritten), and print what AppArmor needs.
    InstallHooks {
        /// Install under DIR instead of / (for packaging and tests).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Link to this binary instead of the running one.
        #[arg(long, value_name = "PATH")]
        bin: Option<PathBuf>,
    },
    /// Remove the links install-hooks wrote (nothing else).
    UninstallHooks {
        /// Uninstall under DIR instead of /.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// List the host's bridges and their ports (like `brctl show`), with the guest NIC
    /// each port is (domain, device id, guest name, MAC) and each PV/emulated pair.
    Show {
        /// Print JSON instead of a table.
        #[arg(short, long)]
        json: bool,
        /// Only this guest's NICs, as `virsh domiflist` lists them (interface, type,
        /// source, model, MAC), for Xen and QEMU guests alike.
        #[arg(long, value_name = "NAME")]
        domain: Option<String>,
    },
    /// Show which guest NIC moves the most traffic, refreshed every interval (every vif
    /// and tap at once, busiest first, named after its guest NIC).
    #[command(
        after_long_help = "rx is what the vif or tap received from the guest (what the guest \
sent), tx what it sent to the guest. On a terminal the screen is redrawn each round; \
otherwise one block per round is printed (--json: one JSON object per line). Counters \
come from netlink (IFLA_STATS64); `show` prints their totals."
    )]
    Top {
        /// Seconds between two readings (0.1 to 3600).
        #[arg(long, short = 'd', value_name = "SECS", default_value_t = 2.0,
              value_parser = parse_interval)]
        interval: f64,
        /// Stop after N rounds (default: until interrupted).
        #[arg(long, short = 'n', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        count: Option<u32>,
        /// Every device, not only the guest NICs in the registry.
        #[arg(long)]
        all: bool,
        /// At most N devices per round.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// One JSON object per round, one per line.
        #[arg(short, long)]
        json: bool,
    },
    /// Drop the registry's stale NIC records, saying which: records written in another
    /// boot, records whose domain is known not to run, and records none of whose devices
    /// is on the host when nobody can say whether their domain runs.
    #[command(
        after_long_help = "Who can say whether a domain runs: with --connect, libvirt's list \
of running domains (through the vifkit-libvirt helper, read-only): a listed domain runs, and \
a QEMU connection lists every QEMU domain; for a Xen record, xenstore \
(/local/domain/DOMID/name). The systemd unit vifkit-boot.service runs this at boot, \
before libvirtd and xendomains. No registry yet: nothing to do (none is made)."
    )]
    Reconcile {
        /// Ask this libvirt connection which domains run (read-only).
        #[arg(long, value_name = "URI")]
        connect: Option<String>,
    },
    /// Back the registry up to a file, restore it from one, or migrate it between
    /// SQLite and etcd.
    Registry {
        /// What to do.
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// A fleet sharing an etcd registry (docs/fleet.md).
    Fleet {
        /// What to do.
        #[command(subcommand)]
        command: FleetCommand,
    },
    /// Run the D-Bus service org.vifkit at /org/vifkit (interfaces org.vifkit.Bridges1,
    /// NicModels1, Pairings1, Translator1) until SIGTERM or SIGINT.
    #[command(
        after_long_help = "Reading is open to every local user; Register, Unregister and Ensure \
need uid 0 or the polkit action org.vifkit.manage (others get \
org.freedesktop.DBus.Error.AccessDenied). Errors are org.vifkit.Error.<Name>. The registry is \
the configuration's: on SQLite, signals follow inotify; on etcd, an etcd watch (the fleet's \
bridges, this host's pairings; run `vifkit fleet keepalive` beside it)."
    )]
    Serve {
        /// Serve on the system bus (the default).
        #[arg(long, conflicts_with_all = ["session", "address"])]
        system: bool,
        /// Serve on the session bus.
        #[arg(long, conflicts_with = "address")]
        session: bool,
        /// Serve on the bus at this D-Bus address (e.g. unix:path=/run/x/bus).
        #[arg(long, value_name = "ADDR")]
        address: Option<String>,
        /// At start, make the pairings of the running domains of this libvirt connection
        /// match their live XML (read-only; through the vifkit-libvirt helper).
        #[arg(long, value_name = "URI")]
        libvirt: Option<String>,
        /// How long a SQLite registry write waits for another process's lock, per attempt
        /// (three attempts), before the call fails with org.vifkit.Error.Busy (on etcd,
        /// the `[etcd]` table's timeout_ms bounds each call).
        #[arg(long, value_name = "MS", default_value_t = 2000)]
        busy_timeout_ms: u64,
    },
    /// Write the registered bridges as the distribution's own network configuration
    /// (ifcfg, /etc/network/interfaces, systemd-networkd, NetworkManager), so that they
    /// come back after a reboot without vifkit.
    #[command(after_long_help = crate::export::HELP)]
    Export {
        /// The configuration system to write for.
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: ExportFormat,
        /// Only this bridge (repeatable; default: every registered bridge).
        #[arg(long = "bridge", value_name = "NAME", allow_hyphen_values = true)]
        bridges: Vec<String>,
        /// Write the files into DIR (e.g. /etc/network/interfaces.d) instead of printing
        /// them; a file vifkit export did not write is never replaced.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Look for the network problems admins trip on, one line each naming what and
    /// where: exit 0 when there is none, 1 when there are (or the check could not run).
    #[command(after_long_help = crate::check_cmd::HELP)]
    Check {
        /// A directory of xl guest configs (every *.cfg file, and every other file that
        /// reads as an xl config with a `name`, but not Xen's xlexample.* files);
        /// default /etc/xen, skipped if missing.
        #[arg(long, value_name = "DIR")]
        xl_dir: Option<PathBuf>,
        /// Also check the domains defined at this libvirt connection (read-only, through
        /// the vifkit-libvirt helper).
        #[arg(long, value_name = "URI")]
        connect: Option<String>,
    },
}

/// The formats of `vifkit export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// SUSE's wicked: /etc/sysconfig/network/ifcfg-*.
    IfcfgSuse,
    /// Red Hat's initscripts (and NetworkManager's ifcfg-rh): /etc/sysconfig/network-scripts/ifcfg-*.
    IfcfgRedhat,
    /// Debian's ifupdown with bridge-utils: /etc/network/interfaces.d/.
    Ifupdown,
    /// systemd-networkd: /etc/systemd/network/*.netdev and *.network.
    Networkd,
    /// NetworkManager keyfiles: /etc/NetworkManager/system-connections/*.nmconnection.
    Nmconnection,
}

/// The `registry` commands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Copy the registry to FILE (replaced in one step if it exists): a consistent
    /// snapshot taken beside running writers (SQLite's online backup API), as one file.
    Backup {
        /// Where the copy goes.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Replace the registry's content with FILE's, in place and in one transaction
    /// (running hooks and `serve` see it as any write). FILE must be a vifkit registry
    /// of a schema this vifkit knows (an older one is migrated; FILE is not changed)
    /// and undamaged; anything else is refused before the registry is touched.
    Restore {
        /// The backup to restore.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Copy this host's bridges, marks and NIC records from one registry to another
    /// (sqlite:PATH <-> etcd://...). Idempotent: running it again changes nothing.
    Migrate {
        /// The registry to read.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The registry to write.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// The `fleet` commands.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Keep this host's lease in the etcd registry alive until SIGTERM or SIGINT (run
    /// it as a service on every host of the fleet): the host's NIC records, MACs and
    /// bridge claims are tied to it, and expire when it stops being renewed.
    Keepalive,
    /// Show or set this host's override of a shared bridge (an etcd registry): where
    /// hosts differ, e.g. the uplink is bond0 here and eno1 there. This host then sees
    /// the bridge with its override in `bridge list`, `show`, `bridge ensure` and the
    /// hooks; the other hosts keep the shared definition. Options not given keep the
    /// override's other value; without options, prints the override.
    Override {
        /// The registered bridge.
        name: String,
        /// This host's uplink device for the bridge (`none`: as shared).
        #[arg(long, value_name = "IFNAME|none")]
        uplink: Option<String>,
        /// This host's MTU for the bridge (`none`: as shared).
        #[arg(long, value_name = "MTU|none")]
        mtu: Option<String>,
        /// Drop this host's override: the shared definition applies.
        #[arg(long, conflicts_with_all = ["uplink", "mtu"])]
        clear: bool,
    },
}

/// The `bridge` commands. Values are checked by vifkit (exit 1 on a bad one), and a
/// refused command changes nothing.
#[derive(Debug, Subcommand)]
pub enum BridgeCommand {
    /// Add a bridge to the registry (the host is not touched: see `bridge ensure`).
    Add {
        /// The bridge's interface name.
        #[arg(value_name = "NAME", allow_hyphen_values = true)]
        name: String,
        /// `linux` (a kernel bridge) or `ovs` (Open vSwitch).
        #[arg(long, value_name = "linux|ovs", default_value = "linux")]
        kind: String,
        /// The device connecting the bridge to the outside (a NIC or a bond).
        #[arg(long, value_name = "DEV")]
        uplink: Option<String>,
        /// A VLAN on the uplink (1-4094): `DEV.N` is enslaved instead of DEV.
        #[arg(long, value_name = "N")]
        vlan: Option<String>,
        /// The bridge's MTU (68-65535).
        #[arg(long, value_name = "N")]
        mtu: Option<String>,
        /// Spanning tree protocol.
        #[arg(long, value_name = "on|off", default_value = "off")]
        stp: String,
        /// vifkit may create the bridge when it is missing.
        #[arg(long)]
        creatable: bool,
        /// A bridge of that name with exactly these settings is no error (as
        /// `ovs-vsctl --may-exist add-br`); one with other settings still is.
        #[arg(long)]
        may_exist: bool,
    },
    /// Change a registered bridge's settings (the host is not touched: see `bridge ensure`).
    /// Settings not given stay as they are.
    Set {
        /// The bridge's name.
        #[arg(value_name = "NAME", allow_hyphen_values = true)]
        name: String,
        /// `linux` or `ovs`.
        #[arg(long, value_name = "linux|ovs")]
        kind: Option<String>,
        /// The uplink device, or `none` for no uplink.
        #[arg(long, value_name = "DEV|none")]
        uplink: Option<String>,
        /// The VLAN on the uplink (1-4094), or `none`.
        #[arg(long, value_name = "N|none")]
        vlan: Option<String>,
        /// The bridge's MTU (68-65535), or `none` to leave it to the host.
        #[arg(long, value_name = "N|none")]
        mtu: Option<String>,
        /// Spanning tree protocol.
        #[arg(long, value_name = "on|off")]
        stp: Option<String>,
        /// Whether vifkit may create the bridge when it is missing.
        #[arg(long, value_name = "yes|no")]
        creatable: Option<String>,
    },
    /// Remove a bridge from the registry (refused while NICs are attached to it; the
    /// host's bridge is left alone).
    Del {
        /// The bridge's name.
        #[arg(value_name = "NAME", allow_hyphen_values = true)]
        name: String,
        /// A bridge that is not registered is no error (as `ovs-vsctl --if-exists del-br`).
        #[arg(long)]
        if_exists: bool,
    },
    /// List the registry's bridges.
    List {
        /// Print JSON instead of a table.
        #[arg(short, long)]
        json: bool,
    },
    /// Make the host match the registry's entry for a bridge (or for every registered
    /// bridge): create it (if the entry is creatable), set its MTU and STP, bring it up,
    /// and enslave its uplink (or `UPLINK.VLAN`). Exit 0 when it already matches.
    #[command(
        after_long_help = "With --all, every registered bridge in turn: one that fails is \
reported and the others are still ensured (exit 1 if any failed). A bridge that is not on \
the host and not creatable is reported as missing. The boot unit vifkit-boot.service runs \
`bridge ensure --all` before libvirtd and xendomains start guests."
    )]
    Ensure {
        /// The bridge's name.
        #[arg(
            value_name = "NAME",
            allow_hyphen_values = true,
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        name: Option<String>,
        /// Every registered bridge.
        #[arg(long)]
        all: bool,
    },
}
