//! Budget alerts (`GET /alerts`, an extension): the first crossing of a budget's alert
//! threshold, and of its limit, in each window. Webhooks receive each as an
//! [`AlertEvent`]; the list shows it with its deliveries ([`Alert`]).

use serde::{Deserialize, Serialize};

/// What an alert says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Usage reached the budget's `alert_threshold`.
    Threshold,
    /// The budget is spent: usage reached the limit, or a request was refused because
    /// it would have crossed it.
    Limit,
}

impl AlertKind {
    pub const ALL: [AlertKind; 2] = [AlertKind::Threshold, AlertKind::Limit];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Threshold => "threshold",
            AlertKind::Limit => "limit",
        }
    }
}

impl std::str::FromStr for AlertKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not an alert kind; use `threshold` or `limit`"))
    }
}

/// An alert as a webhook receives it: the budget, what it had used, and a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlertEvent {
    /// Unique and stable: receivers use it to drop a repeated delivery (it is also sent
    /// as the header `x-catalog-alert-id`).
    pub id: i64,
    #[serde(default = "alert_object")]
    pub object: String,
    pub kind: AlertKind,
    /// The level of the budget: `provider`, `workspace`, `workspace_access`,
    /// `integration`, `api_key` or `virtual_key`.
    pub level: String,
    /// Who it is, for people: `@openai-prod`, `eng`, `azure-prod`.
    pub name: String,
    /// The counter's scope (`provider/<id>`, `workspace/<id>`, ...).
    pub scope: String,
    /// The budget's counter at that scope (`budget`).
    pub limit_key: String,
    /// `cost` (USD) or `tokens`.
    pub unit: String,
    /// What the window had used when the alert was raised.
    pub used: f64,
    pub credit_limit: f64,
    #[serde(default)]
    pub alert_threshold: Option<f64>,
    /// The window the alert belongs to: one alert of each kind per window.
    pub window_started_at: String,
    pub created_at: String,
    /// The alert in words: "AI provider `@openai-prod` used $0.81 of its $1 budget
    /// (alert threshold $0.8)".
    #[serde(default)]
    pub message: String,
}

fn alert_object() -> String {
    "alert".to_owned()
}

/// An alert with how its deliveries stand, as `GET /alerts` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Alert {
    #[serde(flatten)]
    pub event: AlertEvent,
    /// Every webhook it was queued for acknowledged it (false while none was configured).
    #[serde(default)]
    pub delivered: bool,
    /// When the last of those webhooks acknowledged it.
    #[serde(default)]
    pub delivered_at: Option<String>,
    /// Delivery attempts, over every webhook.
    #[serde(default)]
    pub attempts: i64,
    #[serde(default)]
    pub deliveries: Vec<AlertDelivery>,
}

/// An alert's delivery to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlertDelivery {
    /// The webhook's id: a hash of its URL, which is never stored.
    pub webhook: String,
    /// `scheme://host[:port]` of the webhook (never its path, query or credentials).
    pub origin: String,
    #[serde(default)]
    pub delivered_at: Option<String>,
    #[serde(default)]
    pub attempts: i64,
    /// When the next attempt is due, while it is not delivered.
    #[serde(default)]
    pub next_attempt_at: Option<String>,
    /// Why the last attempt failed (`HTTP 503`, `connection failed`, `timed out`).
    #[serde(default)]
    pub last_error: Option<String>,
}
