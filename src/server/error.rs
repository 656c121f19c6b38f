//! Errors as the contract shapes them: `{success:false, data:{message, errorCode}}`.

use super::json::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::error::{ErrorBody, ErrorCode};
use crate::domain::DomainError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// An HTTP status other than the code's own (413 for a body over the limit).
    pub status: Option<StatusCode>,
    /// Sent as `Retry-After` (seconds): when the request is worth making again.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            status: None,
            retry_after: None,
        }
    }

    /// A request error (AB01) with another HTTP status: 405, or 413 for a body over the
    /// server's limit.
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status: Some(status),
            ..ApiError::invalid(message)
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::AB01, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::AB08, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::AB03, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::AB05, message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::AB07, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::AB04, message)
    }
}

/// The one place domain errors become contract errors.
impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(m) => ApiError::not_found(m),
            DomainError::Conflict(m) => ApiError::conflict(m),
            DomainError::Invalid(m) => ApiError::invalid(m),
            DomainError::Forbidden(m) => ApiError::forbidden(m),
            DomainError::Internal(e) => match e.downcast_ref::<crate::store::Unavailable>() {
                Some(u) => ApiError {
                    status: Some(StatusCode::SERVICE_UNAVAILABLE),
                    retry_after: Some(1),
                    ..ApiError::internal(format!("{u}; retry shortly"))
                },
                None => ApiError::internal(format!("internal error: {e:#}")),
            },
        }
    }
}

/// Handlers that read the store directly: store errors go through the domain's mapping.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::from(DomainError::from(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        });
        let mut response = (status, Json(ErrorBody::new(self.code, self.message))).into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        response
    }
}

/// Refuses contract fields that this server does not implement yet, naming them.
pub fn refuse_unimplemented(fields: &[&str]) -> ApiResult<()> {
    match fields {
        [] => Ok(()),
        [one] => Err(ApiError::invalid(format!(
            "`{one}` is part of the Admin API but this server does not implement it yet; remove it from the request"
        ))),
        many => Err(ApiError::invalid(format!(
            "{} are part of the Admin API but this server does not implement them yet; remove them from the request",
            many.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
        ))),
    }
}
