//! The budget and rate-limit flags shared by provisioning and provider commands.

use clap::{Args, ValueEnum};

use crate::api::limits::{BudgetType, PeriodicReset, RateLimit, UsageLimits};
use crate::types::{RateSpec, ResetSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BudgetKind {
    Cost,
    Tokens,
}

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Budget: USD with --budget-type cost (at least 1), tokens with --budget-type tokens (at least 100)
    #[arg(long, value_name = "AMOUNT")]
    pub budget: Option<f64>,

    /// What the budget counts [default: cost]
    #[arg(long, value_enum)]
    pub budget_type: Option<BudgetKind>,

    /// When the budget resets: weekly (Monday 00:00 UTC), monthly (the 1st), none, or every N days (30d)
    #[arg(long, value_name = "WHEN")]
    pub reset: Option<ResetSpec>,

    /// Alert when usage reaches this amount (below the budget, same unit)
    #[arg(long, value_name = "AMOUNT")]
    pub alert: Option<f64>,

    /// Rate limit: 100/min, 100rpm, 5000tokens/hour, 1000/day; 0 disables
    #[arg(long, value_name = "RATE")]
    pub rate_limit: Option<RateSpec>,
}

impl LimitArgs {
    pub fn budget_type(&self) -> BudgetType {
        match self.budget_type {
            Some(BudgetKind::Tokens) => BudgetType::Tokens,
            _ => BudgetType::Cost,
        }
    }

    /// The budget these flags describe, if any.
    pub fn usage_limits(&self) -> Option<UsageLimits> {
        let amount = self.budget?;
        let (periodic_reset, periodic_reset_days) = match self.reset {
            Some(ResetSpec::Weekly) => (Some(PeriodicReset::Weekly), None),
            Some(ResetSpec::Monthly) => (Some(PeriodicReset::Monthly), None),
            Some(ResetSpec::Days(n)) => (None, Some(n)),
            Some(ResetSpec::None) | None => (None, None),
        };
        Some(UsageLimits {
            kind: self.budget_type(),
            credit_limit: amount,
            alert_threshold: self.alert,
            periodic_reset,
            periodic_reset_days,
            next_usage_reset_at: None,
        })
    }

    pub fn rate_limits(&self) -> Option<Vec<RateLimit>> {
        self.rate_limit.as_ref().map(|r| vec![r.0.clone()])
    }

    /// Whether any limit flag was given.
    pub fn any(&self) -> bool {
        self.budget.is_some() || self.rate_limit.is_some()
    }

    /// Flags that only make sense with `--budget`.
    pub fn check(&self) -> Result<(), crate::exit::CliError> {
        if self.budget.is_none()
            && (self.budget_type.is_some() || self.reset.is_some() || self.alert.is_some())
        {
            return Err(crate::exit::CliError::usage(
                "--budget-type, --reset and --alert describe a budget: pass --budget too",
            ));
        }
        Ok(())
    }
}

/// `120.5 / 1000 USD` or `- / 5000000 tokens`.
pub fn describe_budget(limit: Option<&UsageLimits>, used: Option<f64>) -> String {
    match limit {
        None => "unlimited".to_owned(),
        Some(l) => {
            let unit = match l.kind {
                BudgetType::Cost => "USD",
                BudgetType::Tokens => "tokens",
            };
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
