//! The translation commands: vif2xml, cfg2xml, xml2vif, patch-cfg, patch-xml.
//!
//! Each returns what to print on stdout, or every problem; nothing reaches stdout (or
//! the file, with `--in-place`) unless the whole input translated.

use std::path::Path;

use anyhow::{Context, Result};
use translator::cfg::{self, CfgWarning, Config, VifDefaults, VifList};
use translator::interface_xml::{self, Document};
use translator::to_vif::{NetworkMap, NetworkResolver};
use translator::to_xml::Defaults;
use translator::translate::{self, NicError, Options, Translated, VifInput};
use translator::{GuestType, Interface, VifSpec};

use crate::cli::{VifReadArgs, XlParser, XmlReadArgs};
use crate::fsutil::write_atomic;
use crate::report::{chain, Failure, Report};

/// Reads a file, or standard input for `-`.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .context("Cannot read standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("Cannot read {}", path.display()))
    }
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = read_input(path)?;
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))
}

fn nic_errors(errors: Vec<NicError>) -> Failure {
    Failure::Invalid(errors.iter().map(|e| chain(e)).collect())
}

fn cfg_warnings(report: &mut Report, ws: Vec<CfgWarning>) {
    for w in ws {
        report.warn(w.to_string());
    }
}

/// xl.conf defaults, owned (they outlive the parsed xl.conf).
fn load_defaults(report: &mut Report, read: &VifReadArgs) -> Result<VifDefaults, Failure> {
    let Some(path) = read.xl_conf.as_deref() else {
        return Ok(VifDefaults::default());
    };
    if read.xl_parser == XlParser::Xen {
        return xen::load_defaults(report, path);
    }
    let text = read_text(path)?;
    let name = path.display().to_string();
    let conf = cfg::parse(&text, &name).map_err(|e| Failure::Invalid(vec![chain(&e)]))?;
    let (d, ws) = conf
        .vif_defaults()
        .map_err(|e| Failure::Invalid(vec![chain(&e)]))?;
    cfg_warnings(report, ws);
    Ok(d)
}

fn defaults(d: &VifDefaults) -> Defaults<'_> {
    Defaults {
        script: d.script.as_deref(),
        bridge: d.bridge.as_deref(),
        backend: d.backend.as_deref(),
        gatewaydev: d.gatewaydev.as_deref(),
    }
}

fn options(read: &VifReadArgs) -> Options {
    Options {
        lenient: read.lenient,
        strict_loss: read.strict_loss,
    }
}

fn report_warnings(report: &mut Report, t_warnings: &[translate::NicWarning]) {
    for w in t_warnings {
        report.warn(w.to_string());
    }
}

/// `vifkit vif2xml`.
pub fn vif2xml(
    report: &mut Report,
    guest: GuestType,
    read: &VifReadArgs,
    specs: &[String],
) -> Result<String, Failure> {
    let d = load_defaults(report, read)?;
    let inputs: Vec<VifInput<'_>> = specs
        .iter()
        .map(|s| VifInput {
            spec: s,
            location: None,
        })
        .collect();
    let t = translate::vifs_to_interfaces(&inputs, guest, &defaults(&d), options(read))
        .map_err(nic_errors)?;
    report_warnings(report, &t.warnings);
    Ok(interface_xml::interfaces_to_string(&t.items))
}

/// The guest type and vifs of an xl config, borrowing from its text.
struct CfgFile<'t> {
    name: String,
    guest: GuestType,
    vifs: VifList<'t>,
}

fn load_cfg<'t>(report: &mut Report, path: &Path, text: &'t str) -> Result<CfgFile<'t>, Failure> {
    let name = path.display().to_string();
    let conf: Config<'t> =
        cfg::parse(text, &name).map_err(|e| Failure::Invalid(vec![chain(&e)]))?;
    let guest = conf
        .guest_type()
        .map_err(|e| Failure::Invalid(vec![chain(&e)]))?;
    let mut vifs = conf.vifs().map_err(|e| Failure::Invalid(vec![chain(&e)]))?;
    cfg_warnings(report, std::mem::take(&mut vifs.warnings));
    Ok(CfgFile { name, guest, vifs })
}

fn cfg_interfaces<'a>(
    report: &mut Report,
    cfg: &'a CfgFile<'_>,
    d: &'a VifDefaults,
    read: &VifReadArgs,
) -> Result<Vec<Interface<'a>>, Failure> {
    let t = translate::vif_list_to_interfaces(
        &cfg.vifs,
        &cfg.name,
        cfg.guest,
        &defaults(d),
        options(read),
    )
    .map_err(nic_errors)?;
    report_warnings(report, &t.warnings);
    Ok(t.items)
}

/// Reads an xl config with the parser `--xl-parser` names.
/// The vifkit parser borrows from `text`, which the caller keeps; libxlutil's values are
/// owned.
fn read_cfg<'t>(
    report: &mut Report,
    read: &VifReadArgs,
    path: &Path,
    text: &'t mut String,
) -> Result<CfgFile<'t>, Failure> {
    match read.xl_parser {
        XlParser::Vifkit => {
            *text = read_text(path)?;
            load_cfg(report, path, text)
        }
        XlParser::Xen => xen::load_cfg(report, path),
    }
}

/// `--xl-parser=xen`: xl configs read by Xen's libxlutil, in the `vifkit-xl` helper.
mod xen;

/// `vifkit cfg2xml`.
pub fn cfg2xml(report: &mut Report, read: &VifReadArgs, file: &Path) -> Result<String, Failure> {
    let d = load_defaults(report, read)?;
    let mut text = String::new();
    let cfg = read_cfg(report, read, file, &mut text)?;
    let (xml, warnings) = translate::vif_list_to_xml(
        &cfg.vifs,
        &cfg.name,
        cfg.guest,
        &defaults(&d),
        options(read),
    )
    .map_err(nic_errors)?;
    report_warnings(report, &warnings);
    Ok(xml)
}

/// The network resolver for `--network` and `--connect` (which looks up the networks
/// the document names, once).
fn resolver(read: &XmlReadArgs, doc: &Document) -> Result<Box<dyn NetworkResolver>, Failure> {
    let map = NetworkMap(read.networks.clone());
    match &read.connect {
        None => Ok(Box::new(map)),
        Some(uri) => {
            let names: Vec<&str> = doc
                .interfaces
                .iter()
                .filter_map(|l| l.parsed.iface.source_network.as_deref())
                .collect();
            crate::libvirt::resolver(uri, map, &names)
        }
    }
}

fn xml_to_specs(
    report: &mut Report,
    doc: &Document,
    guest: GuestType,
    read: &XmlReadArgs,
) -> Result<Translated<VifSpec<'static>>, Failure> {
    let nets = resolver(read, doc)?;
    let ifaces: Vec<_> = doc
        .interfaces
        .iter()
        .map(|l| (&l.parsed.iface, l.parsed.dropped.as_slice()))
        .collect();
    let opts = Options {
        lenient: false,
        strict_loss: read.strict_loss,
    };
    let t =
        translate::interfaces_to_vifs(&ifaces, guest, nets.as_ref(), opts).map_err(nic_errors)?;
    report_warnings(report, &t.warnings);
    Ok(t)
}

fn read_doc(path: &Path, text: &str) -> Result<Document, Failure> {
    interface_xml::read_document(text)
        .map_err(|e| Failure::Invalid(vec![format!("{}: {}", path.display(), chain(&e))]))
}

/// `vifkit xml2vif`.
pub fn xml2vif(
    report: &mut Report,
    guest: Option<GuestType>,
    read: &XmlReadArgs,
    list: bool,
    file: &Path,
) -> Result<String, Failure> {
    let text = read_text(file)?;
    let doc = read_doc(file, &text)?;
    let guest = doc.guest_type.or(guest).unwrap_or_default();
    let t = xml_to_specs(report, &doc, guest, read)?;
    Ok(if list {
        let mut out = String::new();
        for s in &t.items {
            s.write_to(&mut out);
            out.push('\n');
        }
        out
    } else {
        let mut out = translate::format_vif_setting(&t.items);
        out.push('\n');
        out
    })
}

/// `vifkit patch-cfg`.
pub fn patch_cfg(
    report: &mut Report,
    read: &XmlReadArgs,
    in_place: bool,
    cfg_path: &Path,
    domain: &Path,
) -> Result<String, Failure> {
    let cfg_text = read_text(cfg_path)?;
    let name = cfg_path.display().to_string();
    let conf = cfg::parse(&cfg_text, &name).map_err(|e| Failure::Invalid(vec![chain(&e)]))?;
    let cfg_guest = conf
        .guest_type()
        .map_err(|e| Failure::Invalid(vec![chain(&e)]))?;
    let xml = read_text(domain)?;
    let doc = read_doc(domain, &xml)?;
    let guest = doc.guest_type.unwrap_or(cfg_guest);
    if guest != cfg_guest {
        report.warn(format!(
            "{} is a {guest} guest but {name} says {cfg_guest}; translating for {guest}",
            domain.display()
        ));
    }
    let t = xml_to_specs(report, &doc, guest, read)?;
    let specs: Vec<String> = t.items.iter().map(VifSpec::to_string).collect();
    let refs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let patched = cfg::splice_list(&cfg_text, &conf, "vif", &refs);
    finish_patch(in_place, cfg_path, patched)
}

/// `vifkit patch-xml`.
pub fn patch_xml(
    report: &mut Report,
    read: &VifReadArgs,
    in_place: bool,
    domain: &Path,
    cfg_path: &Path,
) -> Result<String, Failure> {
    let d = load_defaults(report, read)?;
    let xml = read_text(domain)?;
    let doc = read_doc(domain, &xml)?;
    let mut cfg_text = String::new();
    let cfg = read_cfg(report, read, cfg_path, &mut cfg_text)?;
    if let Some(g) = doc.guest_type.filter(|g| *g != cfg.guest) {
        report.warn(format!(
            "{} is a {g} guest but {} says {}; translating for {}",
            domain.display(),
            cfg_path.display(),
            cfg.guest,
            cfg.guest
        ));
    }
    let ifaces = cfg_interfaces(report, &cfg, &d, read)?;
    for (i, old) in doc.interfaces.iter().enumerate() {
        for dropped in &old.parsed.dropped {
            report.warn(format!(
                "interface[{i}]: {} is replaced along with the element",
                dropped.describe()
            ));
        }
    }
    let patched = interface_xml::splice_interfaces(&xml, &doc, &ifaces)
        .map_err(|e| Failure::Invalid(vec![format!("{}: {}", domain.display(), chain(&e))]))?;
    finish_patch(in_place, domain, patched)
}

fn finish_patch(in_place: bool, path: &Path, patched: String) -> Result<String, Failure> {
    if in_place {
        write_atomic(path, patched.as_bytes())?;
        Ok(String::new())
    } else {
        Ok(patched)
    }
}
