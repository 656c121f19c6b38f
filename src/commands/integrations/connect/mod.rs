//! `catalog integrations connect SLUG`: the first step of the connect wizard (service,
//! credentials, provider configuration, name, scope), by prompts or entirely by flags.

mod configure;
mod models;
mod summary;
#[cfg(test)]
mod tests;

use clap::Args;
use serde_json::{Map, Value};

use configure::ask_configuration;
use models::{ask_models, describe_models};
use summary::summary_lines;

use super::config_args::{ConfigArgs, ServiceParser};
use crate::api::integration::{CreateIntegration, Integration, UpdateIntegration};
use crate::api::models::{BulkUpdateModels, ModelAccessList};
use crate::api::provider::CreateProvider;
use crate::api::provisioning::WorkspaceAccessList;
use crate::api::workspace::Workspace;
use crate::client::provisioning::access_path;
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::models::access::changes_nothing;
use crate::commands::workspaces::provision::{
    ask_limits, ask_new_workspaces, choose_workspaces, compute, current_budget, flag_pair, Change,
    Plan,
};
use crate::commands::Ctx;
use crate::exit::{hint_on, CliError, ErrorKind};
use crate::limit_args::LimitArgs;
use crate::prompt::{missing, Prompter};
use crate::secret_input::KeyArgs;
use crate::services::{Secret, Service};
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Slug for the new integration (immutable; developers call `@SLUG/model`)
    pub slug: Slug,

    /// Provider service
    #[arg(long, value_parser = ServiceParser)]
    pub service: Option<&'static Service>,

    /// Display name (default: the slug)
    #[arg(long, value_parser = crate::types::parse_name)]
    pub name: Option<String>,

    /// Description
    #[arg(long, value_parser = crate::types::parse_description)]
    pub description: Option<String>,

    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub steps: StepArgs,
}

/// Steps 2 and 3 of the wizard, by flags.
#[derive(Debug, Args)]
#[command(next_help_heading = "Workspace and model provisioning")]
pub struct StepArgs {
    /// Step 2: provision these workspaces (id, slug or name; repeatable)
    #[arg(long = "provision", value_name = "WORKSPACE")]
    pub provision: Vec<String>,

    /// Step 2: provision every existing workspace
    #[arg(long, conflicts_with = "provision")]
    pub provision_all: bool,

    /// Step 2: also provision workspaces created later
    #[arg(long, conflicts_with = "no_new_workspaces")]
    pub new_workspaces: bool,

    /// Step 2: stop provisioning workspaces created later
    #[arg(long)]
    pub no_new_workspaces: bool,

    #[command(flatten)]
    pub limits: LimitArgs,

    /// Skip step 2 (workspace provisioning)
    #[arg(long, conflicts_with_all = ["provision", "provision_all", "new_workspaces", "no_new_workspaces"])]
    pub skip_provisioning: bool,

    /// Step 3: enable only these models (comma-separated or repeated): an allow-list
    #[arg(long, value_delimiter = ',', value_name = "MODEL")]
    pub models: Vec<String>,

    /// Step 3: enable every model of the service
    #[arg(long, conflicts_with = "models")]
    pub all_models: bool,

    /// Step 3: accept model ids the built-in registry does not know
    #[arg(long, requires = "models")]
    pub custom_models: bool,

    /// Skip step 3 (model provisioning)
    #[arg(long, conflicts_with_all = ["models", "all_models"])]
    pub skip_models: bool,

    /// Show the requests that would be made and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// What the questions (or flags) decided: everything the summary shows and `apply`
/// writes, with the state it was decided against.
pub struct Connect {
    pub slug: String,
    /// Whether the wizard asked the questions (and so asks before writing).
    pub wizard: bool,
    pub existing: Option<Integration>,
    /// The registry's entry for the integration's service.
    pub service: &'static Service,
    pub body: CreateIntegration,
    /// The workspace of a workspace integration.
    pub workspace: Option<Workspace>,
    /// Step 2 for an organisation integration.
    pub plan: Option<Plan>,
    pub current_access: WorkspaceAccessList,
    /// Step 2 for a workspace integration: its AI provider there.
    pub own_provider: Option<CreateProvider>,
    /// Step 3.
    pub models: Option<BulkUpdateModels>,
    pub current_models: ModelAccessList,
    pub secret_keys: Vec<String>,
}

pub fn run(ctx: &Ctx, args: ConnectArgs) -> anyhow::Result<()> {
    let dry_run = args.steps.dry_run;
    let connect = ask(ctx, ctx.prompter(), args)?;
    let change = connect
        .plan
        .as_ref()
        .map(|p| compute(p, &connect.current_access, dry_run))
        .transpose()?;
    let asking = connect.wizard && !ctx.settings.yes && !dry_run;
    for l in render(&connect, change.as_ref()) {
        ctx.printer().summary(l, asking);
    }
    if dry_run {
        return dry_run::show(ctx, &requests(&connect, change.as_ref())?);
    }
    let revokes = change
        .as_ref()
        .is_some_and(|c| !c.report.revoked.is_empty());
    if asking && !ctx.prompter().confirm("Apply all of this?", !revokes)? {
        return Err(CliError::new(ErrorKind::Cancelled, "cancelled; nothing was created").into());
    }
    apply(ctx, &connect, change.as_ref())
}

/// The three steps' questions, each asked only when no flag answered it.
pub fn ask(ctx: &Ctx, prompter: &dyn Prompter, args: ConnectArgs) -> anyhow::Result<Connect> {
    let settings = &ctx.settings;
    let client = ctx.client()?;
    // What already exists decides before the first prompt: a slug of another service is
    // refused, and a re-run starts from the current state.
    let existing = match client.get_integration(args.slug.as_str()) {
        Ok(i) => Some(i),
        Err(e) if crate::client::is_missing(&e) => None,
        Err(e) => return Err(e),
    };
    let existing_service = existing
        .as_ref()
        .map(|found| existing_service(found, args.service))
        .transpose()?;
    let wizard = args.service.is_none() && prompter.can();
    if let (true, Some(found)) = (wizard, &existing) {
        prompter.status_line(&format!(
            "integration `{}` exists ({}): these questions update it; answers default to its current settings",
            found.slug, found.ai_provider_id
        ));
    }
    let service = match (args.service, existing_service) {
        (Some(s), _) | (None, Some(s)) => s,
        (None, None) => {
            let all = crate::services::ALL;
            let names: Vec<String> = all
                .iter()
                .map(|s| format!("{} ({})", s.id, s.name))
                .collect();
            &all[prompter.select("service", "--service", &names, 0)?]
        }
    };
    let default_name = existing
        .as_ref()
        .map_or(args.slug.to_string(), |i| i.name.clone());
    let name = match args.name.clone() {
        Some(n) => n,
        None if wizard => prompter.parsed(
            "name",
            "--name",
            Some(&default_name),
            crate::types::parse_name,
        )?,
        None => default_name,
    };
    let mut config = args.config.collect(settings, Some(service))?;
    if wizard {
        let current = existing
            .as_ref()
            .and_then(|i| i.configurations.clone())
            .unwrap_or_default();
        ask_configuration(prompter, service, &mut config, &current)?;
    }
    let key = ask_key(
        ctx,
        prompter,
        &args,
        service,
        &mut config,
        existing.as_ref(),
        wizard,
    )?;
    let workspace = match ctx.workspace()? {
        Some(ws) => Some(ws),
        None if existing.is_some() => {
            match existing.as_ref().and_then(|i| i.workspace_id.clone()) {
                Some(id) => Some(client.resolve_workspace(&id)?),
                None => None,
            }
        }
        None if wizard => {
            let workspaces = client.list_workspaces(None)?;
            let mut choices = vec!["organisation (provision it to workspaces later)".to_owned()];
            choices.extend(
                workspaces
                    .iter()
                    .map(|w| format!("workspace {} ({})", w.name, w.slug)),
            );
            let i = prompter.select("scope", "--workspace", &choices, 0)?;
            (i > 0).then(|| workspaces[i - 1].clone())
        }
        None => None,
    };
    let body = CreateIntegration {
        name,
        ai_provider_id: service.id.to_owned(),
        slug: Some(args.slug.to_string()),
        key,
        description: args.description,
        workspace_id: workspace.as_ref().map(|w| w.id.clone()),
        configurations: (!config.is_empty()).then_some(config),
        ..Default::default()
    };
    let steps = &args.steps;
    let current_access = match &existing {
        Some(_) => client.workspace_access(args.slug.as_str())?,
        None => Default::default(),
    };

    if workspace.is_some()
        && (!steps.provision.is_empty()
            || steps.provision_all
            || steps.new_workspaces
            || steps.no_new_workspaces)
    {
        return Err(CliError::usage(
            "--provision, --provision-all and --new-workspaces share an organisation integration; a workspace integration serves only its own workspace",
        )
        .with_hint("drop --workspace to connect it for the organisation, or drop the provisioning flags")
        .into());
    }
    // Step 2: workspace provisioning (organisation integrations only).
    let mut plan = None;
    if workspace.is_none() && !steps.skip_provisioning {
        let given = !steps.provision.is_empty()
            || steps.provision_all
            || steps.new_workspaces
            || steps.no_new_workspaces;
        let wanted = given || (wizard && prompter.confirm("Provision workspaces now?", true)?);
        if wanted {
            plan = Some(provisioning_plan(
                ctx,
                prompter,
                args.slug.as_str(),
                steps,
                &current_access,
                wizard && !given,
            )?);
        }
    }
    if plan.is_none() && workspace.is_none() && steps.limits.any() {
        return Err(CliError::usage(
            "--budget, --budget-type, --reset, --alert, --rate-limit and --concurrency are the limits of the workspaces provisioned in step 2, and none is",
        )
        .with_hint("add --provision WORKSPACE, --provision-all or --new-workspaces")
        .into());
    }

    // Step 2 of a workspace integration: its AI provider `@slug` in that workspace, as
    // provisioning creates one for organisation integrations.
    let own_provider = match &workspace {
        Some(ws) if !steps.skip_provisioning => {
            own_provider(ctx, args.slug.as_str(), &body.name, ws, &steps.limits)?
        }
        _ => None,
    };

    // Step 3: model provisioning.
    let choice = ask_models(prompter, service, steps, wizard)?;
    let current_models = match &existing {
        Some(_) => client.models(args.slug.as_str())?,
        None => Default::default(),
    };
    Ok(Connect {
        slug: args.slug.into_string(),
        wizard,
        existing,
        service,
        body,
        workspace,
        plan,
        current_access,
        own_provider,
        models: choice.map(|m| m.body(&current_models)),
        current_models,
        secret_keys: args.config.secret_keys(),
    })
}

/// The provider key: from its flag, kept from the stored integration, or asked (hidden);
/// a key that belongs in the configuration (a secret setting, a custom header) goes there.
fn ask_key(
    ctx: &Ctx,
    prompter: &dyn Prompter,
    args: &ConnectArgs,
    service: &Service,
    config: &mut Map<String, Value>,
    existing: Option<&Integration>,
    wizard: bool,
) -> anyhow::Result<Option<String>> {
    let settings = &ctx.settings;
    let mut key = None;
    let secret = service.secret(config);
    match secret {
        Secret::Key | Secret::Field(_) => {
            let label = secret_label(service, secret);
            let given = match args.key.read(settings)? {
                Some(s) => Some(s),
                None if existing.is_some() && keep_stored_key(ctx, prompter, existing)? => None,
                None if prompter.can() => {
                    Some(prompter.secret(label, "--key-env VAR, --key-stdin or --key-file PATH")?)
                }
                None => {
                    return Err(missing(
                        label,
                        "--key-env VAR`, `--key-stdin` or `--key-file PATH",
                    ))
                }
            };
            match (given, secret) {
                (Some(given), Secret::Field(field)) => {
                    config.insert(field.to_owned(), Value::String(given));
                }
                (Some(given), _) => key = Some(given),
                (None, _) => {}
            }
        }
        Secret::OptionalKey => {
            // A self-hosted service may take a key: `Authorization: Bearer`, or --key-header.
            let given = match args.key.read(settings)? {
                Some(s) => Some(s),
                None if wizard
                    && prompter.confirm("Does the service need an API key?", false)? =>
                {
                    Some(prompter.secret("API key of the service", "--key-env VAR")?)
                }
                None => None,
            };
            match (given, &args.config.key_header) {
                (Some(given), Some(header)) => {
                    let headers = config
                        .entry("custom_headers")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Some(h) = headers.as_object_mut() {
                        h.insert(header.clone(), Value::String(given));
                    }
                }
                (Some(given), None) => key = Some(given),
                (None, Some(_)) => {
                    return Err(missing(
                        "the key to send in `--key-header`",
                        "--key-env VAR`, `--key-stdin` or `--key-file PATH",
                    ))
                }
                (None, None) => {}
            }
        }
        Secret::None if args.key.given() => {
            return Err(CliError::usage(format!(
                "`{}` with this configuration takes no provider key",
                service.id
            ))
            .into());
        }
        Secret::None => {}
    }
    if args.config.key_header.is_some() && secret != Secret::OptionalKey {
        return Err(CliError::usage(
            "`--key-header` is for `--service custom`; other services send their key as the provider expects",
        )
        .into());
    }
    Ok(key)
}

/// The summary shown before anything is written, secrets masked.
pub fn render(c: &Connect, change: Option<&Change<'_>>) -> Vec<String> {
    let ws_slug = c.workspace.as_ref().map(|w| w.slug.as_str());
    let mut lines = summary_lines(
        &c.body,
        c.service,
        ws_slug,
        c.existing.is_some(),
        &c.secret_keys,
    );
    if let Some(ch) = change {
        lines.push("Workspaces:".to_owned());
        lines.extend(ch.lines.iter().cloned());
    }
    if let Some(p) = &c.own_provider {
        lines.push(format!(
            "AI provider: `@{}` in `{}`",
            p.slug.as_deref().unwrap_or(""),
            ws_slug.unwrap_or("")
        ));
    }
    if let Some(m) = &c.models {
        lines.push(format!("Models: {}", describe_models(m)));
    }
    lines
}

/// The requests `apply` would make, for `--dry-run`.
fn requests(c: &Connect, change: Option<&Change<'_>>) -> anyhow::Result<Vec<PlannedRequest>> {
    let create_path = "/v1/integrations".to_owned();
    let mut requests = vec![match &c.existing {
        None => PlannedRequest::integration(
            "POST",
            create_path,
            serde_json::to_value(&c.body)?,
            Some(c.service),
            &c.secret_keys,
        ),
        Some(_) => PlannedRequest::integration(
            "PUT",
            format!("{create_path}/{}", c.slug),
            serde_json::to_value(update_body(&c.body))?,
            Some(c.service),
            &c.secret_keys,
        ),
    }];
    if let Some(p) = &c.own_provider {
        requests.push(PlannedRequest::new(
            "POST",
            "/v1/providers",
            Some(serde_json::to_value(p)?),
        ));
    }
    if let Some(ch) = change.filter(|ch| !ch.is_noop()) {
        requests.push(PlannedRequest::new(
            "PUT",
            format!("/v1{}", access_path(&c.slug)),
            Some(serde_json::to_value(&ch.body)?),
        ));
    }
    if let Some(m) = &c.models {
        requests.push(PlannedRequest::new(
            "PUT",
            format!("/v1/integrations/{}/models", c.slug),
            Some(serde_json::to_value(m)?),
        ));
    }
    Ok(requests)
}

/// Writes the three steps, reporting what was done if a later step fails; re-running
/// converges.
pub fn apply(ctx: &Ctx, c: &Connect, change: Option<&Change<'_>>) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let printer = ctx.printer();
    let created = match &c.existing {
        None => client.create_integration(&c.body).map_err(|e| {
            hint_on(
                e,
                ErrorKind::Conflict,
                format!(
                    "choose another slug, or change it with `catalog integrations update {}`",
                    c.slug
                ),
            )
        })?,
        Some(_) => client.update_integration(&c.slug, &update_body(&c.body))?,
    };
    let done = match &c.existing {
        None => "connected",
        Some(before) if before.last_updated_at == created.last_updated_at => "unchanged:",
        Some(_) => "updated",
    };
    printer.status(format!(
        "step 1: {done} integration `{}` ({})",
        created.slug, created.ai_provider_id
    ));
    let midway = |step: &str, e: anyhow::Error| {
        e.context(format!(
            "step {step} failed after integration `{}` was saved; fix the cause and run the same command again to finish",
            created.slug
        ))
    };
    if let Some(ch) = change {
        if ch.is_noop() {
            printer.status("step 2: workspaces already provisioned as asked");
        } else {
            client
                .put_workspace_access(&created.slug, &ch.body)
                .map_err(|e| midway("2 (workspace provisioning)", e))?;
            printer.status(format!(
                "step 2: provisioned {} workspace(s){}",
                ch.report.added.len() + ch.report.changed.len(),
                if ch.body.global_workspace_access.is_some() {
                    " and workspaces created later"
                } else {
                    ""
                }
            ));
        }
    }
    if let Some(p) = &c.own_provider {
        let made = client
            .create_provider(p)
            .map_err(|e| midway("2 (the workspace's AI provider)", e))?;
        printer.status(format!(
            "step 2: created AI provider `@{}` in `{}`; call models as `@{}/MODEL`",
            made.slug,
            c.workspace.as_ref().map_or("", |w| w.slug.as_str()),
            made.slug
        ));
    }
    if let Some(m) = &c.models {
        if changes_nothing(&c.current_models, m) {
            printer.status(format!("step 3: unchanged: {}", describe_models(m)));
        } else {
            client
                .put_models(&created.slug, m)
                .map_err(|e| midway("3 (model provisioning)", e))?;
            printer.status(format!("step 3: {}", describe_models(m)));
        }
    }
    // The integration as the three steps left it.
    printer.one(&client.get_integration(&created.slug)?)
}

/// The AI provider a workspace integration needs in its workspace, unless it is there
/// already; a provider of that slug on another integration is refused before writing.
fn own_provider(
    ctx: &Ctx,
    slug: &str,
    name: &str,
    ws: &Workspace,
    limits: &crate::limit_args::LimitArgs,
) -> anyhow::Result<Option<CreateProvider>> {
    match ctx.client()?.get_provider(&ws.id, slug) {
        Ok(p) if p.integration_id == slug => return Ok(None),
        Ok(p) => {
            return Err(CliError::new(
                ErrorKind::Conflict,
                format!(
                    "workspace `{}` already has an AI provider `@{slug}`, on integration `{}`",
                    ws.slug, p.integration_id
                ),
            )
            .with_hint("choose another slug for the integration")
            .into())
        }
        Err(e) if crate::client::is_missing(&e) => {}
        Err(e) => return Err(e),
    }
    Ok(Some(CreateProvider {
        name: name.to_owned(),
        integration_id: slug.to_owned(),
        workspace_id: Some(ws.id.clone()),
        slug: Some(slug.to_owned()),
        note: None,
        usage_limits: limits.merge_usage(None)?,
        rate_limits: limits.merge_rate(None),
        concurrency_limit: limits.merge_concurrency(None),
        expires_at: None,
    }))
}

/// The service of an existing integration; a different `--service`, or a service the
/// registry does not know, is refused before anything is asked.
fn existing_service(
    found: &Integration,
    asked: Option<&'static Service>,
) -> anyhow::Result<&'static Service> {
    let known = crate::services::find(&found.ai_provider_id);
    match (known, asked) {
        (Some(k), Some(a)) if k == a => Ok(k),
        (Some(k), None) => Ok(k),
        _ => Err(CliError::new(
            ErrorKind::Conflict,
            format!(
                "integration `{}` already exists for `{}`{}",
                found.slug,
                found.ai_provider_id,
                asked.map_or(String::new(), |a| format!(", not `{}`", a.id))
            ),
        )
        .with_hint("choose another slug; slugs never change")
        .into()),
    }
}

/// A re-run on an existing integration keeps its stored key unless a new one is given:
/// on a terminal it asks (yes by default), otherwise it keeps it and says so.
fn keep_stored_key(
    ctx: &Ctx,
    prompter: &dyn Prompter,
    existing: Option<&Integration>,
) -> anyhow::Result<bool> {
    let shown = existing
        .and_then(|i| i.masked_key.clone())
        .unwrap_or_else(|| "stored".to_owned());
    if prompter.can() {
        return prompter.confirm(&format!("Keep the stored key ({shown})?"), true);
    }
    ctx.printer().status(format!(
        "keeping the stored key ({shown}); pass --key-env, --key-stdin or --key-file to replace it"
    ));
    Ok(true)
}

/// Converging on an existing integration: the same fields as an update.
fn update_body(body: &CreateIntegration) -> UpdateIntegration {
    UpdateIntegration {
        name: Some(body.name.clone()),
        key: body.key.clone(),
        description: body.description.clone().into(),
        configurations: body.configurations.clone(),
        ..Default::default()
    }
}

/// Step 2 from flags, or from prompts when the wizard runs and flags gave nothing.
fn provisioning_plan(
    ctx: &Ctx,
    prompter: &dyn Prompter,
    slug: &str,
    steps: &StepArgs,
    current: &WorkspaceAccessList,
    ask: bool,
) -> anyhow::Result<Plan> {
    let client = ctx.client()?;
    let targets = if !steps.provision.is_empty() {
        steps
            .provision
            .iter()
            .map(|w| client.resolve_workspace(w))
            .collect::<anyhow::Result<Vec<_>>>()?
    } else if steps.provision_all {
        client.list_workspaces(None)?
    } else if ask {
        // Current access is pre-ticked; unticking it revokes.
        let (targets, revoke) = choose_workspaces(ctx, prompter, &current.workspaces)?;
        return ask_plan(prompter, slug, steps, current, targets, revoke);
    } else {
        Vec::new()
    };
    Ok(Plan {
        integration: slug.to_owned(),
        targets,
        revoke: Vec::new(),
        limits: steps.limits.clone(),
        new_workspaces: flag_pair(steps.new_workspaces, steps.no_new_workspaces),
        reset_usage: false,
        provider_slug: None,
    })
}

/// Step 2's limits and later workspaces, asked after the workspaces were chosen.
fn ask_plan(
    prompter: &dyn Prompter,
    slug: &str,
    steps: &StepArgs,
    current: &WorkspaceAccessList,
    targets: Vec<Workspace>,
    revoke: Vec<Workspace>,
) -> anyhow::Result<Plan> {
    let mut limits = steps.limits.clone();
    ask_limits(prompter, &mut limits, current_budget(current, &targets))?;
    let new_workspaces = Some(ask_new_workspaces(prompter, current)?);
    Ok(Plan {
        integration: slug.to_owned(),
        targets,
        revoke,
        limits,
        new_workspaces,
        reset_usage: false,
        provider_slug: None,
    })
}

/// What the provider secret is called: the setting that holds it, else the API key.
fn secret_label(service: &Service, secret: Secret) -> &'static str {
    match secret {
        Secret::Field(field) => service.field(field).map_or("provider API key", |f| f.label),
        _ => "provider API key",
    }
}
