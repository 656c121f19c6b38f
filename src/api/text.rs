//! Names and descriptions: bounded lengths, no control characters.
//!
//! Names (of workspaces, integrations, providers, API keys, virtual keys) are 1 to 255
//! characters; descriptions and notes at most 1,024. Neither may hold control characters
//! (newline, NUL, ...) or bidirectional formatting characters (such as U+202E), which make
//! a name display as something it is not.

use serde::{Deserialize, Deserializer};

use super::patch::Patch;

pub const NAME_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 1024;

/// Why `text` cannot be a name, if it cannot.
pub fn name_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return Some("must not be empty".to_owned());
    }
    length_problem(text, NAME_MAX).or_else(|| character_problem(text))
}

/// Why `text` cannot be a description or note, if it cannot.
pub fn description_problem(text: &str) -> Option<String> {
    length_problem(text, DESCRIPTION_MAX).or_else(|| character_problem(text))
}

fn length_problem(text: &str, max: usize) -> Option<String> {
    (text.chars().count() > max).then(|| format!("is at most {max} characters"))
}

fn character_problem(text: &str) -> Option<String> {
    text.chars().find(|c| is_forbidden(*c)).map(|c| {
        format!(
            "must not contain control or bidirectional formatting characters (found U+{:04X})",
            u32::from(c)
        )
    })
}

fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}'
                | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

fn checked<E: serde::de::Error>(
    text: String,
    problem: fn(&str) -> Option<String>,
) -> Result<String, E> {
    match problem(&text) {
        Some(p) => Err(E::custom(p)),
        None => Ok(text),
    }
}

pub fn name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(String::deserialize(d)?, name_problem)
}

pub fn opt_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|t| checked(t, name_problem))
        .transpose()
}

pub fn opt_description<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|t| checked(t, description_problem))
        .transpose()
}

pub fn patch_description<'de, D: Deserializer<'de>>(d: D) -> Result<Patch<String>, D::Error> {
    Ok(match Option::<String>::deserialize(d)? {
        Some(t) => Patch::Value(checked(t, description_problem)?),
        None => Patch::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(name_problem("Data Science 🚀").is_none());
        assert!(name_problem("Équipe données").is_none());
        assert!(name_problem("").is_some());
        assert!(name_problem(&"x".repeat(256)).is_some());
        assert!(name_problem(&"é".repeat(255)).is_none());
        for bad in [
            "a\nb",
            "a\0b",
            "evil\u{202E}gpj.exe",
            "a\u{2066}b",
            "tab\there",
        ] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(description_problem("").is_none());
        assert!(description_problem(&"d".repeat(1025)).is_some());
    }
}
