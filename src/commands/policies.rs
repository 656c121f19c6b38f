//! `catalog policies ...`: usage-limit and rate-limit policies, budgets and rate limits
//! for the requests that match conditions, one counter per value of a group
//! ("$50 a month per end user": `--group-by metadata.user_id`).

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::api::limits::{BudgetType, PeriodicReset, RateLimitType};
use crate::api::policies::{PolicyCondition, PolicyEntity, PolicyGroupBy};
use crate::domain::policies::Policy;
use crate::exit::{CliError, ErrorKind};
use crate::printer::{or_dash, Tabular};
use crate::types::{Amount, KeyValue, RateSpec, ResetSpec};

#[derive(Debug, Subcommand)]
pub enum PoliciesCommand {
    /// List the policies in scope (one workspace's with --workspace)
    List(ListArgs),
    /// Show one policy, with its busiest value keys
    Get(RefArgs),
    /// Create a usage-limit policy (--limit) or a rate-limit policy (--rate)
    Create(CreateArgs),
    /// Change a policy's name, limit, reset, alert or conditions
    Update(UpdateArgs),
    /// Archive a policy: it stops applying at once (asks for confirmation, or pass --yes)
    Delete(RefArgs),
    /// A policy's value keys with their usage, busiest first
    Entities(EntitiesArgs),
    /// Start one value key of a usage-limit policy over
    Reset(ResetArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Archived policies too
    #[arg(long)]
    pub archived: bool,
}

#[derive(Debug, Args)]
pub struct RefArgs {
    /// The policy's name or id
    pub policy: String,
}

const TYPES: [&str; 3] = ["cost", "tokens", "requests"];

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The policy's name
    pub name: String,

    /// What it counts: cost (USD), tokens or requests [default: cost; requests with --rate]
    #[arg(long = "type", value_parser = PossibleValuesParser::new(TYPES))]
    pub kind: Option<String>,

    /// A budget (usage-limit policy): USD, tokens or requests per group value
    #[arg(
        long,
        value_name = "AMOUNT",
        conflicts_with = "rate",
        allow_negative_numbers = true
    )]
    pub limit: Option<Amount>,

    /// A rate limit (rate-limit policy) per group value: 100/min, 5000tokens/hour, 10/day
    #[arg(long, value_name = "RATE")]
    pub rate: Option<RateSpec>,

    /// When the budget resets: weekly, monthly, none, or every N days (30d)
    #[arg(long, value_name = "WHEN", requires = "limit", conflicts_with = "rate")]
    pub reset: Option<ResetSpec>,

    /// Alert when a group value's usage reaches this amount
    #[arg(
        long,
        value_name = "AMOUNT",
        requires = "limit",
        conflicts_with = "rate",
        allow_negative_numbers = true
    )]
    pub alert: Option<Amount>,

    /// One counter per distinct value of KEY: api_key, workspace_id, provider, model,
    /// config or metadata.<key>; repeatable
    #[arg(long = "group-by", value_name = "KEY")]
    pub group_by: Vec<String>,

    /// Only requests whose KEY is VALUE (`*`: that have one); repeatable, all must hold
    #[arg(long = "when", value_name = "KEY=VALUE")]
    pub when: Vec<KeyValue>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The policy's name or id
    pub policy: String,

    /// A new name
    #[arg(long)]
    pub name: Option<String>,

    /// A new budget (usage-limit policy)
    #[arg(long, value_name = "AMOUNT", allow_negative_numbers = true)]
    pub limit: Option<Amount>,

    /// A new rate (rate-limit policy): 100/min, 10/day
    #[arg(long, value_name = "RATE")]
    pub rate: Option<RateSpec>,

    /// When the budget resets: weekly, monthly, none, or every N days (30d)
    #[arg(long, value_name = "WHEN")]
    pub reset: Option<ResetSpec>,

    /// Alert at this amount
    #[arg(long, value_name = "AMOUNT", allow_negative_numbers = true)]
    pub alert: Option<Amount>,

    /// Remove the alert
    #[arg(long, conflicts_with = "alert")]
    pub clear_alert: bool,

    /// Replace the conditions (repeatable); `--when none` applies it to every request
    #[arg(long = "when", value_name = "KEY=VALUE")]
    pub when: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EntitiesArgs {
    /// The policy's name or id
    pub policy: String,

    /// Only value keys whose counter is spent
    #[arg(long)]
    pub exhausted: bool,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The policy's name or id
    pub policy: String,

    /// The value key (as `catalog policies entities` shows it) or its id
    pub value_key: String,
}

pub fn run(ctx: &Ctx, cmd: PoliciesCommand) -> anyhow::Result<()> {
    match cmd {
        PoliciesCommand::List(args) => {
            let ws = ctx.workspace()?;
            let all = ctx
                .client()?
                .list_policies(ws.as_ref().map(|w| w.id.as_str()), args.archived)?;
            ctx.printer().list(&all)
        }
        PoliciesCommand::Get(args) => {
            let policy = find(ctx, &args.policy)?;
            ctx.printer().one(&policy)
        }
        PoliciesCommand::Create(args) => create(ctx, args),
        PoliciesCommand::Update(args) => update(ctx, args),
        PoliciesCommand::Delete(args) => {
            let policy = find(ctx, &args.policy)?;
            ctx.prompter().confirm_destructive(&format!(
                "Archive policy `{}`? It stops limiting requests at once.",
                policy.label()
            ))?;
            ctx.client()?.archive_policy(policy.kind(), policy.id())?;
            ctx.printer()
                .status(format!("archived policy `{}`", policy.label()));
            if ctx.printer().is_json() {
                ctx.printer()
                    .data(&json!({"archived": true, "id": policy.id()}))?;
            }
            Ok(())
        }
        PoliciesCommand::Entities(args) => {
            let policy = find(ctx, &args.policy)?;
            let mut all = ctx.client()?.policy_entities(policy.kind(), policy.id())?;
            if args.exhausted {
                all.retain(|e| e.status == "exhausted");
            }
            ctx.printer().list(&all)
        }
        PoliciesCommand::Reset(args) => {
            let policy = find(ctx, &args.policy)?;
            if policy.kind() != "usage" {
                return Err(CliError::usage(format!(
                    "policy `{}` is a rate-limit policy: its window empties on its own; only usage-limit policies are reset",
                    policy.label()
                ))
                .into());
            }
            ctx.client()?
                .reset_policy_entity(policy.id(), &args.value_key)?;
            ctx.printer().status(format!(
                "reset `{}` of policy `{}`",
                args.value_key,
                policy.label()
            ));
            Ok(())
        }
    }
}

/// A policy by id, or by name among those in scope.
fn find(ctx: &Ctx, reference: &str) -> anyhow::Result<Policy> {
    let ws = ctx.workspace()?;
    let all = ctx
        .client()?
        .list_policies(ws.as_ref().map(|w| w.id.as_str()), true)?;
    let by_id: Vec<&Policy> = all.iter().filter(|p| p.id() == reference).collect();
    let matching: Vec<&Policy> = if by_id.is_empty() {
        let named: Vec<&Policy> = all.iter().filter(|p| p.label() == reference).collect();
        let active: Vec<&Policy> = named
            .iter()
            .copied()
            .filter(|p| p.status() == "active")
            .collect();
        if active.is_empty() {
            named
        } else {
            active
        }
    } else {
        by_id
    };
    match matching.as_slice() {
        [one] => Ok(ctx.client()?.get_policy(one.kind(), one.id())?),
        [] => Err(CliError::new(
            ErrorKind::NotFound,
            format!("no policy is named `{reference}`"),
        )
        .with_hint("`catalog policies list --archived` shows them with their ids")
        .into()),
        many => Err(CliError::usage(format!(
            "{} policies are named `{reference}`; name one by id: {}",
            many.len(),
            many.iter().map(|p| p.id()).collect::<Vec<_>>().join(", ")
        ))
        .into()),
    }
}

/// The conditions `--when` gives; a workspace named as everywhere else (id, slug or name).
fn conditions(ctx: &Ctx, when: &[KeyValue]) -> anyhow::Result<Vec<PolicyCondition>> {
    when.iter()
        .map(|kv| {
            let value = if kv.key == "workspace_id" && kv.value != "*" {
                ctx.client()?.resolve_workspace(&kv.value)?.id
            } else {
                kv.value.clone()
            };
            Ok(PolicyCondition {
                key: kv.key.clone(),
                value,
            })
        })
        .collect()
}

fn reset_fields(body: &mut Map<String, Value>, reset: Option<&ResetSpec>) {
    let Some(reset) = reset else { return };
    let (periodic, days) = match reset {
        ResetSpec::None => (Value::Null, Value::Null),
        ResetSpec::Weekly => (json!(PeriodicReset::Weekly), Value::Null),
        ResetSpec::Monthly => (json!(PeriodicReset::Monthly), Value::Null),
        ResetSpec::Days(d) => (Value::Null, json!(d)),
    };
    body.insert("periodic_reset".into(), periodic);
    body.insert("periodic_reset_days".into(), days);
}

fn create(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    let mut body = Map::new();
    body.insert("name".into(), json!(args.name));
    body.insert("conditions".into(), json!(conditions(ctx, &args.when)?));
    let group_by: Vec<PolicyGroupBy> = args
        .group_by
        .iter()
        .map(|k| PolicyGroupBy { key: k.clone() })
        .collect();
    body.insert("group_by".into(), json!(group_by));
    if let Some(ws) = ctx.workspace()? {
        body.insert("workspace_id".into(), json!(ws.id));
    }
    let kind = match (&args.limit, &args.rate) {
        (Some(limit), None) => {
            let budget = args.kind.as_deref().unwrap_or("cost");
            body.insert("type".into(), json!(budget));
            body.insert("credit_limit".into(), json!(limit.get()));
            if let Some(alert) = &args.alert {
                body.insert("alert_threshold".into(), json!(alert.get()));
            }
            reset_fields(&mut body, args.reset.as_ref());
            "usage"
        }
        (None, Some(RateSpec(Some(rate)))) => {
            let kind = match (args.kind.as_deref(), rate.kind) {
                (Some("cost"), _) => {
                    return Err(CliError::usage(
                        "a rate-limit policy counts requests or tokens; `--type cost` needs --limit",
                    )
                    .into())
                }
                (Some("tokens"), _) | (None, RateLimitType::Tokens) => "tokens",
                _ => "requests",
            };
            body.insert("type".into(), json!(kind));
            body.insert("unit".into(), json!(rate.unit));
            body.insert("value".into(), json!(rate.value));
            "rate"
        }
        (None, Some(RateSpec(None))) => {
            return Err(CliError::usage("`--rate` must be above 0, e.g. 100/min").into())
        }
        _ => {
            return Err(CliError::usage(
                "give --limit AMOUNT for a usage-limit policy or --rate N/WINDOW for a rate-limit policy",
            )
            .with_hint("e.g. `catalog policies create per-user --type cost --limit 50 --reset monthly --group-by metadata.user_id`")
            .into())
        }
    };
    let policy = ctx.client()?.create_policy(kind, &body)?;
    ctx.printer().status(format!(
        "created policy `{}` ({})",
        policy.label(),
        policy.id()
    ));
    ctx.printer().one(&policy)
}

fn update(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    let policy = find(ctx, &args.policy)?;
    let mut body = Map::new();
    if let Some(name) = &args.name {
        body.insert("name".into(), json!(name));
    }
    if !args.when.is_empty() {
        let parsed: Vec<KeyValue> = if args.when == ["none"] {
            Vec::new()
        } else {
            args.when
                .iter()
                .map(|w| w.parse::<KeyValue>())
                .collect::<Result<_, _>>()
                .map_err(|e| CliError::usage(format!("--when: {e}")))?
        };
        body.insert("conditions".into(), json!(conditions(ctx, &parsed)?));
    }
    match &policy {
        Policy::Usage(_) => {
            if args.rate.is_some() {
                return Err(CliError::usage(format!(
                    "policy `{}` is a usage-limit policy: change its budget with --limit",
                    policy.label()
                ))
                .into());
            }
            if let Some(limit) = &args.limit {
                body.insert("credit_limit".into(), json!(limit.get()));
            }
            if let Some(alert) = &args.alert {
                body.insert("alert_threshold".into(), json!(alert.get()));
            }
            if args.clear_alert {
                body.insert("alert_threshold".into(), Value::Null);
            }
            reset_fields(&mut body, args.reset.as_ref());
        }
        Policy::Rate(_) => {
            if args.limit.is_some()
                || args.reset.is_some()
                || args.alert.is_some()
                || args.clear_alert
            {
                return Err(CliError::usage(format!(
                    "policy `{}` is a rate-limit policy: change it with --rate",
                    policy.label()
                ))
                .into());
            }
            match &args.rate {
                Some(RateSpec(Some(rate))) => {
                    body.insert("unit".into(), json!(rate.unit));
                    body.insert("value".into(), json!(rate.value));
                }
                Some(RateSpec(None)) => return Err(CliError::usage(
                    "`--rate` must be above 0; archive the policy with `catalog policies delete`",
                )
                .into()),
                None => {}
            }
        }
    }
    if body.is_empty() {
        return Err(CliError::usage(
            "nothing to change: give --name, --limit, --rate, --reset, --alert or --when",
        )
        .into());
    }
    let updated = ctx
        .client()?
        .update_policy(policy.kind(), policy.id(), &body)?;
    ctx.printer()
        .status(format!("updated policy `{}`", updated.label()));
    ctx.printer().one(&updated)
}

/// `$50 / month`, `1000 tokens`, `100 requests/min`.
fn limit_text(p: &Policy) -> String {
    match p {
        Policy::Usage(u) => {
            let amount = match u.kind {
                BudgetType::Cost => format!("${}", u.credit_limit),
                other => format!("{} {}", u.credit_limit, other.unit()),
            };
            let window = match (u.periodic_reset, u.periodic_reset_days) {
                (Some(PeriodicReset::Weekly), _) => " / week".to_owned(),
                (Some(PeriodicReset::Monthly), _) => " / month".to_owned(),
                (None, Some(d)) => format!(" / {d} days"),
                (None, None) => String::new(),
            };
            format!("{amount}{window}")
        }
        Policy::Rate(r) => Policy::rate(r).to_string(),
    }
}

fn when_text(p: &Policy) -> String {
    let conditions = match p {
        Policy::Usage(u) => &u.conditions,
        Policy::Rate(r) => &r.conditions,
    };
    if conditions.is_empty() {
        return "every request".to_owned();
    }
    conditions
        .iter()
        .map(|c| format!("{}={}", c.key, c.value))
        .collect::<Vec<_>>()
        .join(" & ")
}

fn group_text(p: &Policy) -> String {
    let group = match p {
        Policy::Usage(u) => &u.group_by,
        Policy::Rate(r) => &r.group_by,
    };
    if group.is_empty() {
        return "-".to_owned();
    }
    group
        .iter()
        .map(|g| g.key.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

impl Tabular for Policy {
    fn headers() -> &'static [&'static str] {
        &[
            "NAME",
            "KIND",
            "LIMIT",
            "WHEN",
            "PER",
            "WORKSPACE",
            "STATUS",
            "ID",
        ]
    }

    /// At 80 columns: without the id, the workspace, then the status.
    fn optional_columns() -> &'static [usize] {
        &[7, 5, 6]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.label(),
            self.kind().to_owned(),
            limit_text(self),
            when_text(self),
            group_text(self),
            or_dash(self.workspace_id()),
            self.status().to_owned(),
            self.id().to_owned(),
        ]
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("name", self.label()),
            ("id", self.id().to_owned()),
            ("kind", format!("{} policy", self.kind())),
            ("limit", limit_text(self)),
            ("when", when_text(self)),
            ("per", group_text(self)),
            ("workspace", or_dash(self.workspace_id())),
            ("status", self.status().to_owned()),
        ];
        if let Policy::Usage(u) = self {
            if let Some(alert) = u.alert_threshold {
                out.push(("alert at", alert.to_string()));
            }
            if let Some(map) = &u.value_key_usage_map {
                let mut busiest: Vec<(&String, f64)> =
                    map.iter().map(|(k, v)| (k, v.current_usage)).collect();
                busiest.sort_by(|a, b| b.1.total_cmp(&a.1));
                let shown: Vec<String> = busiest
                    .iter()
                    .take(5)
                    .map(|(k, used)| format!("{k}: {used}"))
                    .collect();
                out.push((
                    "busiest",
                    if shown.is_empty() {
                        "nothing counted yet".to_owned()
                    } else {
                        shown.join("; ")
                    },
                ));
            }
        }
        out
    }
}

impl Tabular for PolicyEntity {
    fn headers() -> &'static [&'static str] {
        &["VALUE KEY", "USED", "STATUS", "RESETS", "ID"]
    }

    fn optional_columns() -> &'static [usize] {
        &[4, 3]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.value_key.clone(),
            self.current_usage.to_string(),
            self.status.clone(),
            or_dash(self.next_usage_reset_at.as_deref()),
            self.id.clone(),
        ]
    }
}
