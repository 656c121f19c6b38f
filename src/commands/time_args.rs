//! Times and ages typed on the command line: `2026-05-01`, `2026-05-01T12:00:00Z`, `7d`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// A length of time in whole minutes, hours, days or weeks: `30m`, `12h`, `7d`, `52w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Age(pub chrono::Duration);

impl std::str::FromStr for Age {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let bad = || format!("`{text}` is not a length of time; write e.g. 30m, 12h, 7d or 52w");
        let n: i64 = number.parse().map_err(|_| bad())?;
        let age = match unit {
            "m" => chrono::Duration::try_minutes(n),
            "h" => chrono::Duration::try_hours(n),
            "d" => chrono::Duration::try_days(n),
            "w" => chrono::Duration::try_weeks(n),
            _ => None,
        }
        .filter(|d| *d > chrono::Duration::zero() && *d <= chrono::Duration::days(100 * 366))
        .ok_or_else(bad)?;
        Ok(Age(age))
    }
}

/// A date (midnight UTC), an RFC 3339 time, or an age back from now (`7d`), as an
/// RFC 3339 time in UTC.
pub fn parse_time(s: &str) -> Result<String, String> {
    time_at(s, Utc::now()).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn time_at(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    match text.parse::<Age>() {
        Ok(Age(age)) => Ok(now - age),
        Err(_) => Err(format!(
            "`{s}` is not a date, time or age; write 2026-05-01, 2026-05-01T12:00:00Z or 7d"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_dates_times_or_ages() {
        let now = "2026-05-10T08:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let at = |s| time_at(s, now).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
        assert_eq!(at("2026-05-01").unwrap(), "2026-05-01T00:00:00Z");
        assert_eq!(
            at("2026-05-01T14:00:00+02:00").unwrap(),
            "2026-05-01T12:00:00Z"
        );
        assert_eq!(at("7d").unwrap(), "2026-05-03T08:30:00Z");
        assert_eq!(at("90m").unwrap(), "2026-05-10T07:00:00Z");
        for bad in ["yesterday", "", "7", "0d", "-1d", "7y", "99999999w"] {
            assert!(at(bad).is_err(), "{bad}");
        }
    }
}
