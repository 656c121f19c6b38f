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

/// The rewritten text of a config, and how many references changed.
pub fn rewrite_text(text: &str) -> Result<(String, usize), String> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(root) = &mut value else {
        return Err("a gateway config is a JSON object".to_owned());
    };
    let changed = rewrite_object(root, "the config")?;
    let mut out = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
    out.push('\n');
    Ok((out, changed))
}

pub fn run(ctx: &Ctx, paths: &[PathBuf], dry_run: bool) -> anyhow::Result<()> {
    let printer = ctx.printer();
    let mut planned: Vec<(&Path, String)> = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(
                ErrorKind::Usage,
                format!("cannot read {}: {e}", path.display()),
                None,
            )
        })?;
        let (new, changed) = rewrite_text(&text)
            .map_err(|e| fail(ErrorKind::Usage, format!("{}: {e}", path.display()), None))?;
        if changed == 0 {
            printer.status(format!("{}: no `virtual_key` to rewrite", path.display()));
            continue;
        }
        let name = path.display().to_string();
        let diff = TextDiff::from_lines(&text, &new)
            .unified_diff()
            .header(&name, &name)
            .to_string();
        printer.raw(diff.trim_end());
        printer.status(format!(
            "{}: {changed} reference(s) to rewrite",
            path.display()
        ));
        planned.push((path, new));
    }
    if planned.is_empty() || dry_run {
        if dry_run {
            printer.status("dry run: nothing was written");
        }
        return Ok(());
    }
    ctx.prompter()
        .confirm_destructive(&format!("Rewrite {} file(s)?", planned.len()))?;
    for (path, new) in planned {
        write_atomic(path, &new)?;
        printer.status(format!("rewrote {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_targets_are_rewritten_and_order_kept() {
        let (out, n) = rewrite_text(
            r#"{"strategy": {"mode": "fallback"}, "targets": [{"virtual_key": "a", "weight": 1}, {"strategy": {"mode": "loadbalance"}, "targets": [{"virtual_key": "b"}]}]}"#,
        )
        .unwrap();
        assert_eq!(n, 2);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["targets"][0]["provider"], "@a");
        assert_eq!(v["targets"][1]["targets"][0]["provider"], "@b");
        assert!(out.find("\"provider\"").unwrap() < out.find("\"weight\"").unwrap());
        assert!(rewrite_text(r#"{"virtual_key": "a", "provider": "@b"}"#).is_err());
    }
}
