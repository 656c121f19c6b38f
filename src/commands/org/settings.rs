//! `catalog org settings [--allow-workspace-integrations true|false]`.

use clap::{ArgAction, Args};

use crate::client::OrgSettings;
use crate::commands::Ctx;
use crate::printer::Tabular;

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Whether workspace admins (workspace API keys) may create their own integrations
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub allow_workspace_integrations: Option<bool>,
}

impl Tabular for OrgSettings {
    fn headers() -> &'static [&'static str] {
        &["ALLOW WORKSPACE INTEGRATIONS"]
    }

    fn row(&self) -> Vec<String> {
        vec![self
            .allow_workspace_integrations
            .map_or("-".to_owned(), |b| b.to_string())]
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        vec![("allow_workspace_integrations", self.row().remove(0))]
    }
}

pub fn run(ctx: &Ctx, args: SettingsArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let current = client.org_settings()?;
    let Some(allow) = args.allow_workspace_integrations else {
        return ctx.printer().one(&current);
    };
    if current.allow_workspace_integrations == Some(allow) {
        ctx.printer().status(format!(
            "unchanged: allow_workspace_integrations is already {allow}"
        ));
        return ctx.printer().one(&current);
    }
    let updated = client.update_org_settings(&OrgSettings {
        allow_workspace_integrations: Some(allow),
        secret_versions: None,
    })?;
    ctx.printer().status(format!(
        "allow_workspace_integrations is now {allow}: workspace admins {} create their own integrations",
        if allow { "may" } else { "may not" }
    ));
    ctx.printer().one(&updated)
}
