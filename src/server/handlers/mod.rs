//! HTTP handlers: decode, check permissions, call the store, shape the response.

pub mod api_keys;
pub mod catalog_models;
pub mod check;
pub mod configs;
pub mod integration_models;
pub mod integration_workspaces;
pub mod integrations;
pub mod organisation;
pub mod providers;
pub mod virtual_keys;
pub mod whoami;
pub mod workspaces;

/// The API's timestamp format: `2026-05-02T12:31:48.000Z`.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
