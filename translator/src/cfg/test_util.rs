//! Helpers shared by the tests of the `cfg` modules.

use std::borrow::Cow;

use super::{parse, Config};

pub(super) fn ok(src: &str) -> Config<'_> {
    match parse(src, "f.cfg") {
        Ok(c) => c,
        Err(e) => panic!("{src:?}: {e}"),
    }
}

pub(super) fn err(src: &str) -> String {
    match parse(src, "f.cfg") {
        Ok(c) => panic!("{src:?} parsed: {:?}", c.settings()),
        Err(e) => e.to_string(),
    }
}

pub(super) fn s(c: &Config<'_>, name: &str) -> Option<String> {
    c.get_string(name).unwrap().map(Cow::into_owned)
}

pub(super) fn strings(c: &Config<'_>, name: &str) -> Vec<String> {
    c.get_list(name)
        .unwrap()
        .unwrap()
        .iter()
        .map(|i| i.value.as_str().unwrap().to_owned())
        .collect()
}

pub(super) const SEED_ROUTED: &str = "name = \"alice\"\n\
    type = \"pv\"   # routed guest\n\
    vif = [ 'mac=00:16:3e:4f:94:a9,ip=192.168.1.21,vifname=vifalice.0,\
    script=/etc/xen/scripts/vif-route-ifup' ]\n";

pub(super) const SEED_IOEMU: &str = "builder = 'hvm'\n\
    vif = [ 'type=ioemu, bridge=br900', 'type=ioemu, bridge=br901',\n        \
    'type=ioemu, bridge=br902', 'type=ioemu, bridge=br903', ]\n";
