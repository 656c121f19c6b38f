//! `catalog completion <shell>`, and the generated `completions/` and `man/` files.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Ctx;

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(ctx: &Ctx, args: CompletionArgs) -> anyhow::Result<()> {
    ctx.printer().raw(&String::from_utf8(script(args.shell))?);
    Ok(())
}

fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = crate::cli::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "catalog", &mut out);
    out
}

/// Every generated asset (relative path, contents): completion scripts and man pages.
/// `CATALOG_UPDATE_ASSETS=1 cargo test --test assets` writes them; the test fails on drift.
pub fn assets() -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    for (shell, file) in [
        (Shell::Bash, "catalog.bash"),
        (Shell::Zsh, "_catalog"),
        (Shell::Fish, "catalog.fish"),
        (Shell::PowerShell, "_catalog.ps1"),
        (Shell::Elvish, "catalog.elv"),
    ] {
        out.push((Path::new("completions").join(file), script(shell)));
    }
    let root = crate::cli::Cli::command();
    man_pages(&root, "catalog", &mut out)?;
    Ok(out)
}

fn man_pages(
    cmd: &clap::Command,
    name: &str,
    out: &mut Vec<(PathBuf, Vec<u8>)>,
) -> anyhow::Result<()> {
    let cmd = cmd
        .clone()
        .name(name.to_owned())
        .bin_name(name.replace('-', " "));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    out.push((Path::new("man").join(format!("{name}.1")), page));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        man_pages(sub, &format!("{name}-{}", sub.get_name()), out)?;
    }
    Ok(())
}
