//! The gateway's refusals, in the shapes Portkey's gateway answers with.
//!
//! Every body carries both Portkey's `{status, message}` and OpenAI's `{error: {message,
//! type, param, code}}`, so the Portkey SDKs and the OpenAI SDKs each find the fields
//! they read. Messages name what blocked the request and what an admin can do about it.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::server::json::Json;

#[derive(Debug, Clone)]
pub struct GatewayError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
    /// Raised inside the gateway (not a governance or upstream answer): a fallback stops.
    pub exception: bool,
    /// `{"status":"failure","message":...}` only, as Portkey's resolution errors are.
    portkey_only: bool,
    /// When the request would be admitted: sent as `Retry-After` (whole seconds, up).
    pub retry_after: Option<std::time::Duration>,
}

impl GatewayError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        GatewayError {
            status,
            kind,
            code: None,
            message: message.into(),
            exception: false,
            portkey_only: false,
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, wait: Option<std::time::Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn exception(mut self) -> Self {
        self.exception = true;
        self
    }

    /// A request the gateway cannot make sense of (400).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message).exception()
    }

    /// Authentication failures: 401 with Portkey's codes (`03` invalid, `01` expired).
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_error", message)
            .code(code)
            .exception()
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_error", message)
            .code("033")
            .exception()
    }

    /// Provider slugs that name nothing the key's workspace has.
    pub fn unknown_keys(slugs: &[String], hint: &str) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("Following keys are not valid: {}. {hint}", slugs.join(", ")),
        );
        e.portkey_only = true;
        e
    }

    /// A refusal by the catalog's governance (412 by default).
    pub fn governance(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, kind, message)
    }

    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented_error",
            message,
        )
        .exception()
    }

    /// The upstream could not be reached or answered with something unreadable.
    pub fn upstream(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "upstream_error", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message).exception()
    }

    pub fn body(&self) -> Value {
        let summary = match self.code {
            Some(code) => format!("Portkey Error: {}. Error Code: {code}", self.message),
            None => self.message.clone(),
        };
        if self.portkey_only {
            return json!({
                "status": "failure",
                "message": self.message,
                "error": {"message": self.message, "type": self.kind, "param": null, "code": null},
            });
        }
        json!({
            "status": "failure",
            "message": summary,
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": null,
                "code": self.code,
            },
        })
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_millis().div_ceil(1000).max(1);
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs as u64));
        }
        if self.exception {
            response.headers_mut().insert(
                "x-portkey-gateway-exception",
                HeaderValue::from_static("true"),
            );
        }
        response
    }
}

impl From<crate::store::StoreError> for GatewayError {
    fn from(e: crate::store::StoreError) -> Self {
        match e.unavailable() {
            Some(u) => GatewayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                format!("{u}; retry shortly"),
            )
            .retry_after(Some(std::time::Duration::from_secs(1))),
            None => GatewayError::internal(format!("the catalog could not be read: {e}")),
        }
    }
}

/// An identifier as Portkey shows it in refusals: the first 2 and last 3 characters.
pub fn masked(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 5 {
        return "********".to_owned();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}********{tail}")
}
