//! The command tree: one module per command group, one file per verb.

pub mod access_view;
pub mod admin;
pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod check;
pub mod completion;
pub mod configs;
pub mod db;
pub mod declarative;
pub mod dry_run;
pub mod integrations;
pub mod migrate_vkeys;
pub mod models;
pub mod org;
pub mod policies;
pub mod providers;
pub mod serve;
#[cfg(test)]
pub mod testing;
pub mod time_args;
pub mod usage;
pub mod workspaces;

use std::cell::OnceCell;

use clap::Subcommand;

use crate::api::workspace::Workspace;
use crate::client::{Client, Transport};
use crate::config::KeyWorkspace;
use crate::printer::Printer;
use crate::prompt::{DialoguerPrompter, Prompter};
use crate::server::{AppState, ServerConfig};
use crate::settings::{Settings, Target};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in to a catalog server, show or remove stored credentials
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Workspaces: teams and environments that use integrations
    #[command(subcommand)]
    Workspaces(workspaces::WorkspacesCommand),
    /// Integrations: provider credentials stored once for the organisation
    #[command(subcommand)]
    Integrations(integrations::IntegrationsCommand),
    /// Models: allow-lists, custom models and prices, and the Model Garden
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// AI providers: integrations made callable in a workspace as `@slug/model`
    #[command(subcommand)]
    Providers(providers::ProvidersCommand),
    /// Saved gateway configs: routing, fallbacks and retries sent as `x-portkey-config`
    #[command(subcommand)]
    Configs(configs::ConfigsCommand),
    /// Organisation-wide settings
    #[command(subcommand)]
    Org(org::OrgCommand),
    /// Usage-limit and rate-limit policies: budgets per user, per model, per metadata value
    #[command(subcommand)]
    Policies(policies::PoliciesCommand),
    /// Budget alerts: alert thresholds crossed and limits reached, and their delivery
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// The changes made through the Admin API: who changed what, when, from what
    Audit(audit::AuditArgs),
    /// API keys for the Admin API and the gateway
    #[command(subcommand, name = "api-keys")]
    ApiKeys(api_keys::ApiKeysCommand),
    /// Migrate legacy virtual keys to integrations and AI providers with the same slugs
    #[command(name = "migrate-vkeys")]
    MigrateVkeys(migrate_vkeys::MigrateArgs),
    /// Explain whether a workspace can call a model, step by step (no call is made)
    Check(check::CheckArgs),
    /// Every budget, rate limit and concurrency limit in scope with its live usage
    Usage(usage::UsageArgs),
    /// Write the live catalog as a catalog file (YAML, or JSON with `-o json`)
    Export(declarative::export::ExportArgs),
    /// Show what applying a catalog file would change (`--exit-code` for drift detection)
    Plan(declarative::plan::PlanArgs),
    /// Apply a catalog file (`-f FILE`) or exactly a saved plan (`PLAN`)
    Apply(declarative::apply::ApplyArgs),
    /// Print the JSON Schema of the catalog file
    Schema(declarative::schema::SchemaArgs),
    /// Serve the catalog's Admin API and gateway over HTTP for a team
    Serve(serve::ServeArgs),
    /// Operations on the catalog's database file: master-key status and rotation
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// The catalog's database as a whole: copy a catalog file to PostgreSQL
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Print a shell completion script
    Completion(completion::CompletionArgs),
}

/// What every command gets: resolved settings and, on demand, the API client.
pub struct Ctx {
    pub settings: Settings,
    client: OnceCell<Client>,
    key_workspace: OnceCell<Option<KeyWorkspace>>,
    prompter: Box<dyn Prompter>,
}

impl Ctx {
    pub fn new(settings: Settings) -> Ctx {
        let prompter = Box::new(DialoguerPrompter::new(&settings));
        Ctx::with_prompter(settings, prompter)
    }

    /// A context whose questions go to `prompter` (a script, in tests).
    pub fn with_prompter(settings: Settings, prompter: Box<dyn Prompter>) -> Ctx {
        Ctx {
            settings,
            client: OnceCell::new(),
            key_workspace: OnceCell::new(),
            prompter,
        }
    }

    pub fn printer(&self) -> &Printer {
        &self.settings.printer
    }

    pub fn prompter(&self) -> &dyn Prompter {
        self.prompter.as_ref()
    }

    /// The client for the resolved target, built on first use.
    pub fn client(&self) -> anyhow::Result<&Client> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        self.settings.check_profile()?;
        let transport = match &self.settings.target {
            Target::Embedded { db_path } => {
                let state = AppState::open(&ServerConfig {
                    database: crate::server::Database::Sqlite(db_path.clone()),
                    redis_url: None,
                    redis_ca_file: None,
                    master_key_from: None,
                    master_key: self.settings.master_key.clone(),
                    master_key_previous: self.settings.master_key_previous.clone(),
                    trusted_custom_hosts: self.settings.trusted_custom_hosts.clone(),
                })?;
                Transport::embedded(state, db_path.display().to_string())
            }
            Target::Remote { base_url, .. } => {
                let (key, _) = self.settings.api_key()?;
                Transport::http(base_url, key)?
            }
        };
        let client = Client::new(transport, self.settings.printer.clone())?;
        Ok(self.client.get_or_init(|| client))
    }

    /// The workspace named by `--workspace`/`CATALOG_WORKSPACE`/the profile, resolved;
    /// with a workspace API key, its own workspace by default. A workspace key's own
    /// workspace is known without listing workspaces (which such keys may not do).
    pub fn workspace(&self) -> anyhow::Result<Option<Workspace>> {
        let given = self.settings.workspace.as_deref();
        let own = match (&self.settings.key_workspace, given) {
            (Some(k), _) => Some(k.clone()),
            (None, None) => self.learnt_key_workspace()?,
            (None, Some(_)) => None,
        };
        match (given, own) {
            (Some(w), Some(k)) if w == k.id || w == k.slug => Ok(Some(own_workspace(k))),
            (Some(w), _) => match self.client()?.resolve_workspace(w) {
                Ok(ws) => Ok(Some(ws)),
                // A workspace key that may not read workspaces names its own.
                Err(e) if is_auth(&e) => match self.learnt_key_workspace()? {
                    Some(k) if w == k.id || w == k.slug => Ok(Some(own_workspace(k))),
                    Some(k) => Err(crate::exit::CliError::new(
                        crate::exit::ErrorKind::Auth,
                        format!(
                            "this API key belongs to workspace `{}` and cannot reach `{w}`",
                            k.slug
                        ),
                    )
                    .with_hint(format!(
                        "name its own workspace by slug or id (`--workspace {}`), or drop --workspace",
                        k.slug
                    ))
                    .into()),
                    None => Err(e),
                },
                Err(e) => Err(e),
            },
            (None, Some(k)) => Ok(Some(own_workspace(k))),
            (None, None) => Ok(None),
        }
    }

    /// The key's own workspace asked of the server (`/whoami`), once; none for the
    /// embedded catalog, organisation keys and servers without the extension.
    pub fn learnt_key_workspace(&self) -> anyhow::Result<Option<KeyWorkspace>> {
        if let Some(k) = self.key_workspace.get() {
            return Ok(k.clone());
        }
        let learnt = match self.settings.target {
            Target::Embedded { .. } => None,
            Target::Remote { .. } => self.client()?.whoami()?.and_then(|w| w.workspace()),
        };
        Ok(self.key_workspace.get_or_init(|| learnt).clone())
    }
}

pub fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    dispatch(&Ctx::new(settings), command)
}

pub fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Auth(cmd) => auth::run(ctx, cmd),
        Command::Workspaces(cmd) => workspaces::run(ctx, cmd),
        Command::Integrations(cmd) => integrations::run(ctx, cmd),
        Command::Models(cmd) => models::run(ctx, cmd),
        Command::Providers(cmd) => providers::run(ctx, cmd),
        Command::Configs(cmd) => configs::run(ctx, cmd),
        Command::Org(cmd) => org::run(ctx, cmd),
        Command::Policies(cmd) => policies::run(ctx, cmd),
        Command::Alerts(cmd) => alerts::run(ctx, cmd),
        Command::Audit(args) => audit::run(ctx, args),
        Command::ApiKeys(cmd) => api_keys::run(ctx, cmd),
        Command::MigrateVkeys(args) => migrate_vkeys::run(ctx, args),
        Command::Check(args) => check::run(ctx, args),
        Command::Usage(args) => usage::run(ctx, args),
        Command::Export(args) => declarative::export::run(ctx, args),
        Command::Plan(args) => declarative::plan::run(ctx, args),
        Command::Apply(args) => declarative::apply::run(ctx, args),
        Command::Schema(args) => declarative::schema::run(ctx, args),
        Command::Serve(args) => serve::run(ctx, args),
        Command::Admin(cmd) => admin::run(ctx, cmd),
        Command::Db(cmd) => db::run(ctx, cmd),
        Command::Completion(args) => completion::run(ctx, args),
    }
}

fn is_auth(e: &anyhow::Error) -> bool {
    e.downcast_ref::<crate::exit::CliError>()
        .is_some_and(|c| c.kind == crate::exit::ErrorKind::Auth)
}

/// A workspace known by id and slug only.
fn own_workspace(k: KeyWorkspace) -> Workspace {
    Workspace {
        name: k.slug.clone(),
        id: k.id,
        slug: k.slug,
        ..Default::default()
    }
}

/// The gateway base URL developers call: the configured server, else Portkey's hosted one.
/// The gateway a profile's models are called through: its server, or for the embedded
/// catalog the local `catalog serve` that shares its database (the hosted service knows
/// none of its providers).
pub fn login_base_url(settings: &Settings) -> String {
    match &settings.target {
        Target::Remote { base_url, .. } => base_url.clone(),
        Target::Embedded { .. } => format!("http://{}/v1", serve::DEFAULT_LISTEN),
    }
}
