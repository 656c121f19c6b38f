//! `catalog admin rotate-master-key`: re-seals every stored secret under a new master key
//! (see [`crate::server::rotation`] for the order of the steps and why it is safe to
//! interrupt).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::commands::serve::Seconds;
use crate::commands::Ctx;
use crate::crypto::MasterKey;
use crate::env_vars as env;
use crate::exit::{fail, ErrorKind};
use crate::printer::Tabular;
use crate::secret_input::{from_env, from_file};
use crate::server::rotation::{Options, Outcome, Refusal};

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("new_key").required(true).multiple(false))]
pub struct RotateArgs {
    /// Read the new master key (base64 of 32 bytes) from this file
    #[arg(long, value_name = "PATH", group = "new_key")]
    pub new_key_file: Option<PathBuf>,

    /// Read the new master key (base64 of 32 bytes) from this environment variable
    #[arg(long, value_name = "VAR", group = "new_key")]
    pub new_key_env: Option<String>,

    /// Database file (default: the embedded catalog's)
    #[arg(long, env = env::CATALOG_DB, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Secrets re-sealed per write transaction
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..))]
    pub batch_size: u16,

    /// Wait this long between batches, leaving the database to other writers
    #[arg(long, value_name = "DURATION")]
    pub pause: Option<Seconds>,
}

/// What the command reports on stdout.
#[derive(Debug, Serialize)]
pub struct RotationReport {
    /// Secrets re-sealed by this run.
    pub resealed: u64,
    /// The fingerprint of the key replaced (empty when this run only finished the last
    /// step of a rotation an interruption cut short).
    pub old_key: String,
    pub new_key: String,
    pub location: String,
    /// Whether this run finished a rotation an earlier run began.
    pub resumed: bool,
    /// Secrets still sealed under the old key: always 0 once the command succeeds.
    pub remaining_under_old_key: u64,
}

impl Tabular for RotationReport {
    fn headers() -> &'static [&'static str] {
        &[
            "RESEALED",
            "OLD KEY",
            "NEW KEY",
            "LOCATION",
            "RESUMED",
            "REMAINING",
        ]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.resealed.to_string(),
            crate::printer::or_dash(Some(&self.old_key)),
            self.new_key.clone(),
            self.location.clone(),
            self.resumed.to_string(),
            self.remaining_under_old_key.to_string(),
        ]
    }
}

fn read_new_key(ctx: &Ctx, args: &RotateArgs) -> anyhow::Result<MasterKey> {
    let (text, flag) = match (&args.new_key_file, &args.new_key_env) {
        (Some(path), None) => (from_file(path, "--new-key-file")?, "--new-key-file"),
        (None, Some(var)) => (from_env(&ctx.settings, var, "--new-key-env")?, "--new-key-env"),
        _ => {
            return Err(fail(
                ErrorKind::Usage,
                "give the new master key with exactly one of `--new-key-file PATH` or `--new-key-env VAR`",
                None,
            ))
        }
    };
    // The decoding error names no part of the text.
    MasterKey::decode(&text).map_err(|e| {
        fail(
            ErrorKind::Usage,
            format!("the new master key given with `{flag}` is unusable: {e}"),
            Some("generate one with `openssl rand -base64 32`"),
        )
    })
}

pub fn run(ctx: &Ctx, args: RotateArgs) -> anyhow::Result<()> {
    let new = read_new_key(ctx, &args)?;
    let (state, _db) = super::local_catalog(ctx, args.db.clone(), "rotate-master-key")?;
    let options = Options {
        batch_size: usize::from(args.batch_size),
        pause: args
            .pause
            .map(|Seconds(d)| d)
            .filter(|d| *d > Duration::ZERO),
    };
    let printer = ctx.printer();
    let mut progress = |done: u64, total: u64| {
        printer.status(format!("re-sealed {done} of {total} secrets"));
    };
    let outcome = state
        .vault
        .rotate(&new, &options, &mut progress)
        .map_err(refusal)?;
    report(ctx, &outcome)
}

/// A refusal as a typed error with its exit code and the way out.
fn refusal(e: anyhow::Error) -> anyhow::Error {
    let Some(r) = e.downcast_ref::<Refusal>() else {
        return e;
    };
    let message = r.to_string();
    match r {
        Refusal::NoKey => fail(
            ErrorKind::Failed,
            message,
            Some("the catalog creates its master key when it first stores a secret"),
        ),
        Refusal::SameKey(_) => fail(
            ErrorKind::Usage,
            message,
            Some("generate a new key with `openssl rand -base64 32`; `catalog admin master-key status` shows the current key's fingerprint"),
        ),
        Refusal::OtherInProgress { pending, .. } => fail(
            ErrorKind::Conflict,
            message,
            Some(&format!(
                "finish that rotation first: run `catalog admin rotate-master-key` again with the key whose fingerprint is {pending}"
            )),
        ),
    }
}

fn report(ctx: &Ctx, outcome: &Outcome) -> anyhow::Result<()> {
    let printer = ctx.printer();
    if outcome.old.is_empty() {
        printer.status(format!(
            "the rotation to key {} had re-sealed every secret; its last step is done now",
            outcome.new
        ));
    } else {
        let secrets = if outcome.resealed == 1 {
            "secret"
        } else {
            "secrets"
        };
        printer.status(format!(
            "{} {secrets} re-sealed; nothing remains under key {}; the old key is no longer needed",
            outcome.resealed, outcome.old
        ));
    }
    match outcome.location.as_str() {
        "env" => printer.hint(
            "the catalog's key is given in CATALOG_MASTER_KEY: set it to the new key on every server and remove CATALOG_MASTER_KEY_PREVIOUS",
        ),
        "file" => printer.status("the key file now holds the new key"),
        "keyring" => printer.status("the OS keyring now holds the new key"),
        _ => {}
    }
    printer.one(&RotationReport {
        resealed: outcome.resealed,
        old_key: outcome.old.clone(),
        new_key: outcome.new.clone(),
        location: outcome.location.clone(),
        resumed: outcome.resumed,
        remaining_under_old_key: 0,
    })
}
