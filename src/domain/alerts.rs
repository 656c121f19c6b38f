//! Budget alerts in words, for webhooks, the server's log and `catalog alerts list`.

use crate::admission::LevelKind;
use crate::api::alerts::{AlertEvent, AlertKind};

/// An amount in an alert's unit, for people: `$0.81`, `$1`, `1500 tokens`.
pub fn amount(unit: &str, value: f64) -> String {
    if unit == "tokens" || unit == "requests" {
        return format!("{value} {unit}");
    }
    let digits = format!("{value:.6}");
    let digits = digits.trim_end_matches('0').trim_end_matches('.');
    format!("${digits}")
}

/// Who the budget belongs to: "AI provider `@openai-prod`", "Workspace `eng`".
fn who(alert: &AlertEvent) -> String {
    let name = &alert.name;
    match LevelKind::parse(&alert.level) {
        Some(LevelKind::Integration) => format!("Integration `{name}` (across every workspace)"),
        Some(kind) => {
            let label = kind.label();
            let mut chars = label.chars();
            let first = chars.next().map(|c| c.to_uppercase().to_string());
            format!("{}{} `{name}`", first.unwrap_or_default(), chars.as_str())
        }
        None => format!("{} `{name}`", alert.level.replace('_', " ")),
    }
}

/// The alert in one sentence.
pub fn message(alert: &AlertEvent) -> String {
    let unit = alert.unit.as_str();
    let (used, limit) = (amount(unit, alert.used), amount(unit, alert.credit_limit));
    match alert.kind {
        AlertKind::Threshold => {
            let threshold = alert
                .alert_threshold
                .map(|t| format!(" (alert threshold {})", amount(unit, t)))
                .unwrap_or_default();
            format!(
                "{} used {used} of its {limit} budget{threshold}",
                who(alert)
            )
        }
        // Raised when usage reached the limit, or when a request was refused because it
        // might have crossed it.
        AlertKind::Limit if alert.used >= alert.credit_limit => format!(
            "{} reached its {limit} budget ({used} used): requests are refused until the window resets or the budget is raised",
            who(alert)
        ),
        AlertKind::Limit => format!(
            "{} has too little of its {limit} budget left for a request ({used} used): requests that might cross it are refused until the window resets or the budget is raised",
            who(alert)
        ),
    }
}

/// The event with its message filled in.
pub fn described(mut alert: AlertEvent) -> AlertEvent {
    alert.message = message(&alert);
    alert
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(kind: AlertKind, level: &str, unit: &str, used: f64) -> AlertEvent {
        AlertEvent {
            id: 1,
            object: "alert".into(),
            kind,
            level: level.into(),
            name: "@openai-prod".into(),
            scope: "provider/p1".into(),
            limit_key: "budget".into(),
            unit: unit.into(),
            used,
            credit_limit: 1.0,
            alert_threshold: Some(0.8),
            window_started_at: "2026-05-01T00:00:00.000Z".into(),
            created_at: "2026-05-02T12:31:48.000Z".into(),
            message: String::new(),
        }
    }

    #[test]
    fn messages_name_the_budget_and_its_amounts() {
        assert_eq!(
            message(&alert(AlertKind::Threshold, "provider", "cost", 0.81)),
            "AI provider `@openai-prod` used $0.81 of its $1 budget (alert threshold $0.8)"
        );
        let limit = message(&alert(AlertKind::Limit, "workspace", "cost", 1.0));
        assert!(
            limit.starts_with("Workspace `@openai-prod` reached its $1 budget ($1 used)"),
            "{limit}"
        );
        let near = message(&alert(AlertKind::Limit, "provider", "cost", 0.99));
        assert!(
            near.starts_with(
                "AI provider `@openai-prod` has too little of its $1 budget left for a request ($0.99 used)"
            ),
            "{near}"
        );
        let tokens = alert(AlertKind::Threshold, "api_key", "tokens", 850.0);
        assert!(
            message(&tokens).starts_with("API key `@openai-prod` used 850 tokens of its 1 tokens")
        );
        let across = alert(AlertKind::Threshold, "integration", "cost", 0.9);
        assert!(message(&across)
            .starts_with("Integration `@openai-prod` (across every workspace) used"));
    }
}
