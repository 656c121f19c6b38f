//! Usage-limit and rate-limit policies: what a policy may say, which requests it applies
//! to, and the counter (value key) a request counts in. A matching policy is one more
//! [`Level`] of the request's atomic admission.

use std::collections::BTreeMap;

use crate::admission::{Level, LevelKind};
use crate::api::limits::{BudgetType, RateLimit, RateUnit, UsageLimits};
use crate::api::policies::{
    PolicyCondition, PolicyGroupBy, RateLimitPolicy, UsageLimitPolicy, POLICY_KEYS,
};
use crate::store::UsageScope;

/// A policy of either kind, as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    Usage(UsageLimitPolicy),
    Rate(RateLimitPolicy),
}

impl Policy {
    pub fn id(&self) -> &str {
        match self {
            Policy::Usage(p) => &p.id,
            Policy::Rate(p) => &p.id,
        }
    }

    pub fn status(&self) -> &str {
        match self {
            Policy::Usage(p) => &p.status,
            Policy::Rate(p) => &p.status,
        }
    }

    pub fn workspace_id(&self) -> Option<&str> {
        match self {
            Policy::Usage(p) => p.workspace_id.as_deref(),
            Policy::Rate(p) => p.workspace_id.as_deref(),
        }
    }

    fn conditions(&self) -> &[PolicyCondition] {
        match self {
            Policy::Usage(p) => &p.conditions,
            Policy::Rate(p) => &p.conditions,
        }
    }

    /// The name and conditions, which an update may change.
    pub fn matching_mut(&mut self) -> (&mut Option<String>, &mut Vec<PolicyCondition>) {
        match self {
            Policy::Usage(p) => (&mut p.name, &mut p.conditions),
            Policy::Rate(p) => (&mut p.name, &mut p.conditions),
        }
    }

    pub fn group_by(&self) -> &[PolicyGroupBy] {
        match self {
            Policy::Usage(p) => &p.group_by,
            Policy::Rate(p) => &p.group_by,
        }
    }

    /// How people know it: its name, else its id.
    pub fn label(&self) -> String {
        let (name, id) = match self {
            Policy::Usage(p) => (&p.name, &p.id),
            Policy::Rate(p) => (&p.name, &p.id),
        };
        name.clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.clone())
    }

    /// `usage` or `rate`.
    pub fn kind(&self) -> &'static str {
        match self {
            Policy::Usage(_) => "usage",
            Policy::Rate(_) => "rate",
        }
    }

    /// The usage-limit policy's budget, as admission holds it.
    pub fn budget(p: &UsageLimitPolicy) -> UsageLimits {
        UsageLimits {
            kind: p.kind,
            credit_limit: p.credit_limit,
            alert_threshold: p.alert_threshold,
            periodic_reset: p.periodic_reset,
            periodic_reset_days: p.periodic_reset_days,
            next_usage_reset_at: None,
        }
    }

    /// The rate-limit policy's rate limit.
    pub fn rate(p: &RateLimitPolicy) -> RateLimit {
        RateLimit {
            kind: p.kind,
            unit: p.unit,
            value: p.value,
        }
    }
}

/// A policy is written as its API object.
impl serde::Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Policy::Usage(u) => u.serialize(s),
            Policy::Rate(r) => r.serialize(s),
        }
    }
}

/// What a request is, as policies see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// The caller's API key id (none for the embedded CLI).
    pub api_key: Option<String>,
    pub workspace_id: String,
    /// The AI provider's slug (no `@`).
    pub provider: String,
    pub model: String,
    /// The saved config the request named: its id and slug.
    pub config: Option<(String, String)>,
    /// `x-portkey-metadata` over the API key's and the workspace's default metadata.
    pub metadata: BTreeMap<String, String>,
}

impl Subject {
    /// The request's value for `key`, if it has one.
    fn value(&self, key: &str) -> Option<&str> {
        match key {
            "api_key" => self.api_key.as_deref(),
            "workspace_id" => Some(&self.workspace_id),
            "provider" => Some(&self.provider),
            "model" => Some(&self.model),
            "config" => self.config.as_ref().map(|(_, slug)| slug.as_str()),
            other => other
                .strip_prefix("metadata.")
                .and_then(|k| self.metadata.get(k))
                .map(String::as_str),
        }
    }

    fn satisfies(&self, c: &PolicyCondition) -> bool {
        if c.value == "*" {
            return self.value(&c.key).is_some();
        }
        match c.key.as_str() {
            "model" => self.model.eq_ignore_ascii_case(&c.value),
            "config" => self
                .config
                .as_ref()
                .is_some_and(|(id, slug)| *id == c.value || *slug == c.value),
            key => self.value(key) == Some(c.value.as_str()),
        }
    }
}

/// Whether `policy` applies to `subject`: active, in its workspace, every condition met.
pub fn applies(policy: &Policy, subject: &Subject) -> bool {
    policy.status() == "active"
        && policy
            .workspace_id()
            .is_none_or(|w| w == subject.workspace_id)
        && policy.conditions().iter().all(|c| subject.satisfies(c))
}

/// The counter a request counts in: its values of the policy's `group_by` keys,
/// `key=value` joined by `&` (a request without a value counts under an empty one).
pub fn value_key(group_by: &[PolicyGroupBy], subject: &Subject) -> String {
    group_by
        .iter()
        .map(|g| {
            let v = subject.value(&g.key).unwrap_or("");
            let v = if g.key == "model" {
                v.to_ascii_lowercase()
            } else {
                v.to_owned()
            };
            format!("{}={}", g.key, escape(&v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn escape(v: &str) -> String {
    v.replace('%', "%25")
        .replace('&', "%26")
        .replace('=', "%3D")
}

/// The id of a value key's entity (stable, short, safe in a URL path).
pub fn entity_id(value_key: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::crypto::hex(&Sha256::digest(value_key.as_bytes())[..8])
}

/// The levels the policies that apply to `subject` add to its admission; `mask` hides
/// the values of a value key in what callers are told.
pub fn levels(policies: &[Policy], subject: &Subject, mask: impl Fn(&str) -> String) -> Vec<Level> {
    policies
        .iter()
        .filter(|p| applies(p, subject))
        .map(|p| {
            let key = value_key(p.group_by(), subject);
            let shown: Vec<String> = key
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) if !v.is_empty() => format!("{k}={}", mask(v)),
                    _ => kv.to_owned(),
                })
                .collect();
            let name = if shown.is_empty() {
                p.label()
            } else {
                format!("{} ({})", p.label(), shown.join(", "))
            };
            let mut level = levels_of(p, key);
            level.name = name;
            level
        })
        .collect()
}

/// Checks conditions and group-by keys; errors name the field.
pub fn validate_keys(
    conditions: &[PolicyCondition],
    group_by: &[PolicyGroupBy],
) -> Result<(), String> {
    if conditions.len() > 20 {
        return Err(format!(
            "`conditions` holds at most 20 items, got {}",
            conditions.len()
        ));
    }
    if group_by.len() > 5 {
        return Err(format!(
            "`group_by` holds at most 5 items, got {}",
            group_by.len()
        ));
    }
    for (i, c) in conditions.iter().enumerate() {
        check_key(&c.key, &format!("conditions[{i}].key"))?;
        if c.value.trim().is_empty() || c.value.len() > 255 {
            return Err(format!(
                "`conditions[{i}].value` must be 1 to 255 characters (`*` matches any request that has a `{}`)",
                c.key
            ));
        }
    }
    for (i, g) in group_by.iter().enumerate() {
        check_key(&g.key, &format!("group_by[{i}].key"))?;
        if group_by[..i].iter().any(|o| o.key == g.key) {
            return Err(format!("`group_by[{i}].key` `{}` is given twice", g.key));
        }
    }
    Ok(())
}

fn check_key(key: &str, field: &str) -> Result<(), String> {
    let ok = POLICY_KEYS.contains(&key)
        || key.strip_prefix("metadata.").is_some_and(|k| {
            !k.is_empty()
                && k.len() <= 128
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{field}` `{}` is not a key policies know; use {} or `metadata.<key>` (a key of `x-portkey-metadata`)",
            key.chars().take(64).collect::<String>(),
            POLICY_KEYS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        ))
    }
}

/// A rate policy's window: per minute, hour, day or week.
pub fn validate_rate(unit: RateUnit, value: i64) -> Result<(), String> {
    if unit == RateUnit::Rps {
        return Err(
            "`unit` must be `rpm`, `rph`, `rpd` or `rpw` for a rate-limit policy".to_owned(),
        );
    }
    if value < 1 {
        return Err(format!("`value` must be at least 1, got {value}"));
    }
    Ok(())
}

/// A usage policy's budget.
pub fn validate_budget(p: &UsageLimitPolicy) -> Result<(), String> {
    Policy::budget(p).validate_policy("policy")?;
    if p.kind == BudgetType::Requests && p.credit_limit.fract() != 0.0 {
        return Err(
            "`policy.credit_limit` of a `requests` policy is a whole number of requests".to_owned(),
        );
    }
    Ok(())
}

/// The longest metadata key or value, in characters (as Portkey's).
const MAX_METADATA_TEXT: usize = 128;
/// The most keys `x-portkey-metadata` may hold.
const MAX_METADATA_KEYS: usize = 64;

/// `x-portkey-metadata` as a map of strings (numbers and booleans as their text).
pub fn parse_metadata(header: Option<&str>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let Some(text) = header.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(out);
    };
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("`x-portkey-metadata` must be a JSON object of strings: {e}"))?;
    let object = value.as_object().ok_or(
        "`x-portkey-metadata` must be a JSON object of strings, such as {\"user_id\": \"alice\"}",
    )?;
    if object.len() > MAX_METADATA_KEYS {
        return Err(format!(
            "`x-portkey-metadata` holds at most {MAX_METADATA_KEYS} keys, got {}",
            object.len()
        ));
    }
    for (k, v) in object {
        if k.chars().count() > MAX_METADATA_TEXT {
            return Err(format!(
                "`x-portkey-metadata` keys are at most {MAX_METADATA_TEXT} characters; `{}…` is longer",
                k.chars().take(32).collect::<String>()
            ));
        }
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            _ => {
                return Err(format!(
                    "`x-portkey-metadata` key `{}` must be a string, not an object or array",
                    k.chars().take(64).collect::<String>()
                ))
            }
        };
        if v.chars().count() > MAX_METADATA_TEXT {
            return Err(format!(
                "`x-portkey-metadata` values are at most {MAX_METADATA_TEXT} characters; the value of `{}` is longer",
                k.chars().take(64).collect::<String>()
            ));
        }
        out.insert(k.clone(), v);
    }
    Ok(out)
}

/// The metadata policies see: the workspace's default metadata over the API key's over
/// the request's (Portkey's precedence). What an admin set cannot be changed by a caller,
/// so a budget per team or tier cannot be escaped by sending another team.
pub fn layered(
    request: &BTreeMap<String, String>,
    key_defaults: Option<&BTreeMap<String, String>>,
    workspace_defaults: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut out = request.clone();
    out.extend(key_defaults.cloned().unwrap_or_default());
    out.extend(workspace_defaults.cloned().unwrap_or_default());
    out
}

/// A policy's value keys with their usage now, busiest first (highest share of the
/// limit); each item is named by its value key.
pub fn usage_items(
    read: &mut dyn crate::store::StoreRead,
    policy: &Policy,
    now: chrono::DateTime<chrono::Utc>,
) -> crate::domain::DomainResult<Vec<crate::api::usage::UsageItem>> {
    let prefix = format!("policy/{}/", policy.id());
    let value_keys: Vec<String> = match policy {
        Policy::Usage(_) => read
            .counters(std::slice::from_ref(&prefix))?
            .into_iter()
            .filter(|c| c.limit == crate::store::BUDGET)
            .map(|c| c.scope)
            .collect(),
        Policy::Rate(r) => {
            let rate = Policy::rate(r);
            let period = crate::admission::rate::period_ms(rate.unit);
            let current = crate::admission::rate::slot_of(
                now.timestamp_millis(),
                crate::admission::rate::slot_ms(period),
            );
            read.rate_usages(
                &prefix,
                &crate::admission::rate_key(&rate),
                crate::admission::rate::first_counted(current),
            )?
            .into_iter()
            .map(|(scope, _)| scope)
            .collect()
        }
    };
    let levels: Vec<Level> = value_keys
        .iter()
        .filter_map(|scope| scope.strip_prefix(&prefix))
        .map(|value_key| {
            let mut level = levels_of(policy, value_key.to_owned());
            level.name = value_key.to_owned();
            level
        })
        .collect();
    let mut items = crate::domain::usage_report::of_levels(read, &levels, now)?;
    items.sort_by(|a, b| {
        b.percent
            .total_cmp(&a.percent)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(items)
}

/// A policy's value keys as `/entities` lists them, busiest first.
pub fn entities(
    read: &mut dyn crate::store::StoreRead,
    policy: &Policy,
    now: chrono::DateTime<chrono::Utc>,
) -> crate::domain::DomainResult<Vec<crate::api::policies::PolicyEntity>> {
    Ok(usage_items(read, policy, now)?
        .into_iter()
        .map(|item| crate::api::policies::PolicyEntity {
            id: entity_id(&item.name),
            value_key: item.name,
            current_usage: item.used,
            status: if item.status == "ok" {
                "active"
            } else {
                "exhausted"
            }
            .to_owned(),
            window_started_at: item.window_started_at,
            next_usage_reset_at: item.next_reset_at,
            object: "policy-entity".to_owned(),
        })
        .collect())
}

/// The level of one value key of `policy`.
pub fn levels_of(policy: &Policy, value_key: String) -> Level {
    let scope = UsageScope::Policy {
        policy_id: policy.id().to_owned(),
        value_key,
    };
    let (budgets, rates) = match policy {
        Policy::Usage(u) => (vec![Policy::budget(u)], Vec::new()),
        Policy::Rate(r) => (Vec::new(), vec![Policy::rate(r)]),
    };
    Level {
        scope,
        kind: LevelKind::Policy,
        name: policy.label(),
        budgets,
        rates,
        concurrency: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::limits::RateLimitType;

    fn rate(conditions: &[(&str, &str)], group_by: &[&str]) -> Policy {
        Policy::Rate(RateLimitPolicy {
            id: "p1".into(),
            name: Some("per-tenant".into()),
            conditions: conditions
                .iter()
                .map(|(k, v)| PolicyCondition {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            group_by: group_by
                .iter()
                .map(|k| PolicyGroupBy { key: (*k).into() })
                .collect(),
            kind: RateLimitType::Requests,
            unit: RateUnit::Rpm,
            value: 100,
            status: "active".into(),
            workspace_id: None,
            organisation_id: None,
            created_at: None,
            last_updated_at: None,
            object: "rate-limits-policy".into(),
        })
    }

    fn subject() -> Subject {
        Subject {
            api_key: Some("key-1".into()),
            workspace_id: "ws-1".into(),
            provider: "openai-prod".into(),
            model: "gpt-5-pro".into(),
            config: None,
            metadata: [("tenant_id".to_owned(), "acme&co".to_owned())].into(),
        }
    }

    #[test]
    fn conditions_all_match_and_group_values_make_the_key() {
        let s = subject();
        let p = rate(
            &[("model", "GPT-5-PRO"), ("metadata.tenant_id", "*")],
            &["metadata.tenant_id", "workspace_id"],
        );
        assert!(applies(&p, &s));
        let levels = levels(std::slice::from_ref(&p), &s, |v| format!("<{v}>"));
        assert_eq!(levels.len(), 1);
        assert_eq!(
            levels[0].scope,
            UsageScope::Policy {
                policy_id: "p1".into(),
                value_key: "metadata.tenant_id=acme%26co&workspace_id=ws-1".into()
            }
        );
        assert_eq!(
            levels[0].name,
            "per-tenant (metadata.tenant_id=<acme%26co>, workspace_id=<ws-1>)"
        );
        assert!(!applies(&rate(&[("provider", "other")], &[]), &s));
        assert!(!applies(&rate(&[("config", "*")], &[]), &s));
        let mut archived = rate(&[], &[]);
        if let Policy::Rate(r) = &mut archived {
            r.status = "archived".into();
        }
        assert!(!applies(&archived, &s));
        // A request without the group's value counts under an empty one.
        let anon = Subject {
            metadata: BTreeMap::new(),
            ..s
        };
        assert_eq!(
            value_key(
                &[PolicyGroupBy {
                    key: "metadata.user".into()
                }],
                &anon
            ),
            "metadata.user="
        );
    }

    #[test]
    fn metadata_layers_workspace_over_key_over_header() {
        let ws: BTreeMap<String, String> = [
            ("team".to_owned(), "a".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ]
        .into();
        let key: BTreeMap<String, String> = [("team".to_owned(), "b".to_owned())].into();
        let request = parse_metadata(Some(r#"{"user_id": "u1", "n": 3}"#)).unwrap();
        let m = layered(&request, Some(&key), Some(&ws));
        assert_eq!(m["team"], "a", "the workspace's value wins");
        assert_eq!(m["env"], "prod");
        assert_eq!(m["user_id"], "u1");
        assert_eq!(m["n"], "3");
        assert!(parse_metadata(Some("[1]"))
            .unwrap_err()
            .contains("JSON object"));
        assert!(parse_metadata(Some(r#"{"a": {"b": 1}}"#))
            .unwrap_err()
            .contains("`a`"));
    }

    #[test]
    fn keys_are_checked() {
        let c = |k: &str| PolicyCondition {
            key: k.into(),
            value: "x".into(),
        };
        assert!(validate_keys(&[c("model"), c("metadata.user_id")], &[]).is_ok());
        assert!(validate_keys(&[c("prompt")], &[])
            .unwrap_err()
            .contains("conditions[0].key"));
        assert!(validate_keys(
            &[],
            &[PolicyGroupBy {
                key: "metadata.".into()
            }]
        )
        .is_err());
        let twice = [
            PolicyGroupBy {
                key: "model".into(),
            },
            PolicyGroupBy {
                key: "model".into(),
            },
        ];
        assert!(validate_keys(&[], &twice).unwrap_err().contains("twice"));
    }
}
