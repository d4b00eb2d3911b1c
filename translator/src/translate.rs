//! Whole-guest translation: every NIC converted, every problem collected and named by
//! its NIC (`vif[N]` or `interface[N]`), `--lenient` and `--strict-loss` applied.
//!
//! The CLI, the hooks and the D-Bus service all translate through here.

use std::borrow::Cow;
use std::fmt;

use crate::cfg::VifList;
use crate::diag::{shown, Warning};
use crate::guest::GuestType;
use crate::interface::{Dropped, Interface};
use crate::to_vif::{interface_to_vif, InterfaceError, NetworkResolver};
use crate::to_xml::{take_into_interface, Defaults};
use crate::vif::{ParseOptions, VifError, VifSpec};

/// How strictly to translate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Unknown vif keys and repeated keys are warnings (xl's config-file behaviour).
    pub lenient: bool,
    /// Every warning that reports a loss is an error.
    pub strict_loss: bool,
}

/// Which side a NIC is named from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// An xl vif spec, `vif[N]`.
    Vif,
    /// A libvirt element, `interface[N]`.
    Interface,
}

/// A NIC: its side, its index from 0, and where it was read (`guest.cfg:12`), if known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// vif or interface.
    pub side: Side,
    /// Position in the list, from 0.
    pub index: usize,
    /// `file:line`, when read from a file.
    pub location: Option<String>,
}

impl fmt::Display for Nic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.side {
            Side::Vif => "vif",
            Side::Interface => "interface",
        };
        write!(f, "{side}[{}]", self.index)?;
        if let Some(l) = &self.location {
            write!(f, ": {l}")?;
        }
        Ok(())
    }
}

/// What went wrong with a NIC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A vif spec problem.
    #[error(transparent)]
    Vif(#[from] VifError),
    /// An `<interface>` problem.
    #[error(transparent)]
    Interface(#[from] InterfaceError),
    /// A loss, refused under `--strict-loss`.
    #[error("{0} (refused by --strict-loss)")]
    Loss(Warning),
}

impl Problem {
    /// A stable kebab-case identifier of the kind of problem ([`VifError::code`],
    /// [`InterfaceError::code`]; `refused-loss` for a loss under `--strict-loss`).
    pub fn code(&self) -> Cow<'static, str> {
        match self {
            Problem::Vif(e) => e.code(),
            Problem::Interface(e) => e.code(),
            Problem::Loss(_) => "refused-loss".into(),
        }
    }

    /// The offending value as written (not escaped), when the problem has one.
    pub fn value(&self) -> &str {
        match self {
            Problem::Vif(e) => e.value(),
            Problem::Interface(e) => e.value(),
            Problem::Loss(w) => &w.value,
        }
    }

    /// The key or element the problem names.
    pub fn key(&self) -> &str {
        match self {
            Problem::Vif(e) => e.key(),
            Problem::Interface(e) => e.key(),
            Problem::Loss(w) => &w.key,
        }
    }
}

/// One problem with one NIC. Displays as `vif[N]`; the problem is the source, so a
/// binary printing the chain prints `vif[N]: <problem>: <cause>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{nic}")]
pub struct NicError {
    /// The NIC.
    pub nic: Nic,
    /// The problem.
    #[source]
    pub problem: Problem,
}

/// One warning about one NIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicWarning {
    /// The NIC.
    pub nic: Nic,
    /// The warning.
    pub warning: Warning,
}

impl fmt::Display for NicWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.nic, self.warning)
    }
}

/// One error or warning as fields, for programs (the D-Bus service's `Translator2`):
/// every value escaped and bounded ([`crate::diag::Shown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// A stable kebab-case identifier of the kind ([`Problem::code`],
    /// [`Warning::code`], [`crate::cfg::CfgErrorKind::code`], ...).
    pub code: Cow<'static, str>,
    /// The NIC's index in its list, if about one NIC.
    pub nic: Option<usize>,
    /// The vif key or XML element concerned; empty for none.
    pub key: String,
    /// The offending value; empty for none.
    pub value: String,
    /// The English sentence, without the NIC prefix (`vif[N]: `).
    pub message: String,
}

impl From<&NicError> for Diagnostic {
    fn from(e: &NicError) -> Diagnostic {
        Diagnostic {
            code: e.problem.code(),
            nic: Some(e.nic.index),
            key: shown(e.problem.key()).to_string(),
            value: shown(e.problem.value()).to_string(),
            message: crate::diag::error_chain(&e.problem),
        }
    }
}

impl From<&NicWarning> for Diagnostic {
    fn from(w: &NicWarning) -> Diagnostic {
        Diagnostic {
            code: w.warning.code.into(),
            nic: Some(w.nic.index),
            key: shown(&w.warning.key).to_string(),
            // Escaped when set.
            value: w.warning.value.clone(),
            message: w.warning.message.clone(),
        }
    }
}

/// Translated NICs with their warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated<T> {
    /// One item per input NIC, in order.
    pub items: Vec<T>,
    /// Every warning, in NIC order.
    pub warnings: Vec<NicWarning>,
}

/// Collects the warnings and errors of every NIC, applying `--strict-loss`.
struct Collector {
    side: Side,
    strict_loss: bool,
    warnings: Vec<NicWarning>,
    errors: Vec<NicError>,
}

impl Collector {
    fn new(side: Side, strict_loss: bool) -> Self {
        Collector {
            side,
            strict_loss,
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn nic(&self, index: usize, location: Option<Location<'_>>) -> Nic {
        Nic {
            side: self.side,
            index,
            location: location.map(|l| l.to_string()),
        }
    }

    fn warn(&mut self, index: usize, location: Option<Location<'_>>, ws: Vec<Warning>) {
        if ws.is_empty() {
            return; // most NICs: nothing to say, nothing to drop
        }
        for w in ws {
            let nic = self.nic(index, location);
            if self.strict_loss && w.is_loss() {
                self.errors.push(NicError {
                    nic,
                    problem: Problem::Loss(w),
                });
            } else {
                self.warnings.push(NicWarning { nic, warning: w });
            }
        }
    }

    fn fail<E: Into<Problem>>(&mut self, index: usize, location: Option<Location<'_>>, es: Vec<E>) {
        for e in es {
            let nic = self.nic(index, location);
            self.errors.push(NicError {
                nic,
                problem: e.into(),
            });
        }
    }

    /// The warnings, or every error if there was one.
    fn finish(self) -> Result<Vec<NicWarning>, Vec<NicError>> {
        if self.errors.is_empty() {
            Ok(self.warnings)
        } else {
            Err(self.errors)
        }
    }
}

/// Where a spec was read: a file and a line. Formatted (`file:line`) only when a
/// warning or an error needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    /// The file name as the user gave it.
    pub file: &'a str,
    /// The line, from 1; 0 when unknown.
    pub line: u32,
}

impl fmt::Display for Location<'_> {
    /// `file:line`, or `file` alone for line 0 (a parser that gives no lines).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// One vif spec to translate, and where it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VifInput<'a> {
    /// The spec text.
    pub spec: &'a str,
    /// Where it was read, when from a file.
    pub location: Option<Location<'a>>,
}

/// Translates vif specs to `<interface>` elements. Either every NIC translates, or the
/// result is every problem of every NIC.
pub fn vifs_to_interfaces<'a>(
    vifs: &[VifInput<'a>],
    guest: GuestType,
    defaults: &Defaults<'a>,
    opts: Options,
) -> Result<Translated<Interface<'a>>, Vec<NicError>> {
    let mut items = Vec::with_capacity(vifs.len());
    let warnings = translate_vifs(vifs.iter().copied(), guest, defaults, opts, |iface| {
        items.push(iface);
    })?;
    Ok(Translated { items, warnings })
}

/// The one vif translation loop: hands each NIC that translates to `each`, in order,
/// and collects the warnings and errors of all of them. On an error `each` has been
/// given the NICs that translated, and the result is every problem.
fn translate_vifs<'a>(
    vifs: impl Iterator<Item = VifInput<'a>>,
    guest: GuestType,
    defaults: &Defaults<'a>,
    opts: Options,
    mut each: impl FnMut(Interface<'a>),
) -> Result<Vec<NicWarning>, Vec<NicError>> {
    let mut c = Collector::new(Side::Vif, opts.strict_loss);
    let popts = ParseOptions {
        lenient: opts.lenient,
    };
    for (i, v) in vifs.enumerate() {
        // Held where parse_partial put it: the spec's values are taken out of it, the
        // spec (264 bytes) is not copied around.
        let (spec, w, errors) = &mut VifSpec::parse_partial(v.spec, popts);
        c.warn(i, v.location, std::mem::take(w));
        if errors.is_empty() {
            match take_into_interface(spec, guest, defaults, popts) {
                Ok((iface, w)) => {
                    c.warn(i, v.location, w);
                    each(iface);
                }
                Err(es) => c.fail(i, v.location, es),
            }
        } else {
            // Report the guest-type problems of the keys that did parse too.
            c.fail(i, v.location, std::mem::take(errors));
            if let Err(es) = spec.validate_with(guest, popts) {
                c.fail(i, v.location, es);
            }
        }
    }
    c.finish()
}

/// The vif list of an xl config read from `file`, as [`VifInput`]s.
fn list_inputs<'v>(vifs: &'v VifList<'_>, file: &'v str) -> impl Iterator<Item = VifInput<'v>> {
    vifs.items.iter().map(move |v| VifInput {
        spec: &v.spec,
        location: Some(Location { file, line: v.line }),
    })
}

/// Translates the vif list of an xl config (from [`crate::cfg::Config::vifs`]) read from
/// `file`.
pub fn vif_list_to_interfaces<'v>(
    vifs: &'v VifList<'_>,
    file: &'v str,
    guest: GuestType,
    defaults: &Defaults<'v>,
    opts: Options,
) -> Result<Translated<Interface<'v>>, Vec<NicError>> {
    let mut items = Vec::with_capacity(vifs.items.len());
    let warnings = translate_vifs(list_inputs(vifs, file), guest, defaults, opts, |iface| {
        items.push(iface);
    })?;
    Ok(Translated { items, warnings })
}

/// What `vifkit cfg2xml` prints for the vif list of an xl config read from `file`: the
/// elements one after the other, as [`interfaces_to_string`] writes them, and the
/// warnings.
///
/// [`interfaces_to_string`]: crate::interface_xml::interfaces_to_string
pub fn vif_list_to_xml(
    vifs: &VifList<'_>,
    file: &str,
    guest: GuestType,
    defaults: &Defaults<'_>,
    opts: Options,
) -> Result<(String, Vec<NicWarning>), Vec<NicError>> {
    let mut out = String::new();
    let warnings = vif_list_to_xml_into(vifs, file, guest, defaults, opts, &mut out)?;
    Ok((out, warnings))
}

/// [`vif_list_to_xml`], appending to `out` (which is left as it was on an error). For
/// callers that translate many lists: a buffer used again is not allocated, and not
/// faulted in, again.
///
/// Each element is written as soon as its NIC is translated: no list of elements is
/// built.
pub fn vif_list_to_xml_into(
    vifs: &VifList<'_>,
    file: &str,
    guest: GuestType,
    defaults: &Defaults<'_>,
    opts: Options,
    out: &mut String,
) -> Result<Vec<NicWarning>, Vec<NicError>> {
    let start = out.len();
    out.reserve(vifs.items.len() * crate::interface_xml::BYTES_PER_ELEMENT);
    let result = translate_vifs(list_inputs(vifs, file), guest, defaults, opts, |iface| {
        crate::interface_xml::write_list_element(&iface, out);
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Translates `<interface>` elements (each with what the reader dropped from it) to vif
/// specs.
pub fn interfaces_to_vifs(
    ifaces: &[(&Interface<'_>, &[Dropped])],
    guest: GuestType,
    networks: &dyn NetworkResolver,
    opts: Options,
) -> Result<Translated<VifSpec<'static>>, Vec<NicError>> {
    let mut c = Collector::new(Side::Interface, opts.strict_loss);
    let mut items = Vec::with_capacity(ifaces.len());
    for (i, (iface, dropped)) in ifaces.iter().enumerate() {
        match interface_to_vif(iface, dropped, guest, networks) {
            Ok((spec, w)) => {
                c.warn(i, None, w);
                items.push(spec);
            }
            Err(es) => c.fail(i, None, es),
        }
    }
    let warnings = c.finish()?;
    Ok(Translated { items, warnings })
}

/// Formats specs as xl's `vif = [ '...', '...' ]` (the contract's one-line form),
/// quoting each so xl reads it back exactly.
pub fn format_vif_setting(specs: &[VifSpec<'_>]) -> String {
    if specs.is_empty() {
        return "vif = [ ]".to_owned();
    }
    let mut out = String::from("vif = [ ");
    for (i, s) in specs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        quote_xl_string(&s.to_string(), &mut out);
    }
    out.push_str(" ]");
    out
}

/// Writes `s` as an xl config string literal: single-quoted, with `\\` and `\'`
/// escaped (and control characters as `\xHH`, which specs never hold).
pub fn quote_xl_string(s: &str, out: &mut String) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::error_chain as chain;

    #[test]
    fn all_nics_all_problems() {
        let vifs = [
            VifInput {
                spec: "bridge=br0",
                location: None,
            },
            VifInput {
                spec: "rate=10MB,colour=blue",
                location: Some(Location {
                    file: "g.cfg",
                    line: 3,
                }),
            },
        ];
        let errs = vifs_to_interfaces(
            &vifs,
            GuestType::Hvm,
            &Defaults::default(),
            Options::default(),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(
            chain(&errs[0]),
            "vif[1]: g.cfg:3: Invalid rate `10MB`: Expected DIGITS[G|M|K](B|b)/s"
        );
        assert_eq!(errs[1].problem.key(), "colour");
    }

    #[test]
    fn strict_loss_turns_losses_into_errors_only() {
        let vifs = [VifInput {
            spec: "bridge=br0,devid=1,vifname=vif1.0",
            location: None,
        }];
        let ok = vifs_to_interfaces(
            &vifs,
            GuestType::Hvm,
            &Defaults::default(),
            Options::default(),
        )
        .unwrap();
        assert_eq!(ok.warnings.len(), 2);
        let strict = Options {
            strict_loss: true,
            ..Options::default()
        };
        let errs =
            vifs_to_interfaces(&vifs, GuestType::Hvm, &Defaults::default(), strict).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].problem.key(), "devid");
    }

    #[test]
    fn vif_setting_quotes() {
        let (a, _) = VifSpec::parse("bridge=br0", ParseOptions::default()).unwrap();
        let (b, _) = VifSpec::parse("script=/x/vif-it", ParseOptions::default()).unwrap();
        assert_eq!(
            format_vif_setting(&[a, b]),
            r"vif = [ 'bridge=br0', 'script=/x/vif-it' ]"
        );
        assert_eq!(format_vif_setting(&[]), "vif = [ ]");
        // No spec value holds a quote; the quoting would keep one anyway.
        assert!(VifSpec::parse("script=/x/it's", ParseOptions::default()).is_err());
        let mut out = String::new();
        quote_xl_string("it's a\\b\u{1}", &mut out);
        assert_eq!(out, r"'it\'s a\\b\x01'");
    }

    #[test]
    fn lenient_drops_a_model_on_a_pv_guest() {
        let vifs = [VifInput {
            spec: "bridge=br0,model=e1000",
            location: None,
        }];
        let d = Defaults::default();
        let errs = vifs_to_interfaces(&vifs, GuestType::Pv, &d, Options::default()).unwrap_err();
        assert_eq!(errs[0].problem.key(), "model");
        let lenient = Options {
            lenient: true,
            ..Options::default()
        };
        let t = vifs_to_interfaces(&vifs, GuestType::Pv, &d, lenient).unwrap();
        assert_eq!(t.items[0].model, None);
        assert_eq!(t.warnings[0].warning.key, "model");
        // xl's default model is dropped without --lenient.
        let vifs = [VifInput {
            spec: "bridge=br0,model=rtl8139",
            location: None,
        }];
        let t = vifs_to_interfaces(&vifs, GuestType::Pvh, &d, Options::default()).unwrap();
        assert_eq!(t.items[0].model, None);
        assert!(t.warnings[0].warning.is_loss());
    }
}
