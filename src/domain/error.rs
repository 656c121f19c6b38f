//! The domain's one error type. Each surface maps it once, one way: the Admin API into
//! its contract bodies (`server::error`), the gateway into its own.

use crate::store::StoreError;

/// Why a domain operation refused or failed. Messages are for people: they name the
/// object and say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Something named does not exist (or is not visible from here).
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with the catalog's state: a taken slug, limits another object
    /// relies on, a plan that changed.
    #[error("{0}")]
    Conflict(String),
    /// The request itself breaks a rule, whatever the state.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this here.
    #[error("{0}")]
    Forbidden(String),
    /// Something that should not fail did (the database, the master key).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    /// `{what} `{id}` not found`, the message every lookup gives.
    pub fn not_found(what: &str, id: &str) -> DomainError {
        DomainError::NotFound(format!("{what} `{id}` not found"))
    }

    pub fn conflict(message: impl Into<String>) -> DomainError {
        DomainError::Conflict(message.into())
    }

    pub fn invalid(message: impl Into<String>) -> DomainError {
        DomainError::Invalid(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> DomainError {
        DomainError::Forbidden(message.into())
    }
}

/// The store's errors read as the domain's; the store never sees domain errors.
impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => DomainError::NotFound(m),
            StoreError::Conflict(m) => DomainError::Conflict(m),
            StoreError::Internal(e) => DomainError::Internal(e),
        }
    }
}
