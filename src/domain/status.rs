//! The status an AI provider or an unmigrated virtual key shows, derived from its
//! access, expiry and budget at a moment.

use chrono::{DateTime, Utc};

use crate::api::limits::UsageLimits;
use crate::api::provider::Provider;
use crate::api::usage::UsageState;
use crate::api::virtual_key::VirtualKey;
use crate::store::{ProviderRecord, VirtualKeyRecord};

/// When a stored `expires_at` passes (none: never, or not a time).
pub fn expiry(expires_at: Option<&str>) -> Option<DateTime<Utc>> {
    expires_at
        .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
        .map(|e| e.with_timezone(&Utc))
}

/// What a provider or key can do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    /// Its integration's access to the workspace is revoked.
    Disabled,
    /// Past its `expires_at`.
    Expired,
    /// Its budget is used up.
    Exhausted,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Expired => "expired",
            Status::Exhausted => "exhausted",
        }
    }

    /// Whether requests may still be routed through it (an exhausted budget may reset).
    pub fn usable(self) -> bool {
        matches!(self, Status::Active | Status::Exhausted)
    }

    /// `disabled` when revoked, else `expired`, else `exhausted` when the budget is used
    /// up, else `active`.
    pub fn derive(
        revoked: bool,
        expires_at: Option<&str>,
        limits: Option<&UsageLimits>,
        usage: Option<&UsageState>,
        now: DateTime<Utc>,
    ) -> Status {
        let expired = expiry(expires_at).is_some_and(|e| e < now);
        let exhausted = matches!((limits, usage), (Some(l), Some(u)) if u.exhausted || u.current_usage >= l.credit_limit);
        if revoked {
            Status::Disabled
        } else if expired {
            Status::Expired
        } else if exhausted {
            Status::Exhausted
        } else {
            Status::Active
        }
    }

    /// An unmigrated key's status, from its fields as given (never `disabled`: a key has
    /// no access to revoke).
    pub fn of_virtual_key(v: &VirtualKey, now: DateTime<Utc>) -> Status {
        Status::derive(
            false,
            v.expires_at.as_deref(),
            v.usage_limits.as_ref(),
            v.usage.as_ref(),
            now,
        )
    }

    /// A provider's status, from its record as stored.
    pub fn of_provider(p: &ProviderRecord, now: DateTime<Utc>) -> Status {
        let public = &p.public;
        Status::derive(
            p.revoked,
            public.expires_at.as_deref(),
            public.usage_limits.as_ref(),
            public.usage.as_ref(),
            now,
        )
    }
}

/// The provider as shown: live status and the budget's current window.
pub fn provider_view(record: &ProviderRecord, now: DateTime<Utc>) -> Provider {
    let mut p = record.public.clone();
    if let (Some(u), Some(limits)) = (p.usage.as_mut(), p.usage_limits.as_ref()) {
        u.refresh(limits, now);
    }
    p.status = Some(Status::of_provider(record, now).as_str().to_owned());
    p
}

/// An unmigrated key as shown: the budget's current window, then the status it gives.
pub fn virtual_key_view(record: &VirtualKeyRecord, now: DateTime<Utc>) -> VirtualKey {
    let mut v = record.public.clone();
    if let (Some(u), Some(l)) = (v.usage.as_mut(), v.usage_limits.as_ref()) {
        u.refresh(l, now);
    }
    v.status = Some(Status::of_virtual_key(&v, now).as_str().to_owned());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_beats_expired_beats_exhausted() {
        let now = Utc::now();
        let past = "2001-01-01T00:00:00Z";
        let limit = UsageLimits::cost(10.0);
        let mut used = UsageState::fresh(now);
        used.current_usage = 10.0;
        let status =
            |revoked, expires, usage| Status::derive(revoked, expires, Some(&limit), usage, now);
        assert_eq!(status(true, Some(past), Some(&used)), Status::Disabled);
        assert_eq!(status(false, Some(past), Some(&used)), Status::Expired);
        assert_eq!(status(false, None, Some(&used)), Status::Exhausted);
        assert_eq!(
            status(false, Some("2999-01-01T00:00:00Z"), None),
            Status::Active
        );
        let mut under = used.clone();
        under.current_usage = 9.5;
        assert_eq!(status(false, None, Some(&under)), Status::Active);
        assert!(Status::Exhausted.usable() && !Status::Expired.usable());
    }
}
