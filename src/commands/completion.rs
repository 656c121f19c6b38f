//! `catalog completion <shell>`, and the generated `completions/` and `man/` files.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, Parser};
use clap_complete::engine::CompletionCandidate;
use clap_complete::Shell;

use super::Ctx;

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,

    /// A static script (commands and flags only) instead of the dynamic one that also
    /// completes workspace and integration slugs by asking `catalog` at each TAB
    #[arg(long = "static")]
    pub static_script: bool,
}

pub fn run(ctx: &Ctx, args: CompletionArgs) -> anyhow::Result<()> {
    let text = if args.static_script {
        script(args.shell)
    } else {
        registration(args.shell)?
    };
    ctx.printer().raw(&String::from_utf8(text)?);
    Ok(())
}

/// The dynamic registration: the shell calls `CATALOG_COMPLETE=SHELL catalog -- ARGS...`
/// at each TAB, and `catalog` answers with commands, flags and live slugs.
fn registration(shell: Shell) -> anyhow::Result<Vec<u8>> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| anyhow::anyhow!("no dynamic completion for {name}"))?;
    let mut out = Vec::new();
    completer.write_registration(
        crate::env_vars::CATALOG_COMPLETE,
        "catalog",
        "catalog",
        "catalog",
        &mut out,
    )?;
    Ok(out)
}

/// Answers a completion request (`CATALOG_COMPLETE` set) and exits; otherwise returns.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(crate::cli::Cli::command)
        .var(crate::env_vars::CATALOG_COMPLETE)
        .bin("catalog")
        .completer("catalog")
        .complete();
}

/// Workspace slugs (with names) for the shell, from the current target.
pub fn workspaces(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, "", |client| {
        Ok(client
            .list_workspaces(None)?
            .into_iter()
            .map(|w| (w.slug, w.name))
            .collect())
    })
}

/// Integration slugs (with their service) for the shell.
pub fn integrations(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, "", integration_slugs)
}

/// `@integration` for arguments written with an `@`.
pub fn at_integrations(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, "@", integration_slugs)
}

fn integration_slugs(client: &crate::client::Client) -> anyhow::Result<Vec<(String, String)>> {
    Ok(client
        .list_integrations(None, None)?
        .into_iter()
        .map(|i| (i.slug, i.ai_provider_id))
        .collect())
}

/// Candidates starting with what was typed. Silent: any failure (no catalog yet, no
/// key, unreachable server) completes nothing rather than printing.
fn candidates(
    current: &OsStr,
    prefix: &str,
    list: impl Fn(&crate::client::Client) -> anyhow::Result<Vec<(String, String)>>,
) -> Vec<CompletionCandidate> {
    let Some(typed) = current.to_str() else {
        return Vec::new();
    };
    let Some(ctx) = quiet_context() else {
        return Vec::new();
    };
    let Ok(client) = ctx.client() else {
        return Vec::new();
    };
    list(client)
        .unwrap_or_default()
        .into_iter()
        .map(|(slug, help)| (format!("{prefix}{slug}"), help))
        .filter(|(value, _)| value.starts_with(typed))
        .map(|(value, help)| CompletionCandidate::new(value).help(Some(help.into())))
        .collect()
}

/// The settings a completion runs with: the environment and the current profile; an
/// embedded catalog that does not exist yet is not created by a TAB.
fn quiet_context() -> Option<Ctx> {
    let cli = crate::cli::Cli::try_parse_from(["catalog", "auth", "status"]).ok()?;
    let mut settings =
        crate::settings::Settings::resolve(&cli.global, crate::settings::Env::from_process())
            .ok()?;
    settings.printer.quiet = true;
    settings.can_prompt = false;
    if let crate::settings::Target::Embedded { db_path } = &settings.target {
        if !db_path.exists() {
            return None;
        }
    }
    Some(Ctx::new(settings))
}

fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = crate::cli::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "catalog", &mut out);
    out
}

/// Every generated asset (relative path, contents): completion scripts and man pages.
/// `CATALOG_UPDATE_ASSETS=1 cargo test --test it assets` writes them; the test fails on drift.
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
