//! Rewrites gateway configs from `virtual_key: "x"` to `provider: "@x"`, at the root and
//! in strategy targets at any depth, keeping every other field and the key order.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use similar::TextDiff;

use crate::commands::Ctx;
use crate::config::write_atomic;
use crate::exit::{fail, ErrorKind};

/// Rewrites one object (and its `targets`), returning how many references changed.
fn rewrite_object(obj: &mut Map<String, Value>, at: &str) -> Result<usize, String> {
    let mut changed = 0;
    if let Some(slug) = obj
        .get("virtual_key")
        .and_then(Value::as_str)
        .map(str::to_owned)
    {
        if obj.contains_key("provider") {
            return Err(format!(
                "{at} has both `virtual_key` and `provider`; keep one"
            ));
        }
        // Replace in place so the key order stays as it was.
        let rebuilt: Map<String, Value> = std::mem::take(obj)
            .into_iter()
            .map(|(k, v)| {
                if k == "virtual_key" {
                    ("provider".to_owned(), Value::String(format!("@{slug}")))
                } else {
                    (k, v)
                }
            })
            .collect();
        *obj = rebuilt;
        changed += 1;
    }
    if let Some(Value::Array(targets)) = obj.get_mut("targets") {
        for (i, t) in targets.iter_mut().enumerate() {
            if let Value::Object(inner) = t {
                changed += rewrite_object(inner, &format!("{at}.targets[{i}]"))?;
            }
        }
    }
    Ok(changed)
}

/// A `"virtual_key": "x"` pair found in a config's text.
struct Reference {
    key: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
    slug: String,
}

/// A token of JSON with comments: a string (its byte range), or one punctuation byte.
enum Token {
    Str(std::ops::Range<usize>),
    Punct(u8),
}

/// Tokenises JSON that may hold `//` and `/* */` comments (as Portkey's documented config
/// examples do); returns the tokens and the text with comments blanked out.
fn tokens(text: &str) -> Result<(Vec<Token>, String), String> {
    let bytes = text.as_bytes();
    let mut plain = bytes.to_vec();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if i >= bytes.len() {
                    return Err("a string is not closed".to_owned());
                }
                i += 1;
                out.push(Token::Str(start..i));
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    plain[i] = b' ';
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..]
                    .find("*/")
                    .map(|e| i + 2 + e + 2)
                    .ok_or("a /* comment is not closed")?;
                for b in &mut plain[i..end] {
                    if *b != b'\n' {
                        *b = b' ';
                    }
                }
                i = end;
            }
            b':' | b'{' | b'}' | b'[' | b']' | b',' => {
                out.push(Token::Punct(bytes[i]));
                i += 1;
            }
            _ => i += 1,
        }
    }
    let plain = String::from_utf8(plain).map_err(|e| e.to_string())?;
    Ok((out, plain))
}

/// Every `"virtual_key": "x"` pair of the text.
fn references(text: &str, toks: &[Token]) -> Vec<Reference> {
    let decode = |r: &std::ops::Range<usize>| serde_json::from_str::<String>(&text[r.clone()]).ok();
    toks.windows(3)
        .filter_map(|w| match w {
            [Token::Str(k), Token::Punct(b':'), Token::Str(v)]
                if decode(k).as_deref() == Some("virtual_key") =>
            {
                Some(Reference {
                    key: k.clone(),
                    value: v.clone(),
                    slug: decode(v)?,
                })
            }
            _ => None,
        })
        .collect()
}

/// The rewritten text of a config, and the slugs it referenced. Only the `virtual_key`
/// pairs change: comments, layout and every other line stay byte for byte.
pub fn rewrite_text(text: &str) -> Result<(String, Vec<String>), String> {
    let (toks, plain) = tokens(text)?;
    let mut value: Value = serde_json::from_str(&plain).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(root) = &mut value else {
        return Err("a gateway config is a JSON object".to_owned());
    };
    // The structure is checked on the parsed config (`virtual_key` beside `provider`).
    rewrite_object(root, "the config")?;
    let found = references(text, &toks);
    let mut out = text.to_owned();
    for r in found.iter().rev() {
        let slug = serde_json::to_string(&format!("@{}", r.slug)).map_err(|e| e.to_string())?;
        out.replace_range(r.value.clone(), &slug);
        out.replace_range(r.key.clone(), "\"provider\"");
    }
    Ok((out, found.into_iter().map(|r| r.slug).collect()))
}

/// The slugs the catalog can resolve (providers, listed as virtual keys); `None` when
/// the server will not say.
fn known_slugs(ctx: &Ctx) -> Option<std::collections::HashSet<String>> {
    let keys: Vec<crate::api::virtual_key::VirtualKey> =
        ctx.client().ok()?.list_all("/virtual-keys", &[]).ok()?;
    Some(keys.into_iter().map(|k| k.slug).collect())
}

pub fn run(ctx: &Ctx, paths: &[PathBuf], dry_run: bool, backup: bool) -> anyhow::Result<()> {
    let printer = ctx.printer();
    let known = known_slugs(ctx);
    let mut planned: Vec<(&Path, String, String)> = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(
                ErrorKind::Usage,
                format!("cannot read {}: {e}", path.display()),
                None,
            )
        })?;
        let (new, slugs) = rewrite_text(&text)
            .map_err(|e| fail(ErrorKind::Usage, format!("{}: {e}", path.display()), None))?;
        if slugs.is_empty() {
            printer.status(format!("{}: no `virtual_key` to rewrite", path.display()));
            continue;
        }
        for slug in &slugs {
            if known.as_ref().is_some_and(|k| !k.contains(slug)) {
                printer.warn(format!(
                    "{}: `virtual_key` `{slug}` names no provider or virtual key of this catalog; `@{slug}` will not resolve",
                    path.display()
                ));
            }
        }
        let name = path.display().to_string();
        let diff = TextDiff::from_lines(&text, &new)
            .unified_diff()
            .header(&name, &name)
            .to_string();
        printer.raw(diff.trim_end());
        printer.status(format!(
            "{}: {} reference(s) to rewrite",
            path.display(),
            slugs.len()
        ));
        planned.push((path, text, new));
    }
    if planned.is_empty() || dry_run {
        if dry_run {
            printer.status("dry run: nothing was written");
        }
        return Ok(());
    }
    ctx.prompter()
        .confirm_destructive(&format!("Rewrite {} file(s)?", planned.len()))?;
    for (path, old, new) in planned {
        if backup {
            let mut saved = path.as_os_str().to_owned();
            saved.push(".bak");
            let saved = PathBuf::from(saved);
            std::fs::write(&saved, &old).map_err(|e| {
                fail(
                    ErrorKind::Failed,
                    format!("cannot keep a backup in {}: {e}", saved.display()),
                    Some("pass --no-backup to rewrite without one"),
                )
            })?;
            write_atomic(path, &new)?;
            printer.status(format!(
                "rewrote {} (the original is in {})",
                path.display(),
                saved.display()
            ));
        } else {
            write_atomic(path, &new)?;
            printer.status(format!("rewrote {}", path.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_targets_are_rewritten_and_order_kept() {
        let (out, slugs) = rewrite_text(
            r#"{"strategy": {"mode": "fallback"}, "targets": [{"virtual_key": "a", "weight": 1}, {"strategy": {"mode": "loadbalance"}, "targets": [{"virtual_key": "b"}]}]}"#,
        )
        .unwrap();
        assert_eq!(slugs, ["a", "b"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["targets"][0]["provider"], "@a");
        assert_eq!(v["targets"][1]["targets"][0]["provider"], "@b");
        assert!(out.find("\"provider\"").unwrap() < out.find("\"weight\"").unwrap());
        assert!(rewrite_text(r#"{"virtual_key": "a", "provider": "@b"}"#).is_err());
    }

    #[test]
    fn comments_and_layout_are_kept() {
        let text = "{\n  // the main route\n  \"virtual_key\": \"a\", /* inline */\n  \"retry\": {\"attempts\": 3, \"on_status_codes\": [429, 500]}\n}\n";
        let (out, slugs) = rewrite_text(text).unwrap();
        assert_eq!(slugs, ["a"]);
        assert_eq!(
            out,
            "{\n  // the main route\n  \"provider\": \"@a\", /* inline */\n  \"retry\": {\"attempts\": 3, \"on_status_codes\": [429, 500]}\n}\n"
        );
        // A `virtual_key` inside a comment or a string value is not a reference.
        let (_, none) = rewrite_text("{\"note\": \"virtual_key\" // virtual_key: x\n}").unwrap();
        assert!(none.is_empty());
    }
}
