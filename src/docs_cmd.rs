//! `vifkit completions` and `vifkit manpages`: shell completions and man pages generated
//! from the command-line definition itself, so they never drift from `--help`.

use std::fs;
use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::report::Failure;

/// The man page section: vifkit is an administrator's command.
const SECTION: &str = "8";

/// `vifkit completions SHELL`: the script, as text.
pub fn completions(shell: clap_complete::Shell) -> Result<String, Failure> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "vifkit", &mut out);
    Ok(String::from_utf8(out).context("The completion script is not UTF-8")?)
}

/// `vifkit manpages DIR`: `vifkit.8`, then one page per command and subcommand, named
/// after its path (`vifkit-bridge-add.8`). Prints the files written.
pub fn manpages(dir: &Path) -> Result<String, Failure> {
    fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = String::new();
    write_pages(&cmd, "vifkit", dir, &mut out)?;
    Ok(out)
}

fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    out: &mut String,
) -> anyhow::Result<()> {
    let page = cmd
        .clone()
        .name(name.to_owned())
        .bin_name(name.replace('-', " "));
    let mut text = Vec::new();
    clap_mangen::Man::new(page)
        .section(SECTION)
        .render(&mut text)
        .with_context(|| format!("Cannot render the man page of {name}"))?;
    let path = dir.join(format!("{name}.{SECTION}"));
    fs::write(&path, &text).with_context(|| format!("Cannot write {}", path.display()))?;
    out.push_str(&path.display().to_string());
    out.push('\n');
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" || sub.is_hide_set() {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, out)?;
    }
    Ok(())
}
