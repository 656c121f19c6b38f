//! Exact admission: before a request goes upstream, the most it can cost is held at every
//! level that limits it (API key, workspace, integration, the integration's access for
//! the workspace, the AI provider or virtual key), all at once or not at all; after the
//! answer, the hold is settled with what the upstream reports it used.
//!
//! This module decides what to hold; a [`Store`](crate::store::Store) applies holds
//! atomically and durably.

pub mod demand;
pub mod price;
pub mod rate;

use crate::api::api_key::ApiKey;
use crate::api::integration::Integration;
use crate::api::limits::{BudgetType, RateLimit, RateLimitType, UsageLimits};
use crate::api::provider::Provider;
use crate::api::provisioning::WorkspaceAccess;
use crate::api::virtual_key::VirtualKey;
use crate::api::workspace::Workspace;
use crate::store::{Gauge, HoldEntry, Unit, UsageScope};
use demand::Demand;
use price::Prices;

/// The limits one level sets, as the catalog stores them.
#[derive(Debug, Clone)]
pub struct Level {
    pub scope: UsageScope,
    pub kind: LevelKind,
    /// Who it is, for people: `@openai-prod`, `eng`, `azure-prod`.
    pub name: String,
    pub budgets: Vec<UsageLimits>,
    pub rates: Vec<RateLimit>,
    /// Most requests in flight.
    pub concurrency: Option<i64>,
}

/// Each level's limits as its record stores them: one place that says which fields of a
/// workspace, API key, integration, access, provider or virtual key limit requests, read
/// by the gateway (to hold) and by usage reports (to show).
impl Level {
    /// An API key's budget and rate limits; `name` is how people are shown the key.
    pub fn of_api_key(key: &ApiKey, name: String) -> Level {
        Level {
            scope: UsageScope::ApiKey(key.id.clone()),
            kind: LevelKind::ApiKey,
            name,
            budgets: key.usage_limits.iter().cloned().collect(),
            rates: key.rate_limits.clone().unwrap_or_default(),
            concurrency: None,
        }
    }

    /// A workspace's budgets (the Nth counts as `budget/N`) and rate limits.
    pub fn of_workspace(workspace: &Workspace) -> Level {
        Level {
            scope: UsageScope::Workspace(workspace.id.clone()),
            kind: LevelKind::Workspace,
            name: workspace.slug.clone(),
            budgets: workspace.usage_limits.clone().unwrap_or_default(),
            rates: workspace.rate_limits.clone().unwrap_or_default(),
            concurrency: None,
        }
    }

    /// An integration's own budget, across every workspace.
    pub fn of_integration(integration: &Integration) -> Level {
        Level {
            scope: UsageScope::Integration(integration.id.clone()),
            kind: LevelKind::Integration,
            name: integration.slug.clone(),
            budgets: integration.usage_limits.clone().unwrap_or_default(),
            rates: Vec::new(),
            concurrency: None,
        }
    }

    /// An integration's access for one workspace (named after the integration).
    pub fn of_access(
        integration: &Integration,
        workspace_id: &str,
        access: &WorkspaceAccess,
    ) -> Level {
        Level {
            scope: UsageScope::Access {
                integration_id: integration.id.clone(),
                workspace_id: workspace_id.to_owned(),
            },
            kind: LevelKind::Access,
            name: integration.slug.clone(),
            budgets: access.usage_limits.clone().unwrap_or_default(),
            rates: access.rate_limits.clone().unwrap_or_default(),
            concurrency: access.concurrency_limit.map(|c| i64::from(c.get())),
        }
    }

    /// An AI provider's budget, rate limits and concurrency limit (named `@slug`).
    pub fn of_provider(provider: &Provider) -> Level {
        Level {
            scope: UsageScope::Provider(provider.id.clone()),
            kind: LevelKind::Provider,
            name: format!("@{}", provider.slug),
            budgets: provider.usage_limits.iter().cloned().collect(),
            rates: provider.rate_limits.clone().unwrap_or_default(),
            concurrency: provider.concurrency_limit.map(|c| i64::from(c.get())),
        }
    }

    /// A legacy virtual key's budget and rate limits.
    pub fn of_virtual_key(key: &VirtualKey) -> Level {
        Level {
            scope: UsageScope::VirtualKey(key.id.clone()),
            kind: LevelKind::VirtualKey,
            name: key.slug.clone(),
            budgets: key.usage_limits.iter().cloned().collect(),
            rates: key.rate_limits.clone().unwrap_or_default(),
            concurrency: None,
        }
    }

    /// Whether the level limits anything (a rate limit of 0 is off).
    pub fn limits_anything(&self) -> bool {
        !self.budgets.is_empty()
            || self.rates.iter().any(|r| r.value > 0)
            || self.concurrency.is_some()
    }
}

/// The levels, in the order their refusals take precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LevelKind {
    ApiKey,
    Workspace,
    /// An integration across every workspace.
    Integration,
    /// An integration's access for one workspace.
    Access,
    Provider,
    VirtualKey,
    /// A usage-limit or rate-limit policy, for one value of its group.
    Policy,
}

impl LevelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LevelKind::ApiKey => "api_key",
            LevelKind::Workspace => "workspace",
            LevelKind::Integration => "integration",
            LevelKind::Access => "workspace_access",
            LevelKind::Provider => "provider",
            LevelKind::VirtualKey => "virtual_key",
            LevelKind::Policy => "policy",
        }
    }

    /// The level as people are told about it: `AI provider`, `integration access`, ...
    pub fn label(self) -> &'static str {
        match self {
            LevelKind::ApiKey => "API key",
            LevelKind::Workspace => "workspace",
            LevelKind::Integration => "integration (across every workspace)",
            LevelKind::Access => "integration access",
            LevelKind::Provider => "AI provider",
            LevelKind::VirtualKey => "virtual key",
            LevelKind::Policy => "policy",
        }
    }

    pub fn parse(s: &str) -> Option<LevelKind> {
        [
            LevelKind::ApiKey,
            LevelKind::Workspace,
            LevelKind::Integration,
            LevelKind::Access,
            LevelKind::Provider,
            LevelKind::VirtualKey,
            LevelKind::Policy,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The counter key of a level's budget: `budget` for the first, `budget/N` after it.
pub fn budget_key(index: usize) -> String {
    if index == 0 {
        crate::store::BUDGET.to_owned()
    } else {
        format!("budget/{index}")
    }
}

/// The counter key of a rate limit: `rate/requests/rpm`, `rate/tokens/rph`, ...
pub fn rate_key(rate: &RateLimit) -> String {
    let kind = match rate.kind {
        RateLimitType::Requests => "requests",
        RateLimitType::Tokens => "tokens",
    };
    // Joined by hand: every hold makes one per rate limit, and `format!` costs more.
    let unit = rate.unit.as_str();
    let mut key = String::with_capacity(6 + kind.len() + unit.len());
    key.push_str("rate/");
    key.push_str(kind);
    key.push('/');
    key.push_str(unit);
    key
}

/// The rate limit a counter key names, at `value` (the inverse of [`rate_key`]).
pub fn rate_of_key(key: &str, value: i64) -> Option<RateLimit> {
    let mut parts = key.strip_prefix("rate/")?.split('/');
    let kind = match parts.next()? {
        "requests" => RateLimitType::Requests,
        "tokens" => RateLimitType::Tokens,
        _ => return None,
    };
    let unit = serde_json::from_value(serde_json::Value::from(parts.next()?)).ok()?;
    Some(RateLimit { kind, unit, value })
}

pub const CONCURRENCY: &str = "concurrency";

/// Why a request cannot be held at all, before any counter is looked at.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanError {
    /// A cost budget applies and the model has no known price.
    NoPrice { level: LevelKind, name: String },
}

/// The entries of a hold for a request that may use `demand`, priced at `prices`:
/// budgets first, then rate limits, then concurrency, each in level order.
pub fn plan(
    levels: &[Level],
    demand: Demand,
    prices: Option<Prices>,
) -> Result<Vec<HoldEntry>, PlanError> {
    let mut budgets = Vec::new();
    let mut rates = Vec::new();
    let mut concurrency = Vec::new();
    let mut ordered: Vec<&Level> = levels.iter().collect();
    ordered.sort_by_key(|l| l.kind);
    for level in ordered {
        let entry = |limit: String, unit: Unit, gauge: Gauge, amount: i64| HoldEntry {
            scope: level.scope.clone(),
            limit,
            unit,
            gauge,
            amount,
            level: level.kind.as_str().to_owned(),
            name: level.name.clone(),
            slot: None,
        };
        for (i, b) in level.budgets.iter().enumerate() {
            let unit = Unit::of_budget(b.kind);
            let amount = match b.kind {
                BudgetType::Cost => match prices {
                    Some(p) => p.bound(demand.input_tokens, demand.output_tokens),
                    None => {
                        return Err(PlanError::NoPrice {
                            level: level.kind,
                            name: level.name.clone(),
                        })
                    }
                },
                BudgetType::Tokens => tokens(demand.total()),
                BudgetType::Requests => 1,
            };
            let gauge = Gauge::Budget {
                limits: b.clone(),
                ceiling: unit.units(b.credit_limit),
                alert: b.alert_threshold.map(|a| unit.units(a)),
            };
            budgets.push(entry(budget_key(i), unit, gauge, amount));
        }
        for r in level.rates.iter().filter(|r| r.value > 0) {
            let (unit, amount) = match r.kind {
                RateLimitType::Requests => (Unit::Requests, 1),
                RateLimitType::Tokens => (Unit::Tokens, tokens(demand.total())),
            };
            let period_ms = rate::period_ms(r.unit);
            let gauge = Gauge::Rate {
                period_ms,
                slot_ms: rate::slot_ms(period_ms),
                ceiling: r.value,
            };
            rates.push(entry(rate_key(r), unit, gauge, amount));
        }
        if let Some(max) = level.concurrency {
            let gauge = Gauge::Concurrency { ceiling: max };
            concurrency.push(entry(CONCURRENCY.to_owned(), Unit::Requests, gauge, 1));
        }
    }
    budgets.extend(rates);
    budgets.extend(concurrency);
    Ok(budgets)
}

fn tokens(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What a request used, as the upstream reported it (or as far as it can be told).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Used {
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
}

/// Each entry's settled amount for a request that used `used`: its cost or tokens for
/// budgets and token rates, the request itself for request rates (a request refused
/// upstream was still admitted), nothing for concurrency.
pub fn settlement(entries: &[HoldEntry], used: Used, prices: Option<Prices>) -> Vec<i64> {
    let total = tokens(used.input_tokens + used.output_tokens);
    entries
        .iter()
        .map(|e| match (&e.gauge, e.unit) {
            (Gauge::Budget { .. }, Unit::NanoUsd) => prices.map_or(0, |p| {
                p.cost(used.input_tokens, used.cached_tokens, used.output_tokens)
            }),
            (Gauge::Budget { .. }, Unit::Requests) => e.amount,
            (Gauge::Budget { .. }, _) => total,
            (Gauge::Rate { .. }, Unit::Requests) => e.amount,
            (Gauge::Rate { .. }, _) => total,
            (Gauge::Concurrency { .. }, _) => 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::limits::RateUnit;

    fn level(kind: LevelKind, budget: Option<UsageLimits>, rpm: Option<i64>) -> Level {
        Level {
            scope: UsageScope::Workspace(format!("{kind:?}")),
            kind,
            name: format!("{kind:?}"),
            budgets: budget.into_iter().collect(),
            rates: rpm
                .map(|v| RateLimit {
                    kind: RateLimitType::Requests,
                    unit: RateUnit::Rpm,
                    value: v,
                })
                .into_iter()
                .collect(),
            concurrency: None,
        }
    }

    #[test]
    fn budgets_come_before_rates_and_levels_keep_their_order() {
        let levels = [
            level(LevelKind::Provider, Some(UsageLimits::cost(5.0)), Some(10)),
            level(LevelKind::ApiKey, None, Some(100)),
            level(LevelKind::Workspace, Some(UsageLimits::cost(50.0)), None),
        ];
        let prices = Prices {
            input: 1_000_000,
            output: 2_000_000,
            cached_input: 1_000_000,
        };
        let demand = Demand {
            input_tokens: 100,
            output_tokens: 50,
        };
        let entries = plan(&levels, demand, Some(prices)).unwrap();
        let order: Vec<_> = entries
            .iter()
            .map(|e| (e.level.as_str(), e.limit.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("workspace", "budget"),
                ("provider", "budget"),
                ("api_key", "rate/requests/rpm"),
                ("provider", "rate/requests/rpm"),
            ]
        );
        // 100 × $1/M + 50 × $2/M = $0.0002 = 200,000 nano-dollars.
        assert_eq!(entries[0].amount, 200_000);
        assert_eq!(entries[2].amount, 1);
        let rate = rate_of_key(&entries[2].limit, 100).unwrap();
        assert_eq!(rate.to_string(), "100 requests/min");
    }

    #[test]
    fn a_cost_budget_without_a_price_cannot_hold() {
        let levels = [level(LevelKind::Access, Some(UsageLimits::cost(5.0)), None)];
        assert!(matches!(
            plan(&levels, Demand::default(), None),
            Err(PlanError::NoPrice {
                level: LevelKind::Access,
                ..
            })
        ));
        // A request-rate limit alone needs no price.
        let levels = [level(LevelKind::Access, None, Some(5))];
        assert_eq!(plan(&levels, Demand::default(), None).unwrap().len(), 1);
    }
}
