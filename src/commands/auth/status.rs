use clap::Args;
use serde::Serialize;

use crate::commands::Ctx;
use crate::crypto::mask;
use crate::printer::{or_dash, Tabular};
use crate::settings::Target;

#[derive(Debug, Args)]
pub struct StatusArgs {}

#[derive(Debug, Serialize)]
pub struct AuthStatus {
    pub profile: Option<String>,
    pub mode: &'static str,
    pub base_url: Option<String>,
    pub database: Option<String>,
    pub credential_source: Option<String>,
    pub key: Option<String>,
    pub problem: Option<String>,
    /// The workspace commands act in by default.
    pub workspace: Option<String>,
    /// Whether that workspace is the one the (workspace) API key belongs to.
    pub workspace_is_the_keys: bool,
    /// Every logged-in profile, and which is current.
    pub profiles: Vec<ProfileEntry>,
}

#[derive(Debug, Serialize)]
pub struct ProfileEntry {
    pub name: String,
    pub base_url: String,
    pub workspace: Option<String>,
    pub current: bool,
}

impl Tabular for AuthStatus {
    fn headers() -> &'static [&'static str] {
        &["PROFILE", "MODE", "SERVER", "CREDENTIAL", "KEY"]
    }

    fn row(&self) -> Vec<String> {
        vec![
            or_dash(self.profile.as_deref()),
            self.mode.to_owned(),
            or_dash(self.base_url.as_deref().or(self.database.as_deref())),
            or_dash(self.credential_source.as_deref()),
            or_dash(self.key.as_deref()),
        ]
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![
            ("profile", or_dash(self.profile.as_deref())),
            ("mode", self.mode.to_owned()),
        ];
        match (&self.base_url, &self.database) {
            (Some(url), _) => rows.push(("server", url.clone())),
            (None, Some(db)) => rows.push(("database", db.clone())),
            _ => {}
        }
        rows.push(("credential", or_dash(self.credential_source.as_deref())));
        rows.push(("key", or_dash(self.key.as_deref())));
        rows.push((
            "workspace",
            match (&self.workspace, self.workspace_is_the_keys) {
                (Some(w), true) => format!("{w} (the key's own)"),
                (Some(w), false) => w.clone(),
                (None, _) => "-".to_owned(),
            },
        ));
        let mut profiles: Vec<String> = self
            .profiles
            .iter()
            .map(|p| {
                format!(
                    "{}{} ({})",
                    p.name,
                    if p.current { "*" } else { "" },
                    p.base_url
                )
            })
            .collect();
        profiles.push(format!(
            "{}{}",
            super::EMBEDDED,
            if self.mode == "embedded" { "*" } else { "" }
        ));
        rows.push(("profiles", profiles.join(", ")));
        if let Some(p) = &self.problem {
            rows.push(("problem", p.clone()));
        }
        rows
    }
}

pub fn run(ctx: &Ctx, _args: StatusArgs) -> anyhow::Result<()> {
    let settings = &ctx.settings;
    settings.check_profile()?;
    let profiles = settings
        .config
        .profiles
        .iter()
        .map(|(name, p)| ProfileEntry {
            name: name.clone(),
            base_url: p.base_url.clone(),
            workspace: p.workspace.clone(),
            current: matches!(&settings.target, Target::Remote { profile: Some(c), .. } if c == name),
        })
        .collect();
    let workspace = settings
        .workspace
        .clone()
        .or_else(|| settings.key_workspace.as_ref().map(|k| k.slug.clone()));
    let workspace_is_the_keys = settings
        .key_workspace
        .as_ref()
        .is_some_and(|k| workspace.as_deref() == Some(k.slug.as_str()));
    let mut status = match &settings.target {
        Target::Embedded { db_path } => AuthStatus {
            profile: None,
            mode: "embedded",
            base_url: None,
            database: Some(db_path.display().to_string()),
            credential_source: Some("none needed (organisation owner)".to_owned()),
            key: None,
            problem: None,
            workspace: None,
            workspace_is_the_keys: false,
            profiles: Vec::new(),
        },
        Target::Remote { base_url, profile } => {
            let (credential_source, key, problem) = match settings.api_key() {
                Ok((k, source)) => (Some(source.describe().to_owned()), Some(mask(&k)), None),
                Err(e) => (None, None, Some(e.to_string())),
            };
            AuthStatus {
                profile: profile.clone(),
                mode: "remote",
                base_url: Some(base_url.clone()),
                database: None,
                credential_source,
                key,
                problem,
                workspace: None,
                workspace_is_the_keys: false,
                profiles: Vec::new(),
            }
        }
    };
    status.workspace = workspace;
    status.workspace_is_the_keys = workspace_is_the_keys;
    status.profiles = profiles;
    ctx.printer().one(&status)
}
