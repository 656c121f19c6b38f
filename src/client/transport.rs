//! The two transports: HTTP (reqwest) and in-process (the server's router, no socket).

use std::time::Duration;

use anyhow::Context;
use axum::Router;
use http_body_util::BodyExt;
use reqwest::Method;
use serde_json::Value;
use tower::ServiceExt;

use super::Reply;
use crate::exit::{CliError, ErrorKind};
use crate::server::auth::EmbeddedOwner;

pub enum Transport {
    Http {
        http: reqwest::Client,
        base_url: String,
        api_key: String,
    },
    Embedded {
        router: Router,
        db: String,
    },
}

impl Transport {
    pub fn http(base_url: &str, api_key: String) -> anyhow::Result<Transport> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("catalog/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Transport::Http {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
        })
    }

    pub fn embedded(state: crate::server::AppState, db: String) -> Transport {
        Transport::Embedded {
            router: crate::server::router(state),
            db,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Http { base_url, .. } => base_url.clone(),
            Transport::Embedded { db, .. } => format!("the embedded catalog ({db})"),
        }
    }

    /// `path` is relative to `/v1`, e.g. `/admin/workspaces?name=eng`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        match self {
            Transport::Http {
                http,
                base_url,
                api_key,
            } => {
                let mut request = http
                    .request(method, format!("{base_url}{path}"))
                    .header("x-portkey-api-key", api_key);
                if let Some(body) = body {
                    request = request.json(body);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| unreachable(base_url, &e))?;
                let status = response.status().as_u16();
                let bytes = response
                    .bytes()
                    .await
                    .map_err(|e| unreachable(base_url, &e))?;
                Ok(Reply {
                    status,
                    bytes: bytes.to_vec(),
                })
            }
            Transport::Embedded { router, .. } => {
                let mut builder = axum::http::Request::builder()
                    .method(method.as_str())
                    .uri(format!("/v1{path}"))
                    .header("content-type", "application/json");
                builder = builder.extension(EmbeddedOwner);
                let bytes = match body {
                    Some(b) => serde_json::to_vec(b)?,
                    None => Vec::new(),
                };
                let request = builder.body(axum::body::Body::from(bytes))?;
                let response = router
                    .clone()
                    .oneshot(request)
                    .await
                    .context("the embedded catalog failed")?;
                let status = response.status().as_u16();
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .context("the embedded catalog failed")?
                    .to_bytes();
                Ok(Reply {
                    status,
                    bytes: bytes.to_vec(),
                })
            }
        }
    }
}

/// The status and headers of a gateway call whose body was handed over piece by piece.
#[derive(Debug)]
pub struct Streamed {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Streamed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn header_pairs(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// How long a model may take to answer `catalog models test`.
const MODEL_CALL_TIMEOUT: Duration = Duration::from_secs(600);

impl Transport {
    /// Calls the gateway (`path` under `/v1`) as a workspace: over HTTP with
    /// `workspace_key`, in-process as the embedded owner for `workspace_id`. The body
    /// reaches `sink` as it arrives.
    pub async fn call_gateway(
        &self,
        path: &str,
        body: &Value,
        workspace_id: &str,
        workspace_key: Option<&str>,
        mut sink: impl FnMut(&[u8]),
    ) -> anyhow::Result<Streamed> {
        match self {
            Transport::Http { http, base_url, .. } => {
                let key =
                    workspace_key.context("a gateway call over HTTP needs a workspace API key")?;
                let mut response = http
                    .post(format!("{base_url}{path}"))
                    .bearer_auth(key)
                    .timeout(MODEL_CALL_TIMEOUT)
                    .json(body)
                    .send()
                    .await
                    .map_err(|e| unreachable(base_url, &e))?;
                let streamed = Streamed {
                    status: response.status().as_u16(),
                    headers: header_pairs(response.headers()),
                };
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(|e| unreachable(base_url, &e))?
                {
                    sink(&chunk);
                }
                Ok(streamed)
            }
            Transport::Embedded { router, .. } => {
                let request = axum::http::Request::builder()
                    .method("POST")
                    .uri(format!("/v1{path}"))
                    .header("content-type", "application/json")
                    .header(crate::gateway::WORKSPACE_HEADER, workspace_id)
                    .extension(EmbeddedOwner)
                    .body(axum::body::Body::from(serde_json::to_vec(body)?))?;
                let response = router
                    .clone()
                    .oneshot(request)
                    .await
                    .context("the embedded catalog failed")?;
                let streamed = Streamed {
                    status: response.status().as_u16(),
                    headers: header_pairs(response.headers()),
                };
                let mut body = response.into_body();
                while let Some(frame) = body.frame().await {
                    if let Ok(data) = frame.context("the embedded gateway failed")?.into_data() {
                        sink(&data);
                    }
                }
                Ok(streamed)
            }
        }
    }
}

fn unreachable(base_url: &str, e: &reqwest::Error) -> anyhow::Error {
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "is unreachable"
    };
    CliError::new(
        ErrorKind::Unavailable,
        format!("the catalog server at {base_url} {what}"),
    )
    .with_hint("check that `catalog serve` (or the API) is running there, and the --base-url / CATALOG_BASE_URL you gave")
    .into()
}
