//! Value types parsed at the command line (bad input fails at parse time, exit 2).

use std::str::FromStr;

use crate::api::limits::BudgetAmount;

/// An integration or provider slug: `^[a-zA-Z0-9_-]+$`, at most 255 characters.
///
/// The field is private: every `Slug` comes through [`Slug::new`], which `FromStr` (clap)
/// and `Deserialize` share, so no `Slug` can hold anything else.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub fn new(s: impl Into<String>) -> Result<Slug, String> {
        let s = s.into();
        if s.is_empty() || s.len() > 255 {
            return Err("a slug is 1 to 255 characters".to_owned());
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "`{bad}` is not allowed in a slug; use letters, digits, `-` and `_` (e.g. azure-prod)"
            ));
        }
        Ok(Slug(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for Slug {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Slug::new(s)
    }
}

impl TryFrom<String> for Slug {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Slug::new(s)
    }
}

impl From<Slug> for String {
    fn from(slug: Slug) -> String {
        slug.0
    }
}

impl std::ops::Deref for Slug {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Slug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl FromStr for KeyValue {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok(KeyValue {
                key: k.trim().to_owned(),
                value: v.to_owned(),
            }),
            _ => Err(format!("expected KEY=VALUE, got `{s}`")),
        }
    }
}

/// An Azure deployment: `name=NAME,model=MODEL,api-version=VERSION[,alias=ALIAS][,default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureDeployment {
    pub name: String,
    pub model: String,
    pub api_version: String,
    pub alias: Option<String>,
    pub is_default: bool,
}

impl FromStr for AzureDeployment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (mut name, mut model, mut version, mut alias, mut is_default) =
            (None, None, None, None, false);
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("name", v)) => name = Some(v.to_owned()),
                Some(("model", v)) => model = Some(v.to_owned()),
                Some(("api-version", v)) => version = Some(v.to_owned()),
                Some(("alias", v)) => alias = Some(v.to_owned()),
                None if part == "default" => is_default = true,
                _ => {
                    return Err(format!(
                    "unknown part `{part}`; expected name=,model=,api-version=[,alias=][,default]"
                ))
                }
            }
        }
        let need = |v: Option<String>, what: &str| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| format!("the deployment needs `{what}=` (e.g. name=gpt4o,model=gpt-4o,api-version=2024-10-21)"))
        };
        Ok(AzureDeployment {
            name: need(name, "name")?,
            model: need(model, "model")?,
            api_version: need(version, "api-version")?,
            alias,
            is_default,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked_at_parse_time() {
        assert!("azure-prod_1".parse::<Slug>().is_ok());
        assert!("Azure Prod".parse::<Slug>().unwrap_err().contains("` `"));
        assert!("".parse::<Slug>().is_err());
        assert!(Slug::new("a".repeat(256)).is_err());
    }

    #[test]
    fn slugs_deserialize_through_the_same_check() {
        let ok: Slug = serde_json::from_str(r#""openai-prod""#).unwrap();
        assert_eq!(ok.as_str(), "openai-prod");
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#""openai-prod""#);
        let err = serde_json::from_str::<Slug>(r#""bad slug""#).unwrap_err();
        assert!(err.to_string().contains("not allowed in a slug"), "{err}");
    }

    #[test]
    fn key_values_split_on_the_first_equals() {
        let kv: KeyValue = "a=b=c".parse().unwrap();
        assert_eq!((kv.key.as_str(), kv.value.as_str()), ("a", "b=c"));
        assert!("novalue".parse::<KeyValue>().is_err());
    }

    #[test]
    fn concurrency_is_a_whole_number_and_zero_or_none_removes_it() {
        assert_eq!(
            "8".parse::<ConcurrencySpec>().unwrap().0.map(|l| l.get()),
            Some(8)
        );
        for removes in ["0", "none", "NONE", "00"] {
            assert_eq!(
                removes.parse::<ConcurrencySpec>().unwrap().0,
                None,
                "{removes}"
            );
        }
        for bad in ["-1", "1.5", "x", "", "8/min"] {
            let err = bad.parse::<ConcurrencySpec>().unwrap_err();
            assert!(err.contains("requests in flight"), "{bad}: {err}");
        }
        assert!("2000000"
            .parse::<ConcurrencySpec>()
            .unwrap_err()
            .contains("more than 1000000"));
    }

    #[test]
    fn azure_deployments_parse() {
        let d: AzureDeployment = "name=gpt4o,model=gpt-4o,api-version=2024-10-21,default"
            .parse()
            .unwrap();
        assert!(d.is_default && d.alias.is_none());
        assert!("name=x,model=y".parse::<AzureDeployment>().is_err());
    }
}

/// A rate limit as people write it: `100/min`, `100rpm`, `5000tokens/hour`, `10 requests/s`;
/// `0` or `none` is no rate limit (`None`).
#[derive(Debug, Clone, PartialEq)]
pub struct RateSpec(pub Option<crate::api::limits::RateLimit>);

const RATE_FORMS: &str =
    "write e.g. 100/min, 100rpm or 5000tokens/hour (0 or none removes the limit)";

impl FromStr for RateSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use crate::api::limits::{RateLimit, RateLimitType, RateUnit};
        let text = s.trim().to_ascii_lowercase().replace(' ', "");
        if text == "none" || text == "0" {
            return Ok(RateSpec(None));
        }
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(format!("`{s}` does not start with a number; {RATE_FORMS}"));
        }
        let rest = &text[digits.len()..];
        if rest.starts_with('.') || rest.starts_with(',') {
            return Err(format!(
                "`{s}` is not a whole number of requests or tokens; {RATE_FORMS}"
            ));
        }
        let value: i64 = digits
            .parse()
            .ok()
            .filter(|v| *v <= 1_000_000_000_000)
            .ok_or_else(|| {
                format!("`{s}` is too large: a rate is at most 1000000000000 per window")
            })?;
        let (kind, window) = if let Some(w) = rest
            .strip_prefix("tokens")
            .or_else(|| rest.strip_prefix("tok"))
        {
            (RateLimitType::Tokens, w)
        } else if let Some(w) = rest
            .strip_prefix("requests")
            .or_else(|| rest.strip_prefix("req"))
        {
            (RateLimitType::Requests, w)
        } else {
            (RateLimitType::Requests, rest)
        };
        let unit = match window.trim_start_matches('/') {
            "rpm" | "m" | "min" | "minute" => RateUnit::Rpm,
            "rph" | "h" | "hr" | "hour" => RateUnit::Rph,
            "rpd" | "d" | "day" => RateUnit::Rpd,
            "rpw" | "w" | "wk" | "week" => RateUnit::Rpw,
            other => {
                return Err(format!(
                    "`{other}` is not a rate-limit window; use per minute, hour, day or week (e.g. 100/min, 100rpm, 5000tokens/hour)"
                ))
            }
        };
        if value == 0 {
            return Ok(RateSpec(None));
        }
        Ok(RateSpec(Some(RateLimit { kind, unit, value })))
    }
}

/// A concurrency limit as people type it: a whole number of requests in flight (`8`);
/// `0` or `none` is no limit (`None`), as for rate limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConcurrencySpec(pub Option<crate::api::limits::ConcurrencyLimit>);

impl FromStr for ConcurrencySpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use crate::api::limits::ConcurrencyLimit;
        let text = s.trim().to_ascii_lowercase();
        if text == "none" || (!text.is_empty() && text.bytes().all(|b| b == b'0')) {
            return Ok(ConcurrencySpec(None));
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{s}` is not a whole number of requests in flight; write e.g. 8 (0 or none removes the limit)"
            ));
        }
        text.parse::<ConcurrencyLimit>()
            .map(|limit| ConcurrencySpec(Some(limit)))
            .map_err(|_| {
                format!(
                    "`{s}` is more than {} requests in flight; check the number",
                    ConcurrencyLimit::MAX
                )
            })
    }
}

/// A budget or alert amount as people type it: a finite positive number, at most 1e12
/// (USD or tokens). The field is private: [`Amount::new`] is the one check, shared by
/// `FromStr`; it is a [`BudgetAmount`] that is also above zero and sane.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Amount(BudgetAmount);

/// The largest budget or alert accepted: anything above is a typo.
pub const MAX_AMOUNT: f64 = 1e12;

impl Amount {
    pub fn new(value: f64) -> Result<Amount, String> {
        Amount::checked(value, &value.to_string())
    }

    pub fn get(self) -> f64 {
        self.0.get()
    }

    /// The one check; `shown` is the amount as the person wrote it.
    fn checked(value: f64, shown: &str) -> Result<Amount, String> {
        if value <= 0.0 {
            return Err(format!(
                "must be a positive number (e.g. 1000), got `{shown}`"
            ));
        }
        if value > MAX_AMOUNT {
            return Err(format!(
                "`{shown}` is more than {MAX_AMOUNT:e}; check the amount"
            ));
        }
        BudgetAmount::new(value).map(Amount)
    }
}

impl From<Amount> for BudgetAmount {
    fn from(amount: Amount) -> BudgetAmount {
        amount.0
    }
}

impl FromStr for Amount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::checked(parse_number(s)?, s)
    }
}

/// An `http://` or `https://` URL with a host (a base URL, a custom host).
pub fn parse_http_url(s: &str) -> Result<String, String> {
    let hint = "write it with its scheme, e.g. http://10.0.0.5:8000 or https://api.portkey.ai/v1";
    let url =
        reqwest::Url::parse(s.trim()).map_err(|e| format!("invalid URL `{s}` ({e}); {hint}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "invalid URL `{s}`: the scheme must be http or https, not `{}`; {hint}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("invalid URL `{s}`: it has no host; {hint}"));
    }
    Ok(s.trim().to_owned())
}

/// An expiry: an ISO-8601 timestamp, or a date (`2027-01-01`, midnight UTC); never in
/// the past. Returned as an RFC 3339 timestamp in UTC.
pub fn parse_expiry(s: &str) -> Result<String, String> {
    let at = parse_instant(s)?;
    let past = chrono::DateTime::parse_from_rfc3339(&at).is_ok_and(|t| t <= chrono::Utc::now());
    if past {
        return Err(format!(
            "`{s}` is in the past; an expiry must be in the future"
        ));
    }
    Ok(at)
}

/// A date (midnight UTC) or an RFC 3339 timestamp, as RFC 3339 in UTC to the second
/// (`2027-01-01T00:00:00Z`): one spelling per instant.
pub fn parse_instant(s: &str) -> Result<String, String> {
    use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
    let text = s.trim();
    let at: DateTime<Utc> = match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| {
                format!(
                    "`{s}` is not a date or timestamp; write 2027-01-01 or 2027-01-01T00:00:00Z"
                )
            })?
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc(),
    };
    Ok(at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// A price multiplier: above 0, at most 100 (0.8 = a 20% discount).
pub fn parse_multiplier(s: &str) -> Result<f64, String> {
    let value = parse_number(s)?;
    if value <= 0.0 || value > 100.0 {
        return Err(format!(
            "must be above 0 and at most 100 (0.8 = a 20% discount), got `{s}`"
        ));
    }
    Ok(value)
}

/// A display name, checked as the server checks it (`api::text`): not blank, bounded, no
/// control or bidirectional formatting characters.
pub fn parse_name(s: &str) -> Result<String, String> {
    match crate::api::text::name_problem(s) {
        Some(problem) => Err(format!("a name {problem}")),
        None => Ok(s.to_owned()),
    }
}

/// A description or note, checked as the server checks it.
pub fn parse_description(s: &str) -> Result<String, String> {
    match crate::api::text::description_problem(s) {
        Some(problem) => Err(format!("a description {problem}")),
        None => Ok(s.to_owned()),
    }
}

/// The largest price accepted, in USD per 1M tokens: anything above is a typo.
pub const MAX_PRICE: f64 = 1e6;

/// A price in USD per 1M tokens: 0 or more, at most [`MAX_PRICE`].
pub fn parse_price(s: &str) -> Result<f64, String> {
    let value = parse_number(s)?;
    if value < 0.0 {
        return Err(format!("must be 0 or more (USD per 1M tokens), got `{s}`"));
    }
    if value > MAX_PRICE {
        return Err(format!(
            "`{s}` is more than {MAX_PRICE} USD per 1M tokens; prices are per 1M tokens, check the amount"
        ));
    }
    Ok(value)
}

/// A plain decimal number: `NaN`, infinities and numbers too large for a double are refused.
pub fn parse_number(s: &str) -> Result<f64, String> {
    let value: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number; write e.g. 1000 or 2.5"))?;
    if !value.is_finite() {
        return Err(format!(
            "`{s}` is not a finite number; write e.g. 1000 or 2.5"
        ));
    }
    Ok(value)
}

/// When a budget resets: `weekly`, `monthly`, `none`, or every N days as `30d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetSpec {
    Weekly,
    Monthly,
    None,
    Days(i64),
}

impl FromStr for ResetSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "weekly" => Ok(ResetSpec::Weekly),
            "monthly" => Ok(ResetSpec::Monthly),
            "none" | "never" => Ok(ResetSpec::None),
            other => match other.strip_suffix('d').map(str::parse::<i64>) {
                Some(Ok(n)) if (1..=365).contains(&n) => Ok(ResetSpec::Days(n)),
                _ => Err(format!(
                    "`{s}` is not a reset; use weekly, monthly, none or a number of days from 1d to 365d"
                )),
            },
        }
    }
}

impl std::fmt::Display for ResetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResetSpec::Weekly => f.write_str("weekly"),
            ResetSpec::Monthly => f.write_str("monthly"),
            ResetSpec::None => f.write_str("none"),
            ResetSpec::Days(n) => write!(f, "{n}d"),
        }
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;
    use crate::api::limits::{RateLimitType, RateUnit};

    #[test]
    fn rates_parse_in_every_spelling() {
        for (text, kind, unit, value) in [
            ("100/min", RateLimitType::Requests, RateUnit::Rpm, 100),
            ("100rpm", RateLimitType::Requests, RateUnit::Rpm, 100),
            (
                "5000tokens/hour",
                RateLimitType::Tokens,
                RateUnit::Rph,
                5000,
            ),
            (
                "10 requests/day",
                RateLimitType::Requests,
                RateUnit::Rpd,
                10,
            ),
        ] {
            let r = text.parse::<RateSpec>().unwrap().0.unwrap();
            assert_eq!((r.kind, r.unit, r.value), (kind, unit, value), "{text}");
        }
        let err = "100/fortnight".parse::<RateSpec>().unwrap_err();
        assert!(err.contains("fortnight"), "{err}");
        assert!("fast".parse::<RateSpec>().is_err());
        for off in ["0", "none", "0/min"] {
            assert_eq!(off.parse::<RateSpec>().unwrap().0, None, "{off}");
        }
        assert!("1.5/min"
            .parse::<RateSpec>()
            .unwrap_err()
            .contains("whole number"));
        assert!("99999999999999999999/min"
            .parse::<RateSpec>()
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn urls_need_an_http_scheme_and_a_host() {
        assert!(parse_http_url("http://127.0.0.1:8787").is_ok());
        for bad in ["notaurl", "ftp://x", "10.0.0.5:8000", "localhost:8787"] {
            let err = parse_http_url(bad).unwrap_err();
            assert!(err.starts_with("invalid URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn expiries_are_dates_or_timestamps_in_the_future() {
        assert_eq!(parse_expiry("2999-01-01").unwrap(), "2999-01-01T00:00:00Z");
        assert_eq!(
            parse_expiry("2999-01-01T12:00:00+02:00").unwrap(),
            "2999-01-01T10:00:00Z"
        );
        assert!(parse_expiry("2001-01-01")
            .unwrap_err()
            .contains("in the past"));
        assert!(parse_expiry("tomorrow").unwrap_err().contains("2027-01-01"));
    }

    #[test]
    fn names_refuse_control_characters() {
        assert_eq!(parse_name("Équipe données").unwrap(), "Équipe données");
        assert!(parse_name("a\tb").unwrap_err().contains("control"));
        assert!(parse_name("abc\u{202E}gpj").is_err());
        assert!(parse_description("line\nbreak").is_err());
        assert!(parse_name("a\u{1b}[31m").is_err());
        assert!(parse_name("  ").is_err());
    }

    #[test]
    fn amounts_are_finite_positive_and_sane() {
        assert_eq!("1200".parse::<Amount>().unwrap().get(), 1200.0);
        assert!("-5".parse::<Amount>().unwrap_err().contains("positive"));
        for bad in ["NaN", "inf", "1e309", "abc"] {
            assert!(bad.parse::<Amount>().is_err(), "{bad}");
        }
        assert!("2e12".parse::<Amount>().unwrap_err().contains("more than"));
    }

    #[test]
    fn resets_parse() {
        assert_eq!("30d".parse::<ResetSpec>().unwrap(), ResetSpec::Days(30));
        assert_eq!("monthly".parse::<ResetSpec>().unwrap(), ResetSpec::Monthly);
        assert!("400d".parse::<ResetSpec>().is_err());
        assert!("yearly".parse::<ResetSpec>().is_err());
    }
}

/// `@provider/model`: split on the first `/` only (model ids may contain `/` and `@`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    pub provider: String,
    pub model: String,
}

impl FromStr for ModelRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix('@').ok_or_else(|| {
            format!(
                "`{s}` is not a model reference; write @provider/model, e.g. @openai-prod/gpt-4o"
            )
        })?;
        match rest.split_once('/') {
            Some((p, m)) if !p.is_empty() && !m.is_empty() => {
                p.parse::<Slug>()?;
                Ok(ModelRef {
                    provider: p.to_owned(),
                    model: m.to_owned(),
                })
            }
            _ => Err(format!(
                "`{s}` needs both parts: @provider/model, e.g. @openai-prod/gpt-4o"
            )),
        }
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "@{}/{}", self.provider, self.model)
    }
}

/// `@slug` (or a bare slug): an integration, or a workspace provider resolved to its integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtSlug(Slug);

impl AtSlug {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for AtSlug {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix('@').unwrap_or(s).parse().map(AtSlug)
    }
}

impl std::ops::Deref for AtSlug {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(test)]
mod model_ref_tests {
    use super::*;

    #[test]
    fn model_refs_split_on_the_first_slash() {
        let r: ModelRef = "@workers-ai/@cf/meta/llama-3.2-3b-instruct"
            .parse()
            .unwrap();
        assert_eq!(
            (r.provider.as_str(), r.model.as_str()),
            ("workers-ai", "@cf/meta/llama-3.2-3b-instruct")
        );
        assert!("openai/gpt-4o".parse::<ModelRef>().is_err());
        assert!("@openai".parse::<ModelRef>().is_err());
        assert_eq!(&*"@openai-prod".parse::<AtSlug>().unwrap(), "openai-prod");
    }
}
