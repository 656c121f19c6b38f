//! `--dry-run`: show the requests a command would make (secrets masked) and write nothing.

use serde::Serialize;
use serde_json::Value;

use super::Ctx;
use crate::crypto::mask;
use crate::services::{self, Service};

#[derive(Debug, Clone, Serialize)]
pub struct PlannedRequest {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
}

impl PlannedRequest {
    /// A request; any `key` and any setting the service registry marks secret is masked.
    pub fn new(
        method: &'static str,
        path: impl Into<String>,
        body: Option<Value>,
    ) -> PlannedRequest {
        PlannedRequest {
            method,
            path: path.into(),
            body: body.map(|b| masked(b, None, &[])),
        }
    }

    /// A request that writes an integration of `service` (`None`: a service the registry
    /// does not know): its settings are masked as that service's, and so are `fields`
    /// (values the user gave from the environment or files).
    pub fn integration(
        method: &'static str,
        path: impl Into<String>,
        body: Value,
        service: Option<&Service>,
        fields: &[String],
    ) -> PlannedRequest {
        PlannedRequest {
            method,
            path: path.into(),
            body: Some(masked(body, service, fields)),
        }
    }
}

/// Masks the values of secret fields anywhere in a request body: the key, the settings
/// the service registry marks secret, and `extra`.
fn masked(value: Value, service: Option<&Service>, extra: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if k == "key" || extra.contains(&k) {
                        Value::String(mask(v.as_str().unwrap_or("")))
                    } else if let Some(m) =
                        services::classify(service, &k).and_then(|f| f.kind.masked(&v))
                    {
                        m
                    } else {
                        masked(v, service, extra)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| masked(v, service, extra))
                .collect(),
        ),
        other => other,
    }
}

/// Prints the planned requests as the command's output.
pub fn show(ctx: &Ctx, requests: &[PlannedRequest]) -> anyhow::Result<()> {
    let printer = ctx.printer();
    if printer.format == crate::printer::OutputFormat::Table {
        let mut text = String::new();
        for r in requests {
            text.push_str(&format!("{} {}\n", r.method, r.path));
            if let Some(body) = &r.body {
                text.push_str(&serde_json::to_string_pretty(body)?);
                text.push('\n');
            }
        }
        printer.raw(text.trim_end());
    } else {
        printer.data(requests)?;
    }
    printer.status("dry run: nothing was written");
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn secrets_are_masked_at_any_depth() {
        let body = super::masked(
            json!({"key": "sk-abcdefghijklmnop", "configurations": {"aws_secret_access_key": "abcdefghijklmnopqrst", "custom_headers": {"authorization": "Bearer abcdefghijklmn"}, "vertex_service_account_json": {"private_key": "PRIVATEKEY-0123456789"}}, "name": "x", "configurations2": {"openai_project": "proj-SECRETVALUE1234"}}),
            crate::services::find("bedrock"),
            &["openai_project".to_owned()],
        );
        let text = body.to_string();
        assert!(
            !text.contains("abcdefghijklmnop")
                && !text.contains("Bearer abcdefghijklmn")
                && !text.contains("SECRETVALUE")
                && !text.contains("PRIVATEKEY"),
            "{text}"
        );
        assert_eq!(body["name"], "x");
        assert!(body["configurations"]["custom_headers"]["authorization"].is_string());
    }
}
