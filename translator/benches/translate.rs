//! Translation benchmarks: vif specs, `<interface>` XML, and a 500-vif xl config
//! through the `vifkit cfg2xml` path.
//!
//! Run: `cargo bench -p vifkit-translator --bench translate`.
//!
//! Every run also writes the 500-vif config to `<target dir>/bench-500.cfg` and what
//! `vifkit cfg2xml` must print for it to `<target dir>/bench-500.xml`, and the same
//! config in the forms libvirt's own converter reads (`data::Form::Libvirt`) to
//! `bench-500-libvirt.cfg` and `.xml`, for `packaging/bench.sh`'s timings of both
//! converters. With `VIFKIT_BENCH_WRITE_CFG=PATH` the binary writes the config to `PATH`
//! (the XML next to it, `.xml`; the libvirt form as `PATH` with `-libvirt` before
//! `.cfg`) and exits without measuring.

#![allow(missing_docs)]

mod data;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use translator::cfg;
use translator::interface_xml::{self, Style};
use translator::to_vif::interface_to_vif;
use translator::to_xml::{vif_to_interface, Defaults};
use translator::translate::{self, Options};
use translator::vif::ParseOptions;
use translator::{GuestType, VifSpec};

const PRETTY: Style<'static> = Style::Pretty {
    indent: "",
    step: "  ",
};

/// The file name the 500-vif config goes by (errors and `file:line` locations name it).
const CFG_NAME: &str = "bench-500.cfg";

fn parse(spec: &str) -> VifSpec<'_> {
    VifSpec::parse(spec, ParseOptions::default())
        .expect("bench spec parses")
        .0
}

/// parse + to_xml + pretty write, into `out`.
fn spec_to_xml(spec: &str, out: &mut String) {
    let s = parse(spec);
    let (iface, _w) =
        vif_to_interface(&s, GuestType::Hvm, &Defaults::default()).expect("bench spec converts");
    interface_xml::write_interface(&iface, PRETTY, out);
}

/// read + to_vif + spec write, into `out`.
fn xml_to_spec(xml: &str, out: &mut String) {
    let parsed = interface_xml::read_interface(xml).expect("bench XML reads");
    let (spec, _w) = interface_to_vif(&parsed.iface, &parsed.dropped, GuestType::Hvm, &())
        .expect("bench XML converts");
    spec.write_to(out);
}

/// What `vifkit cfg2xml` does between reading the file and printing (the same library
/// calls as `src/commands.rs`), the XML appended to `out`.
fn cfg2xml_into(text: &str, out: &mut String) {
    let conf = cfg::parse(text, CFG_NAME).expect("bench config parses");
    let guest = conf.guest_type().expect("bench config has a guest type");
    let vifs = conf.vifs().expect("bench config has vifs");
    assert!(vifs.warnings.is_empty(), "{:?}", vifs.warnings);
    let warnings = translate::vif_list_to_xml_into(
        &vifs,
        CFG_NAME,
        guest,
        &Defaults::default(),
        Options::default(),
        out,
    )
    .expect("bench config translates");
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// [`cfg2xml_into`] into a new string.
fn cfg2xml(text: &str) -> String {
    let mut out = String::new();
    cfg2xml_into(text, &mut out);
    out
}

fn bench_vif_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("vif_parse");
    for (name, spec) in data::SPECS {
        g.throughput(Throughput::Bytes(spec.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), spec, |b, spec| {
            b.iter(|| VifSpec::parse(black_box(spec), ParseOptions::default()))
        });
    }
    g.finish();
}

fn bench_spec_to_xml(c: &mut Criterion) {
    let mut g = c.benchmark_group("spec_to_xml");
    let mut out = String::with_capacity(1024);
    for (name, spec) in data::SPECS {
        g.bench_with_input(BenchmarkId::from_parameter(name), spec, |b, spec| {
            b.iter(|| {
                out.clear();
                spec_to_xml(black_box(spec), &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn bench_xml_to_spec(c: &mut Criterion) {
    let mut g = c.benchmark_group("xml_to_spec");
    // The XML the spec_to_xml path writes, so both directions see the same NICs.
    let mut inputs: Vec<(&str, String)> = data::SPECS
        .iter()
        .map(|&(name, spec)| {
            let mut xml = String::new();
            spec_to_xml(spec, &mut xml);
            (name, xml)
        })
        .collect();
    inputs.push(("virsh_dumpxml", data::VIRSH_XML.to_owned()));
    let mut out = String::with_capacity(256);
    for (name, xml) in &inputs {
        g.bench_with_input(BenchmarkId::from_parameter(name), xml.as_str(), |b, xml| {
            b.iter(|| {
                out.clear();
                xml_to_spec(black_box(xml), &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn bench_cfg_500(c: &mut Criterion) {
    let text = data::config();
    let libvirt_form = data::config_in(data::Form::Libvirt);
    let mut g = c.benchmark_group("cfg_500_vifs");
    g.throughput(Throughput::Elements(data::VIFS as u64));
    g.measurement_time(Duration::from_secs(8));

    // The whole in-process path, as `vifkit cfg2xml` runs it: parse the config, write
    // the XML. `cfg2xml` writes into one buffer, emptied each time (as a service
    // translating config after config would); `cfg2xml_new_string` allocates the
    // 145 kB result each time. glibc's malloc may hand that back to the kernel at each
    // free (its trim threshold is 128 kB) and fault it in again on the next run; how
    // often depends on what else the process allocates (a few percent here; in a bare
    // loop of parse and translate it was 40 of 125 us).
    let mut out = String::new();
    g.bench_function("cfg2xml", |b| {
        b.iter(|| {
            out.clear();
            cfg2xml_into(black_box(&text), &mut out);
            black_box(out.len())
        })
    });
    g.bench_function("cfg2xml_new_string", |b| {
        b.iter(|| cfg2xml(black_box(&text)))
    });
    // The same NICs in the forms libvirt's converter reads, to set beside its timing
    // of the same file (`packaging/bench.sh`).
    g.bench_function("cfg2xml_libvirt_form", |b| {
        b.iter(|| {
            out.clear();
            cfg2xml_into(black_box(&libvirt_form), &mut out);
            black_box(out.len())
        })
    });

    // Its stages, each over the same 500 vifs.
    g.bench_function("stage/cfg_parse", |b| {
        b.iter(|| {
            let conf = cfg::parse(black_box(&text), CFG_NAME).unwrap();
            black_box(conf.vifs().unwrap().items.len())
        })
    });
    let conf = cfg::parse(&text, CFG_NAME).unwrap();
    let vifs = conf.vifs().unwrap();
    let d = Defaults::default();
    g.bench_function("stage/translate", |b| {
        b.iter(|| {
            translate::vif_list_to_interfaces(
                black_box(&vifs),
                CFG_NAME,
                GuestType::Hvm,
                &d,
                Options::default(),
            )
            .unwrap()
        })
    });
    let t =
        translate::vif_list_to_interfaces(&vifs, CFG_NAME, GuestType::Hvm, &d, Options::default())
            .unwrap();
    g.bench_function("stage/write_xml", |b| {
        b.iter(|| interface_xml::interfaces_to_string(black_box(&t.items)))
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_vif_parse,
    bench_spec_to_xml,
    bench_xml_to_spec,
    bench_cfg_500
);

/// `<target dir>`, from this binary's path (`<target dir>/<profile>/deps/translate-*`).
fn target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.to_path_buf())
}

/// Writes the config to `path` and the expected `cfg2xml` output next to it, and the
/// same in libvirt's form to `path` with `-libvirt` before its extension.
fn write_cfg(path: &Path) -> std::io::Result<()> {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let libvirt_path = path.with_file_name(format!("{stem}-libvirt.cfg"));
    for (path, text) in [
        (path.to_path_buf(), data::config()),
        (libvirt_path, data::config_in(data::Form::Libvirt)),
    ] {
        std::fs::write(&path, &text)?;
        std::fs::write(path.with_extension("xml"), cfg2xml(&text))?;
    }
    Ok(())
}

fn main() {
    if let Some(path) = std::env::var_os("VIFKIT_BENCH_WRITE_CFG") {
        let path = PathBuf::from(path);
        if let Err(e) = write_cfg(&path) {
            eprintln!("Cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
        return;
    }
    if let Some(dir) = target_dir() {
        let path = dir.join(CFG_NAME);
        if let Err(e) = write_cfg(&path) {
            eprintln!("note: cannot write {}: {e}", path.display());
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
