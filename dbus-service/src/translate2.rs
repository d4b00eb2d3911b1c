//! `org.vifkit.Translator2`: Translator1's translations, and a whole xl config's vif
//! list, with structured diagnostics: each error or warning is `(code, nic_index, key,
//! value, message)` (`a(sisss)`), from the translator's own diagnostic types
//! ([`translator::translate::Diagnostic`]).
//!
//! A spec or document the translator refuses is `org.vifkit.Error.InvalidSpec` whose
//! message is the first error's message; `Check` answers every error, as fields, in a
//! normal reply. (The error reply carries the message only: GLib's clients, and so
//! Cockpit's bridge, show any error whose body is not one string as "Error return with
//! body of type ...", without its message.)

use std::sync::Arc;

use zbus::interface;
use zbus::message::{Header, Message};
use zbus::names::ErrorName;
use zbus::DBusError;

use super::admission::Ticket;
use super::error::{chain, ServiceError};
use super::nic_models::guest_type;
use super::{limits, Shared};
use translator::cfg::{CfgError, CfgWarning};
use translator::interface_xml;
use translator::to_vif::NetworkMap;
use translator::to_xml::Defaults;
use translator::translate::{self, Diagnostic, NicError, Options, VifInput};
use translator::GuestType;

/// One diagnostic as D-Bus carries it: `(code, nic_index (-1: none), key, value,
/// message)`.
pub type Diag = (String, i32, String, String, String);

fn diag(d: Diagnostic) -> Diag {
    (
        d.code.into_owned(),
        d.nic.and_then(|n| i32::try_from(n).ok()).unwrap_or(-1),
        d.key,
        d.value,
        d.message,
    )
}

/// A diagnostic about no NIC in particular.
fn general(code: &str, key: &str, message: String) -> Diag {
    (code.to_owned(), -1, key.to_owned(), String::new(), message)
}

fn cfg_error(e: &CfgError) -> Diag {
    (
        e.kind.code().to_owned(),
        -1,
        translator::diag::shown(e.kind.key()).to_string(),
        translator::diag::shown(e.kind.value()).to_string(),
        format!("Line {}: {}", e.line, chain(&e.kind)),
    )
}

fn cfg_warning(w: &CfgWarning) -> Diag {
    (
        w.code.to_owned(),
        -1,
        w.key.clone(),
        String::new(),
        format!("Line {}: {}", w.line, w.message),
    )
}

/// Why a `Translator2` call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Not the input's translation: a bad guest type, a request too large, ...
    Service(ServiceError),
    /// The translator refused the input: every error (at least one).
    Invalid(Vec<Diag>),
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Failure {
        Failure::Service(e)
    }
}

fn nic_errors(errors: &[NicError]) -> Failure {
    Failure::Invalid(errors.iter().map(|e| diag(e.into())).collect())
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Failure::Service(e) => e.message(),
            Failure::Invalid(d) => d.first().map_or("The input is invalid", |d| &d.4),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Service(e) => e.fmt(f),
            Failure::Invalid(_) => write!(f, "org.vifkit.Error.InvalidSpec: {}", self.message()),
        }
    }
}

impl std::error::Error for Failure {}

impl DBusError for Failure {
    fn create_reply(&self, call: &Header<'_>) -> zbus::Result<Message> {
        match self {
            Failure::Service(e) => e.create_reply(call),
            Failure::Invalid(_) => Message::error(call, self.name()).build(&(self.message(),)),
        }
    }

    fn name(&self) -> ErrorName<'_> {
        match self {
            Failure::Service(e) => e.name(),
            Failure::Invalid(_) => {
                ErrorName::from_static_str_unchecked("org.vifkit.Error.InvalidSpec")
            }
        }
    }

    fn description(&self) -> Option<&str> {
        Some(self.message())
    }
}

fn too_large(what: &str, len: usize, max: usize) -> Result<(), ServiceError> {
    if len > max {
        return Err(ServiceError::TooLarge(format!(
            "The {what} is {len} bytes long; at most {max} are taken"
        )));
    }
    Ok(())
}

fn too_many(n: usize) -> Result<(), ServiceError> {
    if n > limits::MAX_INTERFACES {
        return Err(ServiceError::TooLarge(format!(
            "The input has {n} NICs; at most {} are taken",
            limits::MAX_INTERFACES
        )));
    }
    Ok(())
}

/// `VifToXml`: one spec to one `<interface>` element.
pub fn vif_to_xml(spec: &str, guest: &str) -> Result<(String, Vec<Diag>), Failure> {
    too_large("vif spec", spec.len(), limits::MAX_SPEC)?;
    let guest = guest_type(guest)?;
    let input = [VifInput {
        spec,
        location: None,
    }];
    let t = translate::vifs_to_interfaces(&input, guest, &Defaults::default(), Options::default())
        .map_err(|e| nic_errors(&e))?;
    Ok((
        interface_xml::interfaces_to_string(&t.items),
        t.warnings.iter().map(|w| diag(w.into())).collect(),
    ))
}

/// `XmlToVif`: the `<interface>` elements of `xml` (bare, in `<devices>` or a whole
/// `<domain>`) to vif specs. The guest type is `guest`, or when that is empty the
/// document's `<os><type>` (HVM without one).
pub fn xml_to_vif(xml: &str, guest: &str) -> Result<(Vec<String>, Vec<Diag>), Failure> {
    too_large("XML", xml.len(), limits::MAX_XML)?;
    // Counted in the text, before anything is parsed (a comment's `<interface` too).
    too_many(xml.matches("<interface").count())?;
    let given = if guest.is_empty() {
        None
    } else {
        Some(guest_type(guest)?)
    };
    let doc = interface_xml::read_document(xml)
        .map_err(|e| Failure::Invalid(vec![general("bad-xml", "", chain(&e))]))?;
    if doc.interfaces.is_empty() {
        return Err(Failure::Invalid(vec![general(
            "no-interface",
            "<interface>",
            "The XML has no <interface> element".into(),
        )]));
    }
    let guest: GuestType = given.or(doc.guest_type).unwrap_or_default();
    let ifaces: Vec<_> = doc
        .interfaces
        .iter()
        .map(|l| (&l.parsed.iface, l.parsed.dropped.as_slice()))
        .collect();
    let t =
        translate::interfaces_to_vifs(&ifaces, guest, &NetworkMap(Vec::new()), Options::default())
            .map_err(|e| nic_errors(&e))?;
    Ok((
        t.items.iter().map(ToString::to_string).collect(),
        t.warnings.iter().map(|w| diag(w.into())).collect(),
    ))
}

/// `CfgToXml`: the `vif` list of a whole xl config to `<interface>` elements. The guest
/// type is `guest`, or when that is empty the config's (`type`, `builder`; xl's default
/// without either). The config's own warnings (a `vif` that is no list, a nested list)
/// come first.
pub fn cfg_to_xml(cfg: &str, guest: &str) -> Result<(String, Vec<Diag>), Failure> {
    too_large("xl config", cfg.len(), limits::MAX_XML)?;
    let given = if guest.is_empty() {
        None
    } else {
        Some(guest_type(guest)?)
    };
    let conf =
        translator::cfg::parse(cfg, "config").map_err(|e| Failure::Invalid(vec![cfg_error(&e)]))?;
    let guest = match given {
        Some(g) => g,
        None => conf
            .guest_type()
            .map_err(|e| Failure::Invalid(vec![cfg_error(&e)]))?,
    };
    let vifs = conf
        .vifs()
        .map_err(|e| Failure::Invalid(vec![cfg_error(&e)]))?;
    too_many(vifs.items.len())?;
    let mut diags: Vec<Diag> = vifs.warnings.iter().map(cfg_warning).collect();
    let (xml, warnings) = translate::vif_list_to_xml(
        &vifs,
        "config",
        guest,
        &Defaults::default(),
        Options::default(),
    )
    .map_err(|e| nic_errors(&e))?;
    diags.extend(warnings.iter().map(|w| diag(w.into())));
    Ok((xml, diags))
}

/// `Check`: what `kind`'s method says of `input`, as a normal reply: whether it
/// translates, its errors, its warnings.
pub fn check(
    kind: &str,
    input: &str,
    guest: &str,
) -> Result<(bool, Vec<Diag>, Vec<Diag>), ServiceError> {
    let result = match kind {
        "vif" => vif_to_xml(input, guest).map(|(_, w)| w),
        "xml" => xml_to_vif(input, guest).map(|(_, w)| w),
        "cfg" => cfg_to_xml(input, guest).map(|(_, w)| w),
        other => {
            return Err(ServiceError::InvalidArgs(format!(
                "Unknown kind `{}` (expected vif, xml or cfg)",
                translator::diag::shown(other)
            )))
        }
    };
    match result {
        Ok(w) => Ok((true, Vec::new(), w)),
        Err(Failure::Invalid(e)) => Ok((false, e, Vec::new())),
        Err(Failure::Service(e)) => Err(e),
    }
}

/// The `org.vifkit.Translator2` interface.
#[derive(Debug)]
pub struct Translator2 {
    pub(super) shared: Arc<Shared>,
}

impl Translator2 {
    /// Admits a request of `len` bytes from the call's sender (see [`crate::admission`]).
    fn admit(&self, hdr: &Header<'_>, len: usize) -> Result<Option<Ticket>, ServiceError> {
        let caller = hdr.sender().map_or("", |s| s.as_str());
        self.shared.gate.admit(caller, len)
    }

    /// Runs `f` on the blocking pool once the request is admitted.
    async fn run<T, F>(&self, hdr: &Header<'_>, len: usize, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Failure> + Send + 'static,
    {
        let ticket = self.admit(hdr, len)?;
        self.shared
            .store
            .work(move || {
                // Held until the work ends, even when the caller has gone.
                let _ticket = ticket;
                Ok(f())
            })
            .await?
    }
}

#[interface(name = "org.vifkit.Translator2")]
impl Translator2 {
    /// Translates one xl vif spec for a guest of type `guest_type` (`hvm`, `pv`,
    /// `pvh`) to a libvirt `<interface>` element, with the warnings as diagnostics
    /// `(code, nic_index, key, value, message)`.
    #[zbus(out_args("xml", "warnings"))]
    async fn vif_to_xml(
        &self,
        spec: &str,
        guest_type: &str,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(String, Vec<Diag>), Failure> {
        too_large("vif spec", spec.len(), limits::MAX_SPEC)?;
        let (spec, guest) = (spec.to_owned(), guest_type.to_owned());
        self.run(&hdr, spec.len() + guest.len(), move || {
            vif_to_xml(&spec, &guest)
        })
        .await
    }

    /// Translates `<interface>` elements (bare, in `<devices>`, or a whole `<domain>`)
    /// to xl vif specs, one per element, with the warnings as diagnostics. An empty
    /// `guest_type` takes the document's `<os><type>` (HVM without one).
    #[zbus(out_args("specs", "warnings"))]
    async fn xml_to_vif(
        &self,
        xml: &str,
        guest_type: &str,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(Vec<String>, Vec<Diag>), Failure> {
        too_large("XML", xml.len(), limits::MAX_XML)?;
        let (xml, guest) = (xml.to_owned(), guest_type.to_owned());
        self.run(&hdr, xml.len() + guest.len(), move || {
            xml_to_vif(&xml, &guest)
        })
        .await
    }

    /// Translates the `vif` list of a whole xl config to `<interface>` elements, with
    /// the config's and the translation's warnings as diagnostics. An empty
    /// `guest_type` takes the config's `type` (or `builder`).
    #[zbus(out_args("xml", "warnings"))]
    async fn cfg_to_xml(
        &self,
        cfg: &str,
        guest_type: &str,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(String, Vec<Diag>), Failure> {
        too_large("xl config", cfg.len(), limits::MAX_XML)?;
        let (cfg, guest) = (cfg.to_owned(), guest_type.to_owned());
        self.run(&hdr, cfg.len() + guest.len(), move || {
            cfg_to_xml(&cfg, &guest)
        })
        .await
    }

    /// What `VifToXml` (`kind` `vif`), `XmlToVif` (`xml`) or `CfgToXml` (`cfg`) says of
    /// `input`, never as an InvalidSpec error: whether it translates, its errors and its
    /// warnings, as diagnostics.
    #[zbus(out_args("ok", "errors", "warnings"))]
    async fn check(
        &self,
        kind: &str,
        input: &str,
        guest_type: &str,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(bool, Vec<Diag>, Vec<Diag>), ServiceError> {
        too_large("input", input.len(), limits::MAX_XML)?;
        let (kind, input, guest) = (kind.to_owned(), input.to_owned(), guest_type.to_owned());
        let ticket = self.admit(&hdr, input.len() + guest.len())?;
        self.shared
            .store
            .work(move || {
                let _ticket = ticket;
                check(&kind, &input, &guest)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(code: &str, nic: i32, key: &str, value: &str, message: &str) -> Diag {
        (code.into(), nic, key.into(), value.into(), message.into())
    }

    #[test]
    fn warnings_and_errors_have_their_fields() {
        let (xml, w) = vif_to_xml("bridge=xenbr0,devid=3", "pv").unwrap();
        assert!(xml.contains("xenbr0"), "{xml}");
        assert_eq!(
            w,
            [d(
                "dropped-key",
                0,
                "devid",
                "",
                "devid=3: libvirt numbers NICs by their order: dropped"
            )]
        );
        let e = vif_to_xml("mac=zz\n", "pv").unwrap_err();
        let Failure::Invalid(errs) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(errs.len(), 1);
        assert_eq!(
            (&*errs[0].0, errs[0].1, &*errs[0].2, &*errs[0].3),
            ("bad-mac", 0, "mac", "zz\\n")
        );
        assert!(errs[0].4.starts_with("Invalid mac `zz"), "{}", errs[0].4);
        assert_eq!(e.message(), errs[0].4);
        let e = vif_to_xml("bridge=b,colour=red", "pv").unwrap_err();
        assert!(
            matches!(&e, Failure::Invalid(errs) if errs[0].0 == "unknown-key" && errs[0].2 == "colour" && errs[0].3 == "colour=red"),
            "{e:?}"
        );
        assert!(matches!(
            vif_to_xml("bridge=b", "kvm"),
            Err(Failure::Service(ServiceError::InvalidArgs(_)))
        ));
    }

    #[test]
    fn xml_side_names_elements() {
        let (specs, w) = xml_to_vif(
            "<devices><interface type='bridge'><source bridge='br0'/></interface>\
             <interface type='bridge'><source bridge='br1'/><virtualport type='802.1Qbg'/></interface></devices>",
            "hvm",
        )
        .unwrap();
        assert_eq!(specs.len(), 2, "{specs:?}");
        assert!(specs[1].contains("bridge=br1"), "{specs:?}");
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(
            (&*w[0].0, w[0].1, &*w[0].2),
            ("dropped-key", 1, "<virtualport>")
        );
        let e = xml_to_vif(
            "<interface type='bridge'><source bridge='b,vlan=5'/></interface>",
            "hvm",
        )
        .unwrap_err();
        assert!(
            matches!(&e, Failure::Invalid(errs) if errs[0].0 == "bad-source-bridge" && errs[0].1 == 0 && errs[0].3 == "b,vlan=5"),
            "{e:?}"
        );
        let e = xml_to_vif("<interface", "").unwrap_err();
        assert!(
            matches!(&e, Failure::Invalid(errs) if errs[0].0 == "bad-xml" && errs[0].1 == -1),
            "{e:?}"
        );
    }

    #[test]
    fn a_whole_config() {
        let cfg = "name = \"g\"\ntype = \"pv\"\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0',\n  'bridge=br1,devid=4' ]\n";
        let (xml, w) = cfg_to_xml(cfg, "").unwrap();
        assert_eq!(xml.matches("<interface").count(), 2, "{xml}");
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!((&*w[0].0, w[0].1, &*w[0].2), ("dropped-key", 1, "devid"));
        // The guest type given wins over the config's: model= is refused on PV only.
        let cfg = "type = \"hvm\"\nvif = [ 'model=e1000,bridge=b' ]\n";
        assert!(cfg_to_xml(cfg, "").is_ok());
        let e = cfg_to_xml(cfg, "pv").unwrap_err();
        assert!(
            matches!(&e, Failure::Invalid(errs) if errs[0].1 == 0),
            "{e:?}"
        );
        let (_, w) = cfg_to_xml("vif = 'bridge=b'\n", "hvm").unwrap();
        assert_eq!((&*w[0].0, w[0].1, &*w[0].2), ("vif-not-a-list", -1, "vif"));
        assert!(w[0].4.starts_with("Line 1: "), "{w:?}");
        let e = cfg_to_xml("vif = [ 'a'\n", "hvm").unwrap_err();
        assert!(
            matches!(&e, Failure::Invalid(errs) if errs[0].0 == "cfg-syntax"),
            "{e:?}"
        );
        let many = format!("vif = [ {} ]\n", vec!["'bridge=b'"; 300].join(","));
        assert!(matches!(
            cfg_to_xml(&many, "hvm"),
            Err(Failure::Service(ServiceError::TooLarge(_)))
        ));
    }

    #[test]
    fn check_answers_errors_as_a_reply() {
        let (ok, errs, warns) = check("vif", "mac=zz", "pv").unwrap();
        assert!(!ok && warns.is_empty());
        assert_eq!(errs[0].0, "bad-mac");
        let (ok, errs, warns) = check("cfg", "vif = [ 'bridge=b,devid=2' ]\n", "").unwrap();
        assert!(ok && errs.is_empty());
        assert_eq!(warns[0].2, "devid");
        assert!(matches!(
            check("json", "", ""),
            Err(ServiceError::InvalidArgs(_))
        ));
    }
}
