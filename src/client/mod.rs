//! One Admin API client for every target. Whether a request reaches Portkey's hosted
//! API, a `catalog serve` on loopback or the embedded server in-process is a transport
//! detail; status codes and error bodies are mapped to exit codes here, once.

mod alerts;
mod api_keys;
mod audit;
pub mod configs;
pub mod flags;
mod gateway;
mod integrations;
mod organisation;
mod policies;
pub mod provisioning;
mod transport;
pub mod usage;
mod whoami;
mod workspaces;

pub use alerts::AlertFilter;
pub use audit::AuditFilter;
pub use organisation::OrgSettings;
pub use whoami::WhoAmI;
pub use workspaces::is_missing;

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::api::error::parse_error_body;
use crate::exit::{CliError, ErrorKind};
use crate::printer::Printer;
pub use transport::Transport;

/// A response: status and raw body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The body as JSON: `Null` when empty, a string when it is not JSON.
    pub fn json(&self) -> Value {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Value::Null;
        }
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.bytes).into_owned()))
    }

    /// The body decoded straight into `T` (no intermediate JSON tree).
    pub fn decode<T: DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_slice(&self.bytes).map_err(not_understood)
    }
}

pub struct Client {
    transport: Transport,
    runtime: tokio::runtime::Runtime,
    printer: Printer,
    /// Where the requests go, for messages.
    pub target: String,
}

const RETRIES: u32 = 3;

impl Client {
    pub fn new(transport: Transport, printer: Printer) -> anyhow::Result<Client> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let target = transport.describe();
        Ok(Client {
            transport,
            runtime,
            printer,
            target,
        })
    }

    /// Sends one request, retrying idempotent ones on 429, 5xx (but 501) and network errors.
    pub fn send(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Reply> {
        let idempotent = method != Method::POST;
        let mut attempt = 0;
        loop {
            self.printer.debug(format!("> {method} {path}"));
            let result = self
                .runtime
                .block_on(self.transport.send(method.clone(), path, body));
            let retry = match &result {
                Ok(reply) => reply.status == 429 || (reply.status >= 500 && reply.status != 501),
                Err(_) => true,
            };
            if idempotent && retry && attempt < RETRIES {
                attempt += 1;
                let backoff = Duration::from_millis(250 * 2u64.pow(attempt - 1))
                    + Duration::from_millis(rand::random::<u64>() % 100);
                self.printer
                    .debug(format!("retrying in {} ms", backoff.as_millis()));
                std::thread::sleep(backoff);
                continue;
            }
            let reply = result?;
            self.printer.debug(format!("< {}", reply.status));
            if reply.status >= 400 {
                return Err(self.api_error(&reply).into());
            }
            return Ok(reply);
        }
    }

    fn api_error(&self, reply: &Reply) -> CliError {
        let body = reply.json();
        self.printer.debug(format!("response body: {body}"));
        let (message, code) = parse_error_body(&body);
        let message = message.unwrap_or_else(|| format!("the server answered {}", reply.status));
        let code = code.map(|c| format!(" ({c})")).unwrap_or_default();
        let (kind, hint) = match reply.status {
            400 | 422 => (ErrorKind::Usage, None),
            401 => (
                ErrorKind::Auth,
                Some("check the API key: `catalog auth status`, or set CATALOG_API_KEY"),
            ),
            403 => (ErrorKind::Auth, Some("this API key may not do that; use an organisation admin key, or the resource may be gone")),
            404 => (ErrorKind::NotFound, None),
            409 => (ErrorKind::Conflict, None),
            // The server runs but what it stands on (its database, Redis) does not.
            503 => (ErrorKind::Unavailable, None),
            _ => (ErrorKind::Failed, None),
        };
        // The CLI built the request: name the flags the person typed, not API fields.
        let message = if kind == ErrorKind::Usage {
            flags::name_flags(&message)
        } else {
            message
        };
        let err = CliError::new(kind, format!("{message}{code}"));
        match hint {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(Method::GET, path, None)?.decode()
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let body = serde_json::to_value(body)?;
        decode(unwrap_envelope(
            self.send(Method::POST, path, Some(&body))?.json(),
        ))
    }

    /// PUT; the response (`{}`, `{success:true}`, `{id, slug}` or 204) is not trusted.
    pub fn put<B: Serialize>(&self, path: &str, body: &B) -> anyhow::Result<()> {
        let body = serde_json::to_value(body)?;
        self.send(Method::PUT, path, Some(&body)).map(|_| ())
    }

    pub fn delete(&self, path: &str, body: Option<&Value>) -> anyhow::Result<()> {
        self.send(Method::DELETE, path, body).map(|_| ())
    }

    /// Follows the paging of a list endpoint to the end.
    pub fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<Vec<T>> {
        const PAGE: usize = 100;
        let mut out = Vec::new();
        for page in 0.. {
            let mut params: Vec<(String, String)> = query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            params.push(("current_page".into(), page.to_string()));
            params.push(("page_size".into(), PAGE.to_string()));
            let page: crate::api::ListEnvelope<T> = self
                .send(Method::GET, &with_query(path, &params), None)?
                .decode()?;
            let total = Some(page.total).filter(|t| *t > 0);
            let items = page.data;
            let short = items.len() < PAGE;
            out.extend(items);
            if short || total.is_some_and(|t| out.len() as u64 >= t) {
                break;
            }
        }
        Ok(out)
    }
}

/// Unwraps a legacy `{success, data}` wrapper when present.
fn unwrap_envelope(body: Value) -> Value {
    match body {
        Value::Object(mut map) if map.contains_key("success") && map.contains_key("data") => {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    }
}

fn decode<T: DeserializeOwned>(body: Value) -> anyhow::Result<T> {
    serde_json::from_value(body).map_err(not_understood)
}

fn not_understood(e: serde_json::Error) -> anyhow::Error {
    CliError::new(
        ErrorKind::Failed,
        format!("the server's answer was not understood: {e}"),
    )
    .with_hint("rerun with `-v` to see the response body")
    .into()
}

/// Appends URL-encoded query parameters to a path.
pub fn with_query(path: &str, params: &[(String, String)]) -> String {
    assert!(
        !path.contains('?'),
        "`{path}` already has a query: pass every parameter to with_query"
    );
    if params.is_empty() {
        return path.to_owned();
    }
    let mut url = reqwest::Url::parse("http://x/").expect("static URL");
    url.query_pairs_mut().extend_pairs(params);
    format!("{path}?{}", url.query().unwrap_or_default())
}

/// Percent-encodes one path segment (ids, slugs).
pub fn segment(value: &str) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("static URL");
    url.path_segments_mut()
        .expect("http URL has path segments")
        .push(value);
    url.path().trim_start_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn legacy_wrappers_are_unwrapped() {
        assert_eq!(
            unwrap_envelope(json!({"success": true, "data": {"slug": "x"}})),
            json!({"slug": "x"})
        );
        assert_eq!(unwrap_envelope(json!({"id": "1"})), json!({"id": "1"}));
    }

    #[test]
    fn query_and_segments_are_encoded() {
        assert_eq!(
            with_query("/a", &[("name".into(), "a b&c".into())]),
            "/a?name=a+b%26c"
        );
        assert_eq!(segment("a/b"), "a%2Fb");
    }
}
