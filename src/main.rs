//! The `vifkit` command.

// The doc comments of `cli` are clap help texts, printed as they are: `<interface>`
// there is text for the terminal, not HTML.
#![allow(rustdoc::invalid_html_tags)]

mod bridge_cmd;
mod check_cmd;
mod cli;
mod commands;
mod config;
mod docs_cmd;
mod events_cmd;
mod export;
mod fleet;
mod fsutil;
mod helper;
mod hook_cmd;
mod hotplug_cmd;
mod install_hooks;
mod install_service;
mod install_xen;
mod libvirt;
mod mac_cmd;
mod reconcile_cmd;
mod registry_cmd;
mod report;
mod serve_cmd;
mod top_cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use cli::{BridgeCommand, Cli, Command, FleetCommand, RegistryCommand};
use report::{Failure, Report, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use translator::diag::one_line;

fn run(cli: Cli, report: &mut Report) -> Result<String, Failure> {
    let over = config::Overrides {
        config: cli.config.as_deref(),
        registry: cli.registry.as_deref(),
        db: cli.db.as_deref(),
    };
    // Only the commands that use the registry read the configuration file: a broken
    // file does not stop a translation.
    let registry_path = || -> Result<std::path::PathBuf, Failure> {
        config::registry_path(&over).map_err(|e| Failure::Invalid(vec![e]))
    };
    let load_config = || -> Result<config::Config, Failure> {
        config::load(&over, &config::ProcessEnv).map_err(|e| Failure::Invalid(vec![e]))
    };
    match cli.command {
        Command::Vif2xml { guest, read, specs } => {
            commands::vif2xml(report, guest.into(), &read, &specs)
        }
        Command::Cfg2xml { read, file } => commands::cfg2xml(report, &read, &file),
        Command::Xml2vif {
            guest,
            read,
            list,
            file,
        } => commands::xml2vif(report, guest.map(Into::into), &read, list, &file),
        Command::PatchCfg {
            read,
            in_place,
            cfg,
            domain,
        } => commands::patch_cfg(report, &read, in_place, &cfg, &domain),
        Command::PatchXml {
            read,
            in_place,
            domain,
            cfg,
        } => commands::patch_xml(report, &read, in_place, &domain, &cfg),
        Command::Mac {
            oui,
            xen_oui,
            count,
        } => Ok(mac_cmd::run(oui.as_deref(), xen_oui, count)?),
        Command::InstallService {
            root,
            unit_dir,
            bin,
            force,
        } => {
            let conf = config::install(&root, &over).map_err(|e| Failure::Invalid(vec![e]))?;
            let out = install_service::run(report, &root, unit_dir.as_deref(), &bin, force)?;
            Ok(match conf {
                Some(c) => format!("{c}\n{out}"),
                None => out,
            })
        }
        Command::UninstallService {
            root,
            unit_dir,
            bin,
        } => install_service::uninstall(report, &root, unit_dir.as_deref(), &bin),
        Command::Completions { shell } => docs_cmd::completions(shell),
        Command::Manpages { dir } => docs_cmd::manpages(&dir),
        Command::Bridge { command } => {
            let cfg = load_config()?;
            let db = &cfg;
            match command {
                BridgeCommand::Add {
                    name,
                    kind,
                    uplink,
                    vlan,
                    mtu,
                    stp,
                    creatable,
                    may_exist,
                } => bridge_cmd::add(
                    db,
                    &bridge_cmd::AddArgs {
                        name: &name,
                        kind: &kind,
                        uplink: uplink.as_deref(),
                        vlan: vlan.as_deref(),
                        mtu: mtu.as_deref(),
                        stp: &stp,
                        creatable,
                        may_exist,
                    },
                ),
                BridgeCommand::Set {
                    name,
                    kind,
                    uplink,
                    vlan,
                    mtu,
                    stp,
                    creatable,
                } => bridge_cmd::set(
                    db,
                    &name,
                    &bridge_cmd::SetArgs {
                        kind: kind.as_deref(),
                        uplink: uplink.as_deref(),
                        vlan: vlan.as_deref(),
                        mtu: mtu.as_deref(),
                        stp: stp.as_deref(),
                        creatable: creatable.as_deref(),
                    },
                ),
                BridgeCommand::Del { name, if_exists } => bridge_cmd::del(db, &name, if_exists),
                BridgeCommand::List { json } => bridge_cmd::list(db, json),
                BridgeCommand::Ensure {
                    name: Some(name), ..
                } => bridge_cmd::ensure(db, &name),
                BridgeCommand::Ensure { name: None, .. } => bridge_cmd::ensure_all(db),
            }
        }
        Command::Show { json, domain: None } => bridge_cmd::show(&load_config()?, json),
        Command::Show {
            json,
            domain: Some(d),
        } => bridge_cmd::show_domain(&load_config()?, &d, json),
        Command::Top {
            interval,
            count,
            all,
            limit,
            json,
        } => top_cmd::run(
            &load_config()?,
            &top_cmd::TopArgs {
                interval: std::time::Duration::from_secs_f64(interval),
                count,
                all,
                json,
                limit,
            },
        ),
        Command::Reconcile { connect } => reconcile_cmd::run(&load_config()?, connect.as_deref()),
        Command::Registry { command } => match command {
            RegistryCommand::Backup { file } => registry_cmd::backup(&registry_path()?, &file),
            RegistryCommand::Restore { file } => registry_cmd::restore(&registry_path()?, &file),
            RegistryCommand::Migrate { from, to } => {
                Ok(fleet::migrate(&load_config()?, &from, &to)?)
            }
        },
        Command::Fleet {
            command: FleetCommand::Keepalive,
        } => Ok(fleet::keepalive(&load_config()?)?),
        Command::Fleet {
            command:
                FleetCommand::Override {
                    name,
                    uplink,
                    mtu,
                    clear,
                },
        } => fleet::set_override(
            &load_config()?,
            &fleet::OverrideArgs {
                name: &name,
                uplink: uplink.as_deref(),
                mtu: mtu.as_deref(),
                clear,
            },
        ),
        Command::VifScript { args } => hotplug_cmd::run(&over, &args),
        // Handled in `main`: a hook has its own exit codes and output.
        Command::Hook { .. } => Ok(String::new()),
        Command::InstallHooks { root, bin } => {
            let conf = config::install(root.as_deref().unwrap_or(std::path::Path::new("/")), &over)
                .map_err(|e| Failure::Invalid(vec![e]))?;
            let out = install_hooks::install(root.as_deref(), bin.as_deref())?;
            Ok(match conf {
                Some(c) => format!("{c}\n{out}"),
                None => out,
            })
        }
        Command::UninstallHooks { root } => install_hooks::uninstall(root.as_deref()),
        Command::InstallXenScripts { root, bin } => {
            install_xen::install(root.as_deref(), Some(&bin))
        }
        Command::UninstallXenScripts { root } => install_xen::uninstall(root.as_deref()),
        Command::Serve {
            system: _,
            session,
            address,
            libvirt,
            busy_timeout_ms,
        } => serve_cmd::run(
            &load_config()?,
            &serve_cmd::ServeArgs {
                session,
                address: address.as_deref(),
                libvirt: libvirt.as_deref(),
                busy_timeout: std::time::Duration::from_millis(busy_timeout_ms),
            },
        ),
        Command::Export {
            format,
            bridges,
            out,
        } => export::run(report, &load_config()?, format, &bridges, out.as_deref()),
        Command::Check { xl_dir, connect } => {
            check_cmd::run(&load_config()?, xl_dir.as_deref(), connect.as_deref())
        }
    }
}

fn main() -> ExitCode {
    // Run by libvirt as /etc/libvirt/hooks/qemu or from qemu.d/: no clap at all.
    if let Some(code) = hook_cmd::from_program_name() {
        return code;
    }
    // `vifkit --version` alone, as scripts and package checks run it: answered before
    // clap builds its whole command tree (most of the start-up of a parse); the text is
    // clap's own (`vifkit VERSION`, tested against it).
    if let Some(text) = version_only(std::env::args_os()) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        return ExitCode::from(EXIT_OK);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    if let Command::Hook {
        verbose,
        driver,
        args,
    } = &cli.command
    {
        let over = config::Overrides {
            config: cli.config.as_deref(),
            registry: cli.registry.as_deref(),
            db: cli.db.as_deref(),
        };
        return hook_cmd::run(&over, *verbose, (*driver).into(), args);
    }
    let mut report = Report::default();
    let result = run(cli, &mut report);
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(report.render().as_bytes());
    let (out, errors) = match result {
        Ok(out) => (out, Vec::new()),
        Err(Failure::Invalid(lines)) => (String::new(), lines),
        Err(Failure::Partial { out, errors }) => (out, errors),
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = writeln!(
                stderr,
                "error: Cannot write the output: {}",
                one_line(&e.to_string())
            );
            return ExitCode::from(EXIT_INVALID);
        }
    }
    for l in &errors {
        let _ = writeln!(stderr, "error: {}", one_line(l));
    }
    ExitCode::from(if errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_INVALID
    })
}

/// The `--version` text when the arguments are exactly `--version` or `-V`.
fn version_only(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<&'static str> {
    let _program = args.next()?;
    let first = args.next()?;
    if args.next().is_some() || !(first == "--version" || first == "-V") {
        return None;
    }
    Some(concat!("vifkit ", env!("CARGO_PKG_VERSION"), "\n"))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::CommandFactory as _;

    use super::*;

    fn args(a: &[&str]) -> impl Iterator<Item = OsString> {
        a.iter().map(OsString::from).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn the_version_fast_path_prints_what_clap_prints() {
        let clap_text = Cli::command().render_version();
        assert_eq!(
            version_only(args(&["vifkit", "--version"])),
            Some(clap_text.as_str())
        );
        assert_eq!(
            version_only(args(&["/usr/bin/vifkit", "-V"])),
            Some(clap_text.as_str())
        );
        for other in [
            &["vifkit"][..],
            &["vifkit", "--version", "x"],
            &["vifkit", "show", "--version"],
            &["vifkit", "--versio"],
        ] {
            assert_eq!(version_only(args(other)), None, "{other:?}");
        }
    }
}
