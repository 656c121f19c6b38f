//! The limit flags shared by provisioning, provider and integration commands.
//!
//! Flags change what they name and nothing else: [`BudgetArgs::merge`],
//! [`LimitArgs::merge_rate`] and [`LimitArgs::merge_concurrency`] apply them to the current
//! budget, rate limit and concurrency limit, so a `--budget 1200` keeps the reset and alert
//! that were already there.

use clap::{Args, ValueEnum};

use crate::api::limits::{BudgetType, ConcurrencyLimit, PeriodicReset, RateLimit, UsageLimits};
use crate::exit::CliError;
use crate::types::{Amount, ConcurrencySpec, RateSpec, ResetSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BudgetKind {
    Cost,
    Tokens,
}

impl From<BudgetKind> for BudgetType {
    fn from(k: BudgetKind) -> BudgetType {
        match k {
            BudgetKind::Cost => BudgetType::Cost,
            BudgetKind::Tokens => BudgetType::Tokens,
        }
    }
}

/// The budget flags: its amount, what it counts, when it resets and when to alert. Every
/// command that sets a budget flattens these, so each flag is defined once: on their own
/// for an integration's budget, within [`LimitArgs`] for providers and provisioning.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Limits")]
pub struct BudgetArgs {
    /// Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100); flags not given keep their current value
    #[arg(
        id = "budget",
        long = "budget",
        value_name = "AMOUNT",
        allow_negative_numbers = true
    )]
    pub amount: Option<Amount>,

    /// What the budget counts [default: cost, or the current type]
    #[arg(long, value_enum)]
    pub budget_type: Option<BudgetKind>,

    /// When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)
    #[arg(long, value_name = "WHEN")]
    pub reset: Option<ResetSpec>,

    /// Alert when usage reaches this amount (below the budget, same unit)
    #[arg(long, value_name = "AMOUNT", allow_negative_numbers = true)]
    pub alert: Option<Amount>,
}

/// `--clear-budget`, for the commands that change a budget already set.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Limits")]
pub struct ClearBudgetArgs {
    /// Remove the budget
    #[arg(long, conflicts_with_all = ["budget", "budget_type", "reset", "alert"])]
    pub clear_budget: bool,
}

/// Every limit of an AI provider or of a workspace's access to an integration: the budget,
/// the rate limit and the concurrency limit.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    #[command(flatten)]
    pub budget: BudgetArgs,

    /// Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 (or none) removes it
    #[arg(long, value_name = "RATE")]
    pub rate_limit: Option<RateSpec>,

    /// Concurrency limit: the most requests in flight at once (e.g. 8); 0 (or none) removes it
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub concurrency: Option<ConcurrencySpec>,
}

impl BudgetArgs {
    /// Whether any budget flag was given.
    pub fn any(&self) -> bool {
        self.amount.is_some()
            || self.budget_type.is_some()
            || self.reset.is_some()
            || self.alert.is_some()
    }

    /// The budget once these flags are applied to `current`: a flag not given keeps the
    /// current value; without a current budget, `--budget` is needed. The result is
    /// checked here so that errors name the flags, not API fields.
    pub fn merge(&self, current: Option<&UsageLimits>) -> Result<Option<UsageLimits>, CliError> {
        let current = current.map(|u| UsageLimits {
            next_usage_reset_at: None,
            ..u.clone()
        });
        if !self.any() {
            return Ok(current);
        }
        let mut merged = match (current, self.amount) {
            (Some(u), _) => u,
            (None, Some(amount)) => UsageLimits::cost(amount.get()),
            (None, None) => {
                return Err(CliError::usage(
                    "--budget-type, --reset and --alert change a budget, and there is none yet: pass --budget too",
                ))
            }
        };
        if let Some(kind) = self.budget_type {
            let kind = BudgetType::from(kind);
            if kind != merged.kind && self.amount.is_none() {
                return Err(CliError::usage(
                    "changing --budget-type changes the unit of the budget: pass --budget too",
                ));
            }
            if kind != merged.kind && self.alert.is_none() {
                merged.alert_threshold = None;
            }
            merged.kind = kind;
        }
        if let Some(amount) = self.amount {
            merged.credit_limit = amount.get();
        }
        if let Some(reset) = self.reset {
            (merged.periodic_reset, merged.periodic_reset_days) = match reset {
                ResetSpec::Weekly => (Some(PeriodicReset::Weekly), None),
                ResetSpec::Monthly => (Some(PeriodicReset::Monthly), None),
                ResetSpec::Days(n) => (None, Some(n)),
                ResetSpec::None => (None, None),
            };
        }
        if let Some(alert) = self.alert {
            merged.alert_threshold = Some(alert.get());
        }
        self.check(&merged)?;
        Ok(Some(merged))
    }

    fn check(&self, b: &UsageLimits) -> Result<(), CliError> {
        let (minimum, unit) = match b.kind {
            BudgetType::Tokens => (100.0, b.kind.unit()),
            BudgetType::Cost | BudgetType::Requests => (1.0, b.kind.unit()),
        };
        if b.credit_limit < minimum {
            return Err(CliError::usage(format!(
                "--budget must be at least {minimum} {unit} for a `{}` budget, got {}",
                b.kind.as_str(),
                b.credit_limit
            )));
        }
        if let Some(alert) = b.alert_threshold {
            if alert >= b.credit_limit {
                let source = if self.alert.is_some() {
                    format!("--alert {alert}")
                } else {
                    format!("the current alert ({alert})")
                };
                return Err(CliError::usage(format!(
                    "{source} must be below the budget ({} {unit})",
                    b.credit_limit
                ))
                .with_hint("pass an --alert below the budget"));
            }
            if alert < 1.0 {
                return Err(CliError::usage(format!(
                    "--alert must be at least 1 {unit}, got {alert}"
                )));
            }
        }
        Ok(())
    }
}

impl LimitArgs {
    /// Whether any budget flag was given.
    pub fn any_budget(&self) -> bool {
        self.budget.any()
    }

    /// Whether any limit flag was given.
    pub fn any(&self) -> bool {
        self.any_budget() || self.rate_limit.is_some() || self.concurrency.is_some()
    }

    /// The budget once the budget flags are applied to `current` ([`BudgetArgs::merge`]).
    pub fn merge_usage(
        &self,
        current: Option<&UsageLimits>,
    ) -> Result<Option<UsageLimits>, CliError> {
        self.budget.merge(current)
    }

    /// The rate limit once `--rate-limit` is applied to `current` (`0` removes it).
    pub fn merge_rate(&self, current: Option<&Vec<RateLimit>>) -> Option<Vec<RateLimit>> {
        match &self.rate_limit {
            None => current.filter(|r| !r.is_empty()).cloned(),
            Some(spec) => spec.0.clone().map(|r| vec![r]),
        }
    }

    /// The concurrency limit once `--concurrency` is applied to `current` (`0` removes it).
    pub fn merge_concurrency(&self, current: Option<ConcurrencyLimit>) -> Option<ConcurrencyLimit> {
        match self.concurrency {
            None => current,
            Some(ConcurrencySpec(limit)) => limit,
        }
    }
}

/// `1000 USD` or `5000000 tokens`: a budget's limit alone, or `unlimited`.
pub fn describe_limit(limit: Option<&UsageLimits>) -> String {
    limit.map_or_else(
        || "unlimited".to_owned(),
        |l| format!("{} {}", l.credit_limit, l.unit()),
    )
}

/// `120.5 / 1000 USD` or `0 / 5000000 tokens`.
pub fn describe_budget(limit: Option<&UsageLimits>, used: Option<f64>) -> String {
    match limit {
        None => "unlimited".to_owned(),
        Some(l) => {
            let unit = l.kind.unit();
            let used = used.map_or("0".to_owned(), |u| format!("{u}"));
            format!("{used} / {} {unit}", l.credit_limit)
        }
    }
}

pub fn describe_window(limit: Option<&UsageLimits>) -> String {
    match limit {
        None => "-".to_owned(),
        Some(l) => match (l.periodic_reset, l.periodic_reset_days) {
            (Some(PeriodicReset::Weekly), _) => "weekly".to_owned(),
            (Some(PeriodicReset::Monthly), _) => "monthly".to_owned(),
            (None, Some(n)) => format!("every {n}d"),
            _ => "never".to_owned(),
        },
    }
}

pub fn describe_rate(rates: Option<&Vec<RateLimit>>) -> String {
    rates
        .and_then(|r| r.first())
        .map_or_else(|| "unlimited".to_owned(), ToString::to_string)
}

/// `8 in flight`, or `unlimited`.
pub fn describe_concurrency(limit: Option<ConcurrencyLimit>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |n| format!("{n} in flight"))
}
