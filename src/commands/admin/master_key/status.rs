//! `catalog admin master-key status`: reads the database only, never the key itself.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use crate::commands::Ctx;
use crate::env_vars as env;
use crate::printer::{or_dash, Tabular};
use crate::server::vault::key_file_path;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Database file (default: the embedded catalog's)
    #[arg(long, env = env::CATALOG_DB, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct KeyStatus {
    /// `env`, `keyring` or `file`; none before the catalog sealed anything.
    pub location: Option<String>,
    /// The key file, when the key lives in one.
    pub key_file: Option<String>,
    /// The current master key's fingerprint (it seals everything written).
    pub fingerprint: Option<String>,
    /// During a rotation, the fingerprint of the key being replaced.
    pub rotating_from: Option<String>,
    /// Sealed secrets by the key that sealed them.
    pub sealed: Vec<SealedUnder>,
}

#[derive(Debug, Serialize)]
pub struct SealedUnder {
    pub key: String,
    /// `current`, `previous` or `unknown`.
    pub role: &'static str,
    pub secrets: u64,
}

impl Tabular for KeyStatus {
    fn headers() -> &'static [&'static str] {
        &["LOCATION", "FINGERPRINT", "ROTATION"]
    }

    fn row(&self) -> Vec<String> {
        vec![
            or_dash(self.location.as_deref()),
            or_dash(self.fingerprint.as_deref()),
            self.rotation(),
        ]
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let location = match (&self.location, &self.key_file) {
            (Some(l), Some(f)) => format!("{l} ({f})"),
            (Some(l), None) if l == "env" => "env (CATALOG_MASTER_KEY)".to_owned(),
            (Some(l), None) if l == "keyring" => "keyring (OS keyring)".to_owned(),
            (l, _) => or_dash(l.as_deref()),
        };
        let mut rows = vec![
            ("location", location),
            ("fingerprint", or_dash(self.fingerprint.as_deref())),
            ("rotation", self.rotation()),
        ];
        if self.sealed.is_empty() {
            rows.push(("sealed", "0 secrets".to_owned()));
        }
        for s in &self.sealed {
            rows.push((
                "sealed",
                format!("{} under {} ({})", s.secrets, s.key, s.role),
            ));
        }
        rows
    }
}

impl KeyStatus {
    fn rotation(&self) -> String {
        match &self.rotating_from {
            Some(from) => format!(
                "in progress from {from}: run `catalog admin rotate-master-key` again with the new key to finish"
            ),
            None => "none".to_owned(),
        }
    }
}

pub fn run(ctx: &Ctx, args: StatusArgs) -> anyhow::Result<()> {
    let (state, db) = super::super::local_catalog(ctx, args.db, "master-key status")?;
    let recorded = state.vault.recorded()?;
    let counts = state.vault.sealed_counts()?;
    let role = |fp: &str| {
        if recorded.current.as_deref() == Some(fp) {
            "current"
        } else if recorded.previous.as_deref() == Some(fp) {
            "previous"
        } else {
            "unknown"
        }
    };
    let key_file = (recorded.location.as_deref() == Some("file"))
        .then(|| key_file_path(&db).display().to_string());
    let status = KeyStatus {
        location: recorded.location.clone(),
        key_file,
        fingerprint: recorded.current.clone(),
        rotating_from: recorded.previous.clone(),
        sealed: counts
            .iter()
            .map(|(fp, n)| SealedUnder {
                key: fp.clone(),
                role: role(fp),
                secrets: *n,
            })
            .collect(),
    };
    ctx.printer().one(&status)
}
