//! Limit fitting: an AI provider's budget and rate limit must be at least as strict as
//! what its integration's access gives the workspace.

use super::error::{DomainError, DomainResult};
use crate::api::limits::{RateLimit, UsageLimits};
use crate::api::provisioning::WorkspaceAccess;
use crate::api::usage::UsageState;
use crate::store::Unit;

/// A budget's usage as its counter keeps it (in the budget's unit); `None` without a
/// budget, which removes the counter.
pub fn counted<'a>(
    limits: Option<&UsageLimits>,
    usage: Option<&'a UsageState>,
) -> Option<(&'a UsageState, Unit)> {
    Some((usage?, Unit::of_budget(limits?.kind)))
}

/// The first item of an optional list (budgets and rate limits hold at most one).
pub fn first<T>(items: &Option<Vec<T>>) -> Option<&T> {
    items.as_ref().and_then(|v| v.first())
}

/// A provider's limits must be at least as strict as its integration's access allows;
/// [`DomainError::Invalid`] names both numbers when they are not.
pub fn check_fits(
    usage: Option<&UsageLimits>,
    rates: Option<&[RateLimit]>,
    access: &WorkspaceAccess,
    integration: &str,
    workspace: &str,
) -> DomainResult<()> {
    if let (Some(mine), Some(allowed)) = (usage, first(&access.usage_limits)) {
        let unit = allowed.unit();
        if mine.kind != allowed.kind {
            return Err(DomainError::invalid(format!(
                "`usage_limits.type` must be `{}` like the budget integration `{integration}` gives workspace `{workspace}`",
                serde_json::to_value(allowed.kind).unwrap_or_default().as_str().unwrap_or("")
            )));
        }
        if matches!((mine.ceiling(), allowed.ceiling()), (Some(m), Some(a)) if m > a) {
            return Err(DomainError::invalid(format!(
                "`usage_limits.credit_limit` {} {unit} is looser than the {} {unit} integration `{integration}` allows workspace `{workspace}`; use at most {}",
                mine.credit_limit, allowed.credit_limit, allowed.credit_limit
            )));
        }
    }
    if let (Some(mine), Some(allowed)) = (
        rates.and_then(<[RateLimit]>::first),
        first(&access.rate_limits),
    ) {
        if mine.rate() > allowed.rate() {
            return Err(DomainError::invalid(format!(
                "`rate_limits[0]` {mine} is looser than the {allowed} integration `{integration}` allows workspace `{workspace}`"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::limits::{BudgetType, RateLimitType, RateUnit};

    fn access(budget: f64, rpm: i64) -> WorkspaceAccess {
        WorkspaceAccess {
            usage_limits: Some(vec![UsageLimits::cost(budget)]),
            rate_limits: Some(vec![RateLimit {
                kind: RateLimitType::Requests,
                unit: RateUnit::Rpm,
                value: rpm,
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn looser_limits_name_both_numbers() {
        let a = access(1000.0, 100);
        let mut budget = first(&a.usage_limits).unwrap().clone();
        budget.credit_limit = 2000.0;
        let err = check_fits(Some(&budget), None, &a, "openai-prod", "ws-eng")
            .unwrap_err()
            .to_string();
        assert!(err.contains("2000") && err.contains("1000"), "{err}");
        budget.credit_limit = 500.0;
        assert!(check_fits(Some(&budget), None, &a, "i", "w").is_ok());
        let hourly = RateLimit {
            kind: RateLimitType::Requests,
            unit: RateUnit::Rph,
            value: 12000,
        };
        let err = check_fits(None, Some(&[hourly]), &a, "i", "w")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("12000 requests/hour") && err.contains("100 requests/min"),
            "{err}"
        );
        let fine = RateLimit {
            kind: RateLimitType::Requests,
            unit: RateUnit::Rph,
            value: 600,
        };
        assert!(check_fits(None, Some(&[fine]), &a, "i", "w").is_ok());
    }

    #[test]
    fn a_budget_of_another_type_does_not_fit() {
        let a = access(1000.0, 100);
        let mut tokens = first(&a.usage_limits).unwrap().clone();
        tokens.kind = BudgetType::Tokens;
        tokens.credit_limit = 10.0;
        let err = check_fits(Some(&tokens), None, &a, "i", "w").unwrap_err();
        assert!(
            matches!(&err, DomainError::Invalid(m) if m.contains("`cost`")),
            "{err}"
        );
    }

    #[test]
    fn a_token_rate_is_not_held_against_a_request_rate() {
        let a = access(1000.0, 100);
        let tokens = RateLimit {
            kind: RateLimitType::Tokens,
            unit: RateUnit::Rpm,
            value: 1_000_000,
        };
        assert!(check_fits(None, Some(&[tokens]), &a, "i", "w").is_ok());
    }
}
