//! `--dry-run`: show the requests a command would make (secrets masked) and write nothing.

use serde::Serialize;
use serde_json::Value;

use super::Ctx;
use crate::crypto::mask;

#[derive(Debug, Clone, Serialize)]
pub struct PlannedRequest {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
}

impl PlannedRequest {
    pub fn new(
        method: &'static str,
        path: impl Into<String>,
        body: Option<Value>,
    ) -> PlannedRequest {
        PlannedRequest {
            method,
            path: path.into(),
            body: body.map(|b| masked(b, &[])),
        }
    }

    /// Also masks these fields (values the user gave from the environment or files).
    pub fn masking(mut self, fields: &[String]) -> PlannedRequest {
        self.body = self.body.map(|b| masked(b, fields));
        self
    }
}

/// Masks the values of secret fields anywhere in a request body: the key, the settings
/// the registry marks secret, and `extra`.
fn masked(value: Value, extra: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let secret = k == "key"
                        || crate::commands::integrations::is_secret(&k)
                        || extra.contains(&k);
                    let v = if k == "custom_headers" {
                        mask_headers(v)
                    } else if v.is_object() && k != "vertex_service_account_json" {
                        masked(v, extra)
                    } else if secret {
                        Value::String(mask(v.as_str().unwrap_or("")))
                    } else {
                        masked(v, extra)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| masked(v, extra)).collect()),
        other => other,
    }
}

/// Header values are masked: any of them may be a credential.
fn mask_headers(v: Value) -> Value {
    match v {
        Value::Object(h) => Value::Object(
            h.into_iter()
                .map(|(hk, hv)| (hk, Value::String(mask(hv.as_str().unwrap_or("")))))
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
            json!({"key": "sk-abcdefghijklmnop", "configurations": {"aws_secret_access_key": "abcdefghijklmnopqrst", "custom_headers": {"authorization": "Bearer abcdefghijklmn"}}, "name": "x", "configurations2": {"openai_project": "proj-SECRETVALUE1234"}}),
            &["openai_project".to_owned()],
        );
        let text = body.to_string();
        assert!(
            !text.contains("abcdefghijklmnop")
                && !text.contains("Bearer abcdefghijklmn")
                && !text.contains("SECRETVALUE"),
            "{text}"
        );
        assert_eq!(body["name"], "x");
    }
}
