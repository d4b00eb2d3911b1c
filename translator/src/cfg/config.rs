//! A parsed config, and typed look-ups of the settings vifkit needs: the guest type,
//! the `vif` list, xl.conf's vif defaults.

use std::borrow::Cow;

use super::{CfgError, CfgErrorKind, CfgWarning, Item, Setting, Value};
use crate::guest::GuestType;

/// One entry of the `vif` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifItem<'a> {
    /// The spec string (`'mac=...,bridge=...'`).
    pub spec: Cow<'a, str>,
    /// The line it is on.
    pub line: u32,
}

/// The `vif` entries of a guest config, as xl reads them, with what xl would silently
/// drop reported as warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VifList<'a> {
    /// The specs, in order (the index is the device id).
    pub items: Vec<VifItem<'a>>,
    /// Warnings (a string instead of a list, a nested list).
    pub warnings: Vec<CfgWarning>,
}

/// The vif defaults an `/etc/xen/xl.conf` sets (`None`: not set, xl's built-in default
/// applies: `vif-bridge`, `xenbr0`, dom0, none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VifDefaults {
    /// `vif.default.script` (deprecated: `vifscript`).
    pub script: Option<String>,
    /// `vif.default.bridge` (deprecated: `defaultbridge`).
    pub bridge: Option<String>,
    /// `vif.default.backend`.
    pub backend: Option<String>,
    /// `vif.default.gatewaydev`.
    pub gatewaydev: Option<String>,
}

/// A parsed xl config file. Strings borrow from the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config<'a> {
    file: String,
    src: &'a str,
    settings: Vec<Setting<'a>>,
}

impl<'a> Config<'a> {
    /// The config of `src`, read from `file`, made of `settings`.
    pub(super) fn new(file: &str, src: &'a str, settings: Vec<Setting<'a>>) -> Self {
        Config {
            file: file.to_owned(),
            src,
            settings,
        }
    }

    /// The file name errors and warnings show.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The source text.
    pub fn source(&self) -> &'a str {
        self.src
    }

    /// Every statement, in source order, as written.
    pub fn settings(&self) -> &[Setting<'a>] {
        &self.settings
    }

    /// The last statement for `name` (the one xl reports problems on).
    pub fn setting(&self, name: &str) -> Option<&Setting<'a>> {
        self.settings.iter().rev().find(|s| s.name == name)
    }

    fn err(&self, line: u32, kind: CfgErrorKind) -> CfgError {
        CfgError {
            file: self.file.clone(),
            line,
            kind,
        }
    }

    fn warning(&self, line: u32, code: &'static str, key: &str, message: String) -> CfgWarning {
        CfgWarning {
            file: self.file.clone(),
            line,
            message,
            code,
            key: key.to_owned(),
        }
    }

    /// The effective value of `name` and its last statement.
    fn effective(&self, name: &str) -> Option<(Cow<'_, Value<'a>>, &Setting<'a>)> {
        let last_idx = self.settings.iter().rposition(|s| s.name == name)?;
        let last = &self.settings[last_idx];
        if !last.append {
            return Some((Cow::Borrowed(&last.value), last));
        }
        let from = self.settings[..last_idx]
            .iter()
            .rposition(|s| s.name == name && !s.append)
            .unwrap_or(0);
        let parts = || {
            self.settings[from..=last_idx]
                .iter()
                .filter(|s| s.name == name)
        };
        if parts().count() == 1 {
            return Some((Cow::Borrowed(&last.value), last));
        }
        let value = if last.value.is_list() {
            let mut items = Vec::new();
            for p in parts() {
                if let Value::List(more) = &p.value {
                    items.extend(more.iter().cloned());
                }
            }
            Value::List(items)
        } else {
            let mut text = String::new();
            let mut quoted = false;
            for p in parts() {
                if let Value::Atom { text: t, quoted: q } = &p.value {
                    text.push_str(t);
                    quoted |= *q;
                }
            }
            Value::Atom {
                text: Cow::Owned(text),
                quoted,
            }
        };
        Some((Cow::Owned(value), last))
    }

    /// The effective value of `name`: the last `=`, extended by the `+=` after it.
    pub fn get(&self, name: &str) -> Option<Cow<'_, Value<'a>>> {
        self.effective(name).map(|(v, _)| v)
    }

    /// The effective string (or number) value of `name`; an error if it is a list.
    pub fn get_string(&self, name: &str) -> Result<Option<Cow<'a, str>>, CfgError> {
        let Some((value, set)) = self.effective(name) else {
            return Ok(None);
        };
        let text = match value {
            Cow::Borrowed(Value::Atom { text, .. }) => text.clone(),
            Cow::Owned(Value::Atom { text, .. }) => text,
            _ => {
                return Err(self.err(
                    set.line,
                    CfgErrorKind::NotAString {
                        name: name.to_owned(),
                    },
                ))
            }
        };
        Ok(Some(text))
    }

    /// The effective list value of `name`; an error if it is a single value.
    pub fn get_list(&self, name: &str) -> Result<Option<Cow<'_, [Item<'a>]>>, CfgError> {
        let Some((value, set)) = self.effective(name) else {
            return Ok(None);
        };
        match value {
            Cow::Borrowed(Value::List(items)) => Ok(Some(Cow::Borrowed(items.as_slice()))),
            Cow::Owned(Value::List(items)) => Ok(Some(Cow::Owned(items))),
            _ => Err(self.err(
                set.line,
                CfgErrorKind::NotAList {
                    name: name.to_owned(),
                },
            )),
        }
    }

    /// The guest's name (`name`), if set to a single value.
    pub fn name(&self) -> Option<Cow<'a, str>> {
        self.get_string("name").ok().flatten()
    }

    /// The guest type: `type = "hvm" | "pv" | "pvh"`, else the older `builder = "hvm"`
    /// (HVM) or `"generic"` (PV), else PV. Both given and disagreeing is an error, as in
    /// xl.
    pub fn guest_type(&self) -> Result<GuestType, CfgError> {
        let line = |name| self.setting(name).map_or(0, |s| s.line);
        let ty = match self.get_string("type")? {
            None => None,
            Some(t) => Some((
                match &*t {
                    "hvm" => GuestType::Hvm,
                    "pv" => GuestType::Pv,
                    "pvh" => GuestType::Pvh,
                    _ => {
                        return Err(self.err(
                            line("type"),
                            CfgErrorKind::InvalidValue {
                                name: "type".to_owned(),
                                value: t.into_owned(),
                                expected: "hvm, pv or pvh",
                            },
                        ))
                    }
                },
                t,
            )),
        };
        let Some(builder) = self.get_string("builder")? else {
            return Ok(ty.map_or(GuestType::Pv, |(t, _)| t));
        };
        let from_builder = match &*builder {
            "hvm" => GuestType::Hvm,
            "generic" => GuestType::Pv,
            _ => {
                return Err(self.err(
                    line("builder"),
                    CfgErrorKind::InvalidValue {
                        name: "builder".to_owned(),
                        value: builder.into_owned(),
                        expected: "hvm or generic",
                    },
                ))
            }
        };
        match ty {
            Some((t, text)) if t != from_builder => Err(self.err(
                line("builder"),
                CfgErrorKind::ContradictingBuilder {
                    builder: builder.into_owned(),
                    ty: text.into_owned(),
                },
            )),
            _ => Ok(from_builder),
        }
    }

    /// The `vif` entries, read as xl reads them: a single string instead of a list gives
    /// no NICs and a warning; a nested list ends the list (xl stops there silently; here
    /// with a warning counting what is ignored). No `vif` at all: no entries, no warning.
    pub fn vifs(&self) -> Result<VifList<'a>, CfgError> {
        let mut out = VifList::default();
        let Some((value, set)) = self.effective("vif") else {
            return Ok(out);
        };
        let items = match &*value {
            Value::List(items) => items,
            Value::Atom { .. } => {
                out.warnings.push(
                    self.warning(
                        set.line,
                        "vif-not-a-list",
                        "vif",
                        "Setting `vif` is a single value but should be a list: xl creates no \
                     NICs from it"
                            .to_owned(),
                    ),
                );
                return Ok(out);
            }
        };
        out.items.reserve(items.len());
        for (i, item) in items.iter().enumerate() {
            match &item.value {
                Value::Atom { text, .. } => out.items.push(VifItem {
                    spec: text.clone(),
                    line: item.line,
                }),
                Value::List(_) => {
                    let ignored = items.len() - i;
                    let (noun, verb) = if ignored == 1 {
                        ("entry", "is")
                    } else {
                        ("entries", "are")
                    };
                    out.warnings.push(self.warning(
                        item.line,
                        "vif-nested-list",
                        "vif",
                        format!(
                            "Nested list inside `vif`: xl stops reading the list there, so \
                             {ignored} {noun} from line {} on {verb} ignored",
                            item.line
                        ),
                    ));
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The vif defaults of an `/etc/xen/xl.conf`. The deprecated `vifscript` and
    /// `defaultbridge` still count, with a warning naming the new spelling; when both
    /// spellings are set the new one wins (as in xl).
    pub fn vif_defaults(&self) -> Result<(VifDefaults, Vec<CfgWarning>), CfgError> {
        let mut d = VifDefaults::default();
        let mut warnings = Vec::new();
        for (old, new, slot) in [
            ("vifscript", "vif.default.script", &mut d.script),
            ("defaultbridge", "vif.default.bridge", &mut d.bridge),
        ] {
            let old_value = self.get_string(old)?;
            let new_value = self.get_string(new)?;
            if old_value.is_some() {
                let line = self.setting(old).map_or(0, |s| s.line);
                let message = match self.setting(new) {
                    Some(s) if new_value.is_some() => format!(
                        "`{old}` is deprecated and overridden by `{new}` (line {})",
                        s.line
                    ),
                    _ => format!("`{old}` is deprecated, use `{new}`"),
                };
                warnings.push(self.warning(line, "deprecated-setting", old, message));
            }
            *slot = new_value.or(old_value).map(Cow::into_owned);
        }
        d.backend = self.get_string("vif.default.backend")?.map(Cow::into_owned);
        d.gatewaydev = self
            .get_string("vif.default.gatewaydev")?
            .map(Cow::into_owned);
        Ok((d, warnings))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::cfg::parse;
    use crate::cfg::test_util::{ok, SEED_IOEMU, SEED_ROUTED};

    #[test]
    fn seed_routed() {
        let c = ok(SEED_ROUTED);
        assert_eq!(c.name().as_deref(), Some("alice"));
        assert_eq!(c.guest_type().unwrap(), GuestType::Pv);
        let v = c.vifs().unwrap();
        assert!(v.warnings.is_empty());
        assert_eq!(v.items.len(), 1);
        assert_eq!(
            v.items[0].spec,
            "mac=00:16:3e:4f:94:a9,ip=192.168.1.21,vifname=vifalice.0,\
             script=/etc/xen/scripts/vif-route-ifup"
        );
        assert_eq!(v.items[0].line, 3);
        assert!(matches!(v.items[0].spec, Cow::Borrowed(_)));
    }

    #[test]
    fn seed_ioemu() {
        let c = ok(SEED_IOEMU);
        assert_eq!(c.guest_type().unwrap(), GuestType::Hvm);
        let v = c.vifs().unwrap();
        let specs: Vec<_> = v.items.iter().map(|i| (&*i.spec, i.line)).collect();
        assert_eq!(
            specs,
            [
                ("type=ioemu, bridge=br900", 2),
                ("type=ioemu, bridge=br901", 2),
                ("type=ioemu, bridge=br902", 3),
                ("type=ioemu, bridge=br903", 3),
            ]
        );
        assert!(v.warnings.is_empty());
        assert_eq!(c.name(), None);
    }

    #[test]
    fn typed_getters() {
        let c = ok("a = ['x']\nb = 'y'\n");
        assert_eq!(
            c.get_string("a").unwrap_err().to_string(),
            "f.cfg:1: Setting `a` is a list but should be a single value"
        );
        assert_eq!(
            c.get_list("b").unwrap_err().to_string(),
            "f.cfg:2: Setting `b` is a single value but should be a list"
        );
        assert_eq!(c.get_string("zz").unwrap(), None);
        assert_eq!(c.get_list("zz").unwrap(), None);
        assert!(c.get("zz").is_none());
        assert_eq!(c.file(), "f.cfg");
        let c = ok("name = ['x']\n");
        assert_eq!(c.name(), None);
    }

    #[test]
    fn guest_types() {
        let gt = |src: &str| parse(src, "g.cfg").unwrap().guest_type();
        assert_eq!(gt("").unwrap(), GuestType::Pv);
        assert_eq!(gt("type = 'hvm'").unwrap(), GuestType::Hvm);
        assert_eq!(gt("type = 'pv'").unwrap(), GuestType::Pv);
        assert_eq!(gt("type = \"pvh\"").unwrap(), GuestType::Pvh);
        assert_eq!(gt("builder = 'hvm'").unwrap(), GuestType::Hvm);
        assert_eq!(gt("builder = 'generic'").unwrap(), GuestType::Pv);
        assert_eq!(gt("type = 'hvm'\nbuilder = 'hvm'").unwrap(), GuestType::Hvm);
        assert_eq!(
            gt("type = 'pv'\nbuilder = 'generic'").unwrap(),
            GuestType::Pv
        );
        assert_eq!(
            gt("name = 'x'\ntype = 'HVM'").unwrap_err().to_string(),
            "g.cfg:2: Invalid type `HVM` (expected hvm, pv or pvh)"
        );
        assert_eq!(
            gt("type = 'h'").unwrap_err().to_string(),
            "g.cfg:1: Invalid type `h` (expected hvm, pv or pvh)"
        );
        assert_eq!(
            gt("builder = 'linux'").unwrap_err().to_string(),
            "g.cfg:1: Invalid builder `linux` (expected hvm or generic)"
        );
        assert_eq!(
            gt("type = 'pvh'\nbuilder = 'generic'")
                .unwrap_err()
                .to_string(),
            "g.cfg:2: Contradicting `builder` (generic) and `type` (pvh)"
        );
        assert_eq!(
            gt("type = ['hvm']").unwrap_err().to_string(),
            "g.cfg:1: Setting `type` is a list but should be a single value"
        );
    }

    #[test]
    fn vif_lists() {
        let c = ok("name='x'\n");
        assert_eq!(c.vifs().unwrap(), VifList::default());

        let c = ok("\nvif = 'bridge=br0'\n");
        let v = c.vifs().unwrap();
        assert!(v.items.is_empty());
        assert_eq!(
            v.warnings[0].to_string(),
            "f.cfg:2: Setting `vif` is a single value but should be a list: xl creates no \
             NICs from it"
        );

        let c = ok("vif = [ 'a',\n 'b', [ 'c' ],\n 'd', ]\n");
        let v = c.vifs().unwrap();
        assert_eq!(
            v.items,
            [
                VifItem {
                    spec: "a".into(),
                    line: 1
                },
                VifItem {
                    spec: "b".into(),
                    line: 2
                }
            ]
        );
        assert_eq!(v.warnings.len(), 1);
        assert_eq!(
            v.warnings[0].to_string(),
            "f.cfg:2: Nested list inside `vif`: xl stops reading the list there, so 2 \
             entries from line 2 on are ignored"
        );
        let c = ok("vif = [ 'a', [] ]\n");
        assert_eq!(
            c.vifs().unwrap().warnings[0].message,
            "Nested list inside `vif`: xl stops reading the list there, so 1 entry from \
             line 1 on is ignored"
        );

        let c = ok("vif = [ 'a' ]\nvif += [ 'b\\tc' ]\n");
        let v = c.vifs().unwrap();
        assert_eq!(v.items[1].spec, "b\tc");
        assert_eq!(v.items[1].line, 2);

        let c = ok("vif = []\n");
        assert_eq!(c.vifs().unwrap(), VifList::default());
    }

    #[test]
    fn xl_conf_defaults() {
        let c = ok(
            "vif.default.script=\"vif-openvswitch\"\nvif.default.bridge=\"ovsbr0\"\n\
                    vif.default.backend = 'drv'\nvif.default.gatewaydev = 'eth0'\n",
        );
        let (d, w) = c.vif_defaults().unwrap();
        assert!(w.is_empty());
        assert_eq!(
            d,
            VifDefaults {
                script: Some("vif-openvswitch".into()),
                bridge: Some("ovsbr0".into()),
                backend: Some("drv".into()),
                gatewaydev: Some("eth0".into()),
            }
        );

        let c = ok("vifscript = 'vif-route'\ndefaultbridge = 'br1'\n");
        let (d, w) = c.vif_defaults().unwrap();
        assert_eq!(d.script.as_deref(), Some("vif-route"));
        assert_eq!(d.bridge.as_deref(), Some("br1"));
        assert_eq!(d.backend, None);
        let w: Vec<_> = w.iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            [
                "f.cfg:1: `vifscript` is deprecated, use `vif.default.script`",
                "f.cfg:2: `defaultbridge` is deprecated, use `vif.default.bridge`",
            ]
        );

        // Both spellings: the new one wins, whatever the order.
        let c = ok("vif.default.bridge = 'new'\ndefaultbridge = 'old'\n");
        let (d, w) = c.vif_defaults().unwrap();
        assert_eq!(d.bridge.as_deref(), Some("new"));
        assert_eq!(
            w[0].to_string(),
            "f.cfg:2: `defaultbridge` is deprecated and overridden by `vif.default.bridge` \
             (line 1)"
        );

        let c = ok("");
        assert_eq!(c.vif_defaults().unwrap(), (VifDefaults::default(), vec![]));
        let c = ok("vif.default.script = ['x']");
        assert!(c.vif_defaults().is_err());
    }
}
