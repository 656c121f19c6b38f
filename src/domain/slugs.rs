//! Slugs and the namespaces they live in: what a slug may look like, the slugs the
//! catalog makes up, and which objects share a namespace. AI providers and unmigrated
//! virtual keys share one namespace per workspace (a request's `@slug` must name one
//! thing); integrations have one namespace across the organisation.

use std::collections::HashSet;

use super::error::{DomainError, DomainResult};
use crate::store::StoreRead;
use crate::types::Slug;

/// Checks a slug given in field `field` of a request.
pub fn check_slug(field: &str, slug: &str) -> DomainResult<()> {
    slug.parse::<Slug>().map(drop).map_err(|_| {
        DomainError::invalid(format!(
            "`{field}` `{slug}` must be 1 to 255 characters of letters, digits, `-` and `_`"
        ))
    })
}

/// What is about to take a slug in a workspace's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimant {
    Provider,
    VirtualKey,
}

/// Refuses `slug` in `workspace_id` when a provider or virtual key already uses it.
pub fn ensure_free_in_workspace(
    tx: &mut dyn StoreRead,
    workspace_id: &str,
    slug: &str,
    claimant: Claimant,
) -> DomainResult<()> {
    let provider = tx
        .provider(workspace_id, slug)?
        .is_some_and(|p| p.public.slug == slug);
    let virtual_key = tx
        .virtual_key(workspace_id, slug)?
        .is_some_and(|v| v.public.slug == slug);
    match (claimant, provider, virtual_key) {
        (Claimant::Provider, true, _) => Err(DomainError::conflict(format!(
            "an AI provider with slug `{slug}` already exists in this workspace"
        ))),
        (_, true, _) | (_, _, true) => Err(DomainError::conflict(format!(
            "`{slug}` is already used by a provider or virtual key in this workspace"
        ))),
        _ => Ok(()),
    }
}

/// The first of `base`, `base-2`, `base-3`, ... that no integration uses and that is
/// not in `taken` (names a plan has already given); it is added to `taken`.
pub fn free_integration_slug(
    tx: &mut dyn StoreRead,
    base: &str,
    taken: &mut HashSet<String>,
) -> DomainResult<String> {
    let mut slug = base.to_owned();
    let mut n = 2;
    while taken.contains(&slug) || tx.integration(&slug)?.is_some() {
        slug = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(slug.clone());
    Ok(slug)
}

/// A slug made from a display name, with a random suffix so that two objects of the
/// same name do not collide: `team-alpha-3fa2c1`, or `{fallback}-3fa2c1` when the name
/// has no letters to keep.
pub fn from_name(name: &str, fallback: &str) -> String {
    let base = slugify(name, 200);
    format!(
        "{}-{}",
        if base.is_empty() { fallback } else { &base },
        short_suffix()
    )
}

/// A slug fragment from a display name: lowercase ASCII letters, digits and dashes.
pub fn slugify(name: &str, max: usize) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if let Some(ascii) = latin_ascii(c) {
            out.push_str(ascii);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= max {
            break;
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// The ASCII letters a Latin letter with diacritics is read as (`É` → `e`, `ß` → `ss`).
fn latin_ascii(c: char) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("àáâãäåāăąÀÁÂÃÄÅĀĂĄ", "a"),
        ("æÆ", "ae"),
        ("çćĉċčÇĆĈĊČ", "c"),
        ("ďđðĎĐÐ", "d"),
        ("èéêëēĕėęěÈÉÊËĒĔĖĘĚ", "e"),
        ("ĝğġģĜĞĠĢ", "g"),
        ("ĥħĤĦ", "h"),
        ("ìíîïĩīĭįıÌÍÎÏĨĪĬĮİ", "i"),
        ("ĵĴ", "j"),
        ("ķĶ", "k"),
        ("ĺļľŀłĹĻĽĿŁ", "l"),
        ("ñńņňÑŃŅŇ", "n"),
        ("òóôõöøōŏőÒÓÔÕÖØŌŎŐ", "o"),
        ("œŒ", "oe"),
        ("ŕŗřŔŖŘ", "r"),
        ("śŝşšșŚŜŞŠȘ", "s"),
        ("ß", "ss"),
        ("ţťŧțŢŤŦȚ", "t"),
        ("þÞ", "th"),
        ("ùúûüũūŭůűųÙÚÛÜŨŪŬŮŰŲ", "u"),
        ("ŵŴ", "w"),
        ("ýÿŷÝŸŶ", "y"),
        ("źżžŹŻŽ", "z"),
    ];
    TABLE
        .iter()
        .find(|(letters, _)| letters.contains(c))
        .map(|(_, ascii)| *ascii)
}

/// Six random hex digits, for slugs that must not collide.
pub fn short_suffix() -> String {
    format!("{:06x}", rand::random::<u32>() & 0x00ff_ffff)
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_follow_the_contract_pattern() {
        use super::check_slug;
        assert!(check_slug("slug", "openai-prod_2").is_ok());
        let err = check_slug("slug", "bad slug").unwrap_err().to_string();
        assert_eq!(
            err,
            "`slug` `bad slug` must be 1 to 255 characters of letters, digits, `-` and `_`"
        );
        assert!(check_slug("slug", &"a".repeat(256)).is_err());
    }

    #[test]
    fn slugify_keeps_names_readable() {
        assert_eq!(
            super::slugify("Data Science 🚀 Team", 40),
            "data-science-team"
        );
        assert_eq!(super::slugify("🚀", 40), "");
        assert_eq!(super::slugify("Équipe données", 40), "equipe-donnees");
        assert_eq!(super::slugify("Straße Œuvre", 40), "strasse-oeuvre");
        assert_eq!(super::short_suffix().len(), 6);
    }
}
