//! Request extractors that answer bad input with 400 AB01 naming the field.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::store::Page;

/// A JSON body decoded with the path of the first bad field in the error message.
/// An empty body decodes as `{}`; one of whitespace only, or not an object, is refused.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + JsonSchema + 'static> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::with_status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the request body is larger than the server accepts ({} bytes)",
                        super::MAX_BODY_BYTES
                    ),
                )
            } else {
                ApiError::invalid(format!("cannot read the request body: {}", e.body_text()))
            }
        })?;
        if bytes.is_empty() {
            return decode(b"{}").map(Body);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid(
                "the request body is blank; send a JSON object, or no body at all",
            ));
        }
        // serde reads a struct from an array too (`[null, null]` as its fields in order):
        // every body of this API is an object, so nothing else is taken.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::invalid("the request body must be a JSON object"));
        }
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            super::openapi::arrays_for_objects::<T>(&value).map_err(|at| {
                ApiError::invalid(format!("`{at}` must be a JSON object, not an array"))
            })?;
        }
        decode(&bytes).map(Body)
    }
}

/// Path parameters; one that is not valid UTF-8 (`%FF`) is a 400 AB01 JSON error.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| ApiError::invalid(format!("invalid path: {}", e.body_text())))
    }
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::invalid(format!(
                "the request body is not valid JSON (line {}, column {})",
                inner.line(),
                inner.column()
            ))
        } else if path == "." {
            ApiError::invalid(format!("invalid request body: {inner}"))
        } else if may_be_secret(&path) {
            ApiError::invalid(format!(
                "invalid value for `{path}`{} (the value is not repeated: it may be secret)",
                expected(&inner.to_string())
            ))
        } else {
            ApiError::invalid(format!("invalid value for `{path}`: {inner}"))
        }
    })?;
    de.end().map_err(|e| {
        ApiError::invalid(format!(
            "the request body has data after its JSON value (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    Ok(value)
}

/// Fields whose values may be credentials: their values never appear in errors.
fn may_be_secret(path: &str) -> bool {
    let mut segments = path.split(['.', '[']);
    segments.next() == Some("key")
        || path
            .split(['.', '['])
            .any(|s| matches!(s, "configurations" | "custom_headers" | "secret_mappings"))
}

/// The "expected ..." part of a serde message, without the value it saw.
fn expected(message: &str) -> String {
    message
        .split_once("expected ")
        .map(|(_, what)| {
            let what = what.split(" at line ").next().unwrap_or(what);
            format!(": expected {what}")
        })
        .unwrap_or_default()
}

/// Query parameters, read leniently; numeric ones are checked by [`Query::page`].
pub struct Query(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(map) =
            axum::extract::Query::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::invalid(format!("invalid query string: {e}")))?;
        Ok(Query(map))
    }
}

impl Query {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A parameter of a type other than text (a number, a boolean, one of a list): leaving
    /// it out is fine, but one that is present needs a value (`?page_size=` is 400).
    pub fn typed(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name).map(String::as_str) {
            Some("") => Err(ApiError::invalid(format!(
                "query parameter `{name}` has no value; give one or leave it out"
            ))),
            other => Ok(other),
        }
    }

    /// A parameter that takes one of `allowed` (its value), refused naming them otherwise.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<&str>, ApiError> {
        match self.typed(name)? {
            Some(v) if !allowed.contains(&v) => Err(ApiError::invalid(format!(
                "query parameter `{name}` must be one of {}, got `{}`",
                allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                v.chars().take(64).collect::<String>()
            ))),
            other => Ok(other),
        }
    }

    /// An RFC 3339 time (`2026-05-01T00:00:00Z`).
    pub fn time(&self, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        self.typed(name)?
            .map(|s| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|_| {
                        ApiError::invalid(format!(
                            "query parameter `{name}` must be an RFC 3339 time such as 2026-05-01T00:00:00Z, got `{s}`"
                        ))
                    })
            })
            .transpose()
    }

    fn number(&self, names: &[&str]) -> Result<Option<u64>, ApiError> {
        for name in names {
            if let Some(v) = self.typed(name)? {
                return v.parse().map(Some).map_err(|_| {
                    ApiError::invalid(format!(
                        "query parameter `{name}` must be a whole number, got `{v}`"
                    ))
                });
            }
        }
        Ok(None)
    }

    /// Paging from `current_page`/`page_size`, or the SDK's `currentPage`/`pageSize`.
    pub fn page(&self, default_size: u64) -> Result<Page, ApiError> {
        let current_page = self.number(&["current_page", "currentPage"])?.unwrap_or(0);
        let page_size = self
            .number(&["page_size", "pageSize"])?
            .unwrap_or(default_size);
        if page_size == 0 || page_size > 1000 {
            return Err(ApiError::invalid(format!(
                "query parameter `page_size` must be between 1 and 1000, got {page_size}"
            )));
        }
        Ok(Page {
            current_page,
            page_size,
        })
    }
}
