//! Limit fitting: an AI provider's budget, rate limit and concurrency limit must be at
//! least as strict as what its integration's access gives the workspace.

use super::error::{DomainError, DomainResult};
use crate::api::limits::{ConcurrencyLimit, RateLimit, UsageLimits};
use crate::api::provider::Provider;
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

/// The limits an AI provider carries, as they are held against its access.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderLimits<'a> {
    pub usage: Option<&'a UsageLimits>,
    pub rates: Option<&'a [RateLimit]>,
    pub concurrency: Option<ConcurrencyLimit>,
}

impl<'a> ProviderLimits<'a> {
    /// A stored provider's limits.
    pub fn of(provider: &'a Provider) -> ProviderLimits<'a> {
        ProviderLimits {
            usage: provider.usage_limits.as_ref(),
            rates: provider.rate_limits.as_deref(),
            concurrency: provider.concurrency_limit,
        }
    }
}

/// A provider's limits must be at least as strict as its integration's access allows;
/// [`DomainError::Invalid`] names both numbers when they are not. A limit the access does
/// not set (or the provider does not set) is not compared: the gateway holds a request to
/// both.
pub fn check_fits(
    mine: ProviderLimits<'_>,
    access: &WorkspaceAccess,
    integration: &str,
    workspace: &str,
) -> DomainResult<()> {
    if let (Some(mine), Some(allowed)) = (mine.usage, first(&access.usage_limits)) {
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
        mine.rates.and_then(<[RateLimit]>::first),
        first(&access.rate_limits),
    ) {
        if mine.rate() > allowed.rate() {
            return Err(DomainError::invalid(format!(
                "`rate_limits[0]` {mine} is looser than the {allowed} integration `{integration}` allows workspace `{workspace}`"
            )));
        }
    }
    if let (Some(mine), Some(allowed)) = (mine.concurrency, access.concurrency_limit) {
        if mine > allowed {
            return Err(DomainError::invalid(format!(
                "`concurrency_limit` {mine} is looser than the {allowed} requests in flight integration `{integration}` allows workspace `{workspace}`; use at most {allowed}"
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

    fn budget_only(usage: &UsageLimits) -> ProviderLimits<'_> {
        ProviderLimits {
            usage: Some(usage),
            ..Default::default()
        }
    }

    fn rate_only(rates: &[RateLimit]) -> ProviderLimits<'_> {
        ProviderLimits {
            rates: Some(rates),
            ..Default::default()
        }
    }

    fn in_flight(n: i64) -> ProviderLimits<'static> {
        ProviderLimits {
            concurrency: Some(ConcurrencyLimit::new(n).unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn looser_limits_name_both_numbers() {
        let a = access(1000.0, 100);
        let mut budget = first(&a.usage_limits).unwrap().clone();
        budget.credit_limit = 2000.0;
        let err = check_fits(budget_only(&budget), &a, "openai-prod", "ws-eng")
            .unwrap_err()
            .to_string();
        assert!(err.contains("2000") && err.contains("1000"), "{err}");
        budget.credit_limit = 500.0;
        assert!(check_fits(budget_only(&budget), &a, "i", "w").is_ok());
        let hourly = RateLimit {
            kind: RateLimitType::Requests,
            unit: RateUnit::Rph,
            value: 12000,
        };
        let err = check_fits(rate_only(&[hourly]), &a, "i", "w")
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
        assert!(check_fits(rate_only(&[fine]), &a, "i", "w").is_ok());
    }

    #[test]
    fn a_budget_of_another_type_does_not_fit() {
        let a = access(1000.0, 100);
        let mut tokens = first(&a.usage_limits).unwrap().clone();
        tokens.kind = BudgetType::Tokens;
        tokens.credit_limit = 10.0;
        let err = check_fits(budget_only(&tokens), &a, "i", "w").unwrap_err();
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
        assert!(check_fits(rate_only(&[tokens]), &a, "i", "w").is_ok());
    }

    #[test]
    fn a_concurrency_limit_fits_under_the_access_one() {
        let mut a = access(1000.0, 100);
        // No limit on the access: any provider limit fits.
        assert!(check_fits(in_flight(500), &a, "i", "w").is_ok());
        a.concurrency_limit = Some(ConcurrencyLimit::new(8).unwrap());
        assert!(check_fits(in_flight(8), &a, "i", "w").is_ok());
        assert!(check_fits(ProviderLimits::default(), &a, "i", "w").is_ok());
        let err = check_fits(in_flight(16), &a, "azure-prod", "ws-eng")
            .unwrap_err()
            .to_string();
        for part in [
            "`concurrency_limit` 16",
            "the 8",
            "`azure-prod`",
            "`ws-eng`",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
    }
}
