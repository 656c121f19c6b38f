//! Reading and checking a catalog file before anything is written: every error names the
//! file, line and column, the field, and the fix.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::file::{CatalogFile, SecretRef};
use crate::api::gateway_config::{check_saved, SavedConfigError, CREDENTIAL_FIX};
use crate::exit::{CliError, ErrorKind};
use crate::services;

/// A file read and checked.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub file: CatalogFile,
    pub path: PathBuf,
    /// Where `{file: PATH}` references are resolved from.
    pub base_dir: PathBuf,
}

/// Reads `path` (`-` is stdin) and checks it whole.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!("cannot read `{}`: {e}", path.display())).with_hint(
                "pass the catalog file with `-f FILE`; `catalog export --out FILE` writes one",
            )
        })?
    };
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let file = parse(&text, &path.display().to_string())?;
    Ok(Loaded {
        file,
        path: path.to_path_buf(),
        base_dir,
    })
}

/// Parses and checks the text of a file named `name` (for messages).
pub fn parse(text: &str, name: &str) -> anyhow::Result<CatalogFile> {
    let mut file: CatalogFile = if text.trim().is_empty() {
        CatalogFile::default()
    } else {
        // A key given twice in one map (`metadata: {team: a, team: b}`) is refused, not
        // silently the last: the untyped read checks every mapping for it.
        if let Err(e) = serde_yaml::from_str::<serde_yaml::Value>(text) {
            return Err(yaml_error(&e, "", text, name));
        }
        serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text))
            .map_err(|e| yaml_error(e.inner(), &e.path().to_string(), text, name))?
    };
    // One spelling per instant, as the server keeps it: a date is its midnight UTC.
    for pr in &mut file.providers {
        if let Some(at) = pr
            .expires_at
            .as_deref()
            .and_then(|e| crate::types::parse_instant(e).ok())
        {
            pr.expires_at = Some(at);
        }
    }
    check(&file, text, name)?;
    Ok(file)
}

fn yaml_error(e: &serde_yaml::Error, path: &str, text: &str, name: &str) -> anyhow::Error {
    let full = e.to_string();
    // serde_yaml appends " at line L column C"; the location is given in front instead.
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_owned(),
        None => full.clone(),
    };
    let (mut line, mut column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
    let what = match message.split_once(": ") {
        Some((p, rest)) if !p.contains(' ') => rest.to_owned(),
        _ => message.clone(),
    };
    let field = Some(path.to_owned()).filter(|p| !p.is_empty() && p != ".");
    // A value refused after it was read is reported at its parent: find its own key.
    if let Some(last) = path
        .rsplit('.')
        .next()
        .filter(|k| !k.contains('[') && !k.is_empty())
    {
        let lines: Vec<&str> = text.lines().collect();
        let starts = |l: &str| {
            let t = l.trim_start().trim_start_matches("- ");
            t.strip_prefix(last)
                .is_some_and(|r| r.trim_start().starts_with(':'))
        };
        if line >= 1 && !lines.get(line - 1).is_some_and(|l| starts(l)) {
            if let Some(i) = (line - 1..lines.len()).find(|i| starts(lines[*i])) {
                let l = lines[i];
                line = i + 1;
                column = l.len() - l.trim_start().trim_start_matches("- ").len() + 1;
            }
        }
    }
    let mut hint = None;
    if let Some(rest) = what.strip_prefix("unknown field `") {
        if let Some((typed, after)) = rest.split_once('`') {
            let known: Vec<&str> = after.split('`').skip(1).step_by(2).collect();
            hint = Some(
                match crate::suggest::closest(typed, known.iter().copied(), 1).first() {
                    Some(s) => format!(
                        "did you mean `{s}`? known fields here: {}",
                        known.join(", ")
                    ),
                    None => format!("known fields here: {}", known.join(", ")),
                },
            );
        }
    }
    let at = field.map(|f| format!("`{f}`: ")).unwrap_or_default();
    let err = CliError::usage(format!("{name}:{line}:{column}: {at}{what}"));
    match hint {
        Some(h) => err.with_hint(h).into(),
        None => err
            .with_hint("fix the file and run the command again; `catalog schema` prints the file's JSON Schema")
            .into(),
    }
}

/// One problem found after parsing, located by searching the text for `key: value`.
struct Problem<'a> {
    text: &'a str,
    name: &'a str,
}

impl Problem<'_> {
    fn at(&self, key: &str, value: &str, field: &str, message: &str, fix: &str) -> anyhow::Error {
        self.at_pos(locate(self.text, key, value), field, message, fix)
    }

    /// [`Self::at`] the last `key: value` of the text: where something declared twice is
    /// declared again.
    fn at_last(
        &self,
        key: &str,
        value: &str,
        field: &str,
        message: &str,
        fix: &str,
    ) -> anyhow::Error {
        let last = (0..)
            .map_while(|skip| find_key(self.text, 0, key, value, skip))
            .last()
            .unwrap_or_else(|| locate(self.text, key, value));
        self.at_pos(last, field, message, fix)
    }

    fn at_pos(
        &self,
        (line, column): (usize, usize),
        field: &str,
        message: &str,
        fix: &str,
    ) -> anyhow::Error {
        CliError::new(
            ErrorKind::Usage,
            format!("{}:{line}:{column}: `{field}`: {message}", self.name),
        )
        .with_hint(fix.to_owned())
        .into()
    }
}

/// The line and column of the first `key: value` (or `key:` when `value` is empty) in
/// `text`; else of `key` standing alone (an item of a list, `[a, b]` or `- a`).
pub fn locate(text: &str, key: &str, value: &str) -> (usize, usize) {
    find_key(text, 0, key, value, 0)
        .or_else(|| find_word(text, if value.is_empty() { key } else { value }))
        .unwrap_or((1, 1))
}

/// The line and column of the first `word` in `text` that is a whole item: not part of
/// a longer name.
fn find_word(text: &str, word: &str) -> Option<(usize, usize)> {
    if word.is_empty() {
        return None;
    }
    let part = |c: char| c.is_alphanumeric() || "-_./@".contains(c);
    for (n, line) in text.lines().enumerate() {
        for (at, _) in line.match_indices(word) {
            let before = line[..at].chars().next_back();
            let rest = &line[at + word.len()..];
            // `:` continues a name (`ft:gpt-4o:acme`) unless it ends a key (`name: `).
            let after = rest
                .chars()
                .next()
                .filter(|c| *c != ':' || rest[1..].starts_with(|c: char| !c.is_whitespace()));
            if !before.is_some_and(part) && !after.is_some_and(|c| part(c) || c == ':') {
                return Some((n + 1, line[..at].chars().count() + 1));
            }
        }
    }
    None
}

/// The line and column of the `skip + 1`-th `key: value` (or `key:` when `value` is
/// empty) after line `after` (1-based; 0 searches the whole text).
fn find_key(
    text: &str,
    after: usize,
    key: &str,
    value: &str,
    skip: usize,
) -> Option<(usize, usize)> {
    let mut skip = skip;
    for (i, line) in text.lines().enumerate().skip(after) {
        let trimmed = line.trim_start().trim_start_matches("- ");
        let col = line.len() - trimmed.len() + 1;
        for quoted in [key.to_owned(), format!("\"{key}\""), format!("'{key}'")] {
            if let Some(rest) = trimmed.strip_prefix(&quoted) {
                let rest = rest.trim_start();
                if let Some(v) = rest.strip_prefix(':') {
                    let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                    let v = v
                        .trim_end_matches(',')
                        .trim_matches(|c| c == '"' || c == '\'');
                    if value.is_empty() || v == value {
                        if skip == 0 {
                            return Some((i + 1, col));
                        }
                        skip -= 1;
                    }
                }
            }
        }
    }
    None
}

/// Checks the `configs:` list: names, workspaces, one config per name and workspace, and
/// each body as `catalog configs create` checks it.
fn check_configs(
    file: &CatalogFile,
    p: &Problem<'_>,
    known_ws: &dyn Fn(&str) -> bool,
) -> anyhow::Result<()> {
    let start = find_key(p.text, 0, "configs", "", 0).map_or(0, |(l, _)| l);
    let mut seen = BTreeSet::new();
    for (i, c) in file.configs.iter().enumerate() {
        let at = format!("configs[{i}]");
        // This entry's `name:` line: the n-th config of that name in the list.
        let nth = file.configs[..i]
            .iter()
            .filter(|o| o.name == c.name)
            .count();
        let entry = find_key(p.text, start, "name", &c.name, nth);
        let from = entry.map_or(start, |(l, _)| l.saturating_sub(1));
        let here = |key: &str, value: &str| {
            find_key(p.text, from, key, value, 0)
                .or_else(|| find_key(p.text, start, key, value, 0))
                .unwrap_or((1, 1))
        };
        if let Some(problem) = crate::api::text::name_problem(&c.name) {
            return Err(p.at_pos(
                entry.unwrap_or_else(|| here("name", "")),
                &format!("{at}.name"),
                &format!("a config's name {problem}"),
                "give the config a name: the file knows it by workspace and name",
            ));
        }
        if let Some(w) = &c.workspace {
            if !known_ws(w) {
                return Err(p.at_pos(
                    here("workspace", w),
                    &format!("{at}.workspace"),
                    &format!("names workspace `{w}`, which the file does not declare"),
                    "declare it under `workspaces` (workspaces are referred to by name)",
                ));
            }
        }
        if !seen.insert((c.workspace.as_deref(), c.name.as_str())) {
            let scope = c
                .workspace
                .as_deref()
                .map_or("the organisation".to_owned(), |w| {
                    format!("workspace `{w}`")
                });
            return Err(p.at_pos(
                entry.unwrap_or_else(|| here("name", &c.name)),
                &format!("{at}.name"),
                &format!("config `{}` is declared twice in {scope}", c.name),
                "declare each config once: a config is known by its workspace and name",
            ));
        }
        let body = Value::Object(c.config.clone());
        if let Err(e) = check_saved(&body) {
            let path = match &e {
                SavedConfigError::Invalid(e) => e.path.clone(),
                SavedConfigError::Credential(path) => path.clone(),
                SavedConfigError::NotAnObject => String::new(),
            };
            // The bad field's own key where it is on a line of its own, else `config:`.
            let last = path
                .rsplit('.')
                .next()
                .map(|k| k.split('[').next().unwrap_or(k))
                .unwrap_or("");
            let pos = Some(last)
                .filter(|k| !k.is_empty())
                .and_then(|k| find_key(p.text, from, k, "", 0))
                .unwrap_or_else(|| here("config", ""));
            let field = if path.is_empty() {
                format!("{at}.config")
            } else {
                format!("{at}.config.{path}")
            };
            return Err(match e {
                SavedConfigError::Invalid(e) => p.at_pos(pos, &field, &e.problem, &e.fix),
                SavedConfigError::Credential(_) => p.at_pos(
                    pos,
                    &field,
                    "holds a credential, which a saved config must not: use an AI provider instead",
                    CREDENTIAL_FIX,
                ),
                SavedConfigError::NotAnObject => {
                    p.at_pos(pos, &field, &e.to_string(), "write the config as a map")
                }
            });
        }
    }
    Ok(())
}

fn check(file: &CatalogFile, text: &str, name: &str) -> anyhow::Result<()> {
    let p = Problem { text, name };
    let mut workspaces = BTreeSet::new();
    for (i, w) in file.workspaces.iter().enumerate() {
        let field = format!("workspaces[{i}].name");
        if w.name.trim().is_empty() {
            return Err(p.at(
                "name",
                "",
                &field,
                "a workspace needs a name",
                "give it a name",
            ));
        }
        if !workspaces.insert(w.name.as_str()) {
            return Err(p.at_last(
                "name",
                &w.name,
                &field,
                &format!("workspace `{}` is declared twice", w.name),
                "declare each workspace once",
            ));
        }
        if w.usage_limits.len() > 1 || w.rate_limits.len() > 1 {
            return Err(p.at(
                "name",
                &w.name,
                &format!("workspaces[{i}]"),
                "a workspace holds at most one budget and one rate limit",
                "keep one item in `usage_limits` and in `rate_limits`",
            ));
        }
    }
    let known_ws = |w: &str| workspaces.contains(w);
    let mut slugs = BTreeSet::new();
    for (i, g) in file.integrations.iter().enumerate() {
        let at = format!("integrations[{i}]");
        if !slugs.insert(g.slug.as_str()) {
            return Err(p.at_last(
                "slug",
                &g.slug,
                &format!("{at}.slug"),
                &format!("integration `{}` is declared twice", g.slug),
                "declare each integration once",
            ));
        }
        if crate::types::Slug::new(g.slug.clone()).is_err() {
            return Err(p.at(
                "slug",
                &g.slug,
                &format!("{at}.slug"),
                &format!("`{}` is not a slug", g.slug),
                "use letters, digits, `-` and `_` only",
            ));
        }
        let Some(service) = services::find(&g.service) else {
            let fix = match services::closest(&g.service) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "known services: {}",
                    services::ids().collect::<Vec<_>>().join(", ")
                ),
            };
            return Err(p.at(
                "service",
                &g.service,
                &format!("{at}.service"),
                &format!("unknown service `{}`", g.service),
                &fix,
            ));
        };
        if let Some(w) = &g.workspace {
            if !known_ws(w) {
                return Err(unknown_workspace(
                    &p,
                    "workspace",
                    w,
                    &format!("{at}.workspace"),
                ));
            }
        }
        for (key, value) in &g.configuration {
            let field = format!("{at}.configuration.{key}");
            let Some(known) = service.field(key) else {
                let names: Vec<&str> = service.all_fields().map(|f| f.name).collect();
                let fix = match crate::suggest::closest(key, names.iter().copied(), 1).first() {
                    Some(s) => format!(
                        "did you mean `{s}`? settings of `{}`: {}",
                        service.id,
                        names.join(", ")
                    ),
                    None => format!("settings of `{}`: {}", service.id, names.join(", ")),
                };
                return Err(p.at(
                    key,
                    "",
                    &field,
                    &format!("`{}` takes no setting `{key}`", service.id),
                    &fix,
                ));
            };
            match known.kind {
                services::Kind::Headers => {
                    let Some(map) = value.as_object() else {
                        return Err(p.at(key, "", &field, "custom headers are a map of header name to `{env: VAR}` or `{file: PATH}`", "write each header as `NAME: {env: VAR}`"));
                    };
                    for (h, v) in map {
                        if let Err(e) = SecretRef::from_value(v) {
                            return Err(p.at(h, "", &format!("{field}.{h}"), &e, "header values are credentials: write `{env: VAR}` or `{file: PATH}`"));
                        }
                    }
                }
                kind if kind.is_secret() => {
                    if let Err(e) = SecretRef::from_value(value) {
                        return Err(p.at(key, "", &field, &e, &format!("`{key}` is a secret: write `{key}: {{env: VAR}}` or `{key}: {{file: PATH}}`")));
                    }
                }
                _ => {
                    if is_reference(value) {
                        return Err(p.at(
                            key,
                            "",
                            &field,
                            "this setting is not a secret and takes its value in the file",
                            "write the value itself",
                        ));
                    }
                    if known.kind == services::Kind::Deployments {
                        check_deployment_fields(&p, &field, value)?;
                    }
                }
            }
        }
        // The service's own rules (required settings, allowed values, a key where one is
        // needed), as the server applies them: checked here, before anything is written.
        let service = crate::services::find(&g.service);
        let settings: serde_json::Map<String, Value> = g
            .configuration
            .iter()
            .map(|(k, v)| {
                let kind = service.and_then(|s| s.field(k)).map(|f| f.kind);
                (k.clone(), placeholders(v, kind))
            })
            .collect();
        if let Err(e) =
            crate::domain::provider_config::validate(&g.service, &settings, g.key.is_some())
        {
            return Err(p.at(
                "slug",
                &g.slug,
                &at,
                &e,
                "fix the integration's `configuration` or `key` as the message says",
            ));
        }
        if g.new_workspaces
            .as_ref()
            .is_some_and(|a| a.usage_limits.len() > 1 || a.rate_limits.len() > 1)
        {
            return Err(p.at(
                "new_workspaces",
                "",
                &format!("{at}.new_workspaces"),
                "an access holds at most one budget and one rate limit",
                "keep one item in each",
            ));
        }
        if let Some(m) = g.price_multiplier {
            if !(0.0..=100.0).contains(&m) || !m.is_finite() {
                return Err(p.at(
                    "price_multiplier",
                    "",
                    &format!("{at}.price_multiplier"),
                    &format!("must be between 0 and 100, got {m}"),
                    "0.8 is a 20% discount, 1 leaves prices unchanged",
                ));
            }
        }
        if g.usage_limits.len() > 1 {
            return Err(p.at(
                "usage_limits",
                "",
                &format!("{at}.usage_limits"),
                "holds at most one budget",
                "keep one item",
            ));
        }
        for (w, access) in &g.workspaces {
            if !known_ws(w) {
                return Err(unknown_workspace(
                    &p,
                    w,
                    "",
                    &format!("{at}.workspaces.{w}"),
                ));
            }
            if access.usage_limits.len() > 1 || access.rate_limits.len() > 1 {
                return Err(p.at(
                    w,
                    "",
                    &format!("{at}.workspaces.{w}"),
                    "an access holds at most one budget and one rate limit",
                    "keep one item in each",
                ));
            }
        }
        if let Some(models) = &g.models {
            let mut seen = BTreeSet::new();
            for s in models.allow.iter().chain(&models.deny) {
                if models.custom.iter().any(|c| c.slug == *s) {
                    return Err(p.at(
                        s,
                        "",
                        &format!("{at}.models"),
                        &format!("`{s}` is a custom model (under `custom`): `allow` and `deny` list the service's own models"),
                        "leave it out of `allow`/`deny`; a custom model is enabled unless it says `enabled: false`",
                    ));
                }
                if !seen.insert(s.as_str()) {
                    return Err(p.at(
                        "allow",
                        "",
                        &format!("{at}.models"),
                        &format!("model `{s}` is listed twice in `allow`/`deny`"),
                        "list each model once",
                    ));
                }
            }
            let priced = models.prices.iter().map(|(m, pr)| (m.as_str(), pr)).chain(
                models
                    .custom
                    .iter()
                    .filter_map(|c| c.prices.as_ref().map(|pr| (c.slug.as_str(), pr))),
            );
            for (model, pr) in priced {
                if let Some(bad) = pr.bad_price() {
                    return Err(p.at(
                        model,
                        "",
                        &format!("{at}.models"),
                        &format!("model `{model}`: {bad}"),
                        "prices are USD per million tokens, 0 or more",
                    ));
                }
            }
            // A typo in an allow-list would enable nothing and say nothing.
            let registry = crate::registry::Registry::builtin();
            let custom = |m: &str| models.custom.iter().any(|c| c.slug == m);
            if let Some(m) = models.prices.keys().find(|m| custom(m)) {
                return Err(p.at(
                    m,
                    "",
                    &format!("{at}.models.prices"),
                    &format!("`{m}` is a custom model: `prices` overrides the service's own models' prices"),
                    &format!("give its price under `custom`: `- slug: {m}` with `prices: {{input: ..., output: ...}}`"),
                ));
            }
            let bases = models.custom.iter().filter_map(|c| c.base.as_ref());
            let named = models
                .allow
                .iter()
                .map(|m| ("allow", m))
                .chain(models.deny.iter().map(|m| ("deny", m)))
                .chain(models.prices.keys().map(|m| ("prices", m)))
                .chain(bases.map(|m| ("custom", m)));
            for (list, m) in named {
                if registry.models(&g.service).is_empty()
                    || custom(m)
                    || registry.find(&g.service, m).is_some()
                    || registry.find(&g.service, &m.to_lowercase()).is_some()
                {
                    continue;
                }
                let near = registry.suggest(&g.service, &m.to_lowercase(), 3);
                let fix = if near.is_empty() {
                    "declare a model the registry does not know under `custom`".to_owned()
                } else {
                    format!(
                        "did you mean {}? declare a model the registry does not know under `custom`",
                        near.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                    )
                };
                return Err(p.at(
                    m,
                    "",
                    &format!("{at}.models.{list}"),
                    &format!("`{m}` is not a known `{}` model", g.service),
                    &fix,
                ));
            }
            for c in &models.custom {
                if !seen.insert(c.slug.as_str()) {
                    return Err(p.at(
                        "slug",
                        &c.slug,
                        &format!("{at}.models.custom"),
                        &format!("model `{}` is listed twice", c.slug),
                        "list each model once",
                    ));
                }
                if c.finetune && c.base.as_deref().unwrap_or("").is_empty() {
                    return Err(p.at(
                        "slug",
                        &c.slug,
                        &format!("{at}.models.custom"),
                        &format!("fine-tuned model `{}` needs `base`", c.slug),
                        "name the model it was tuned from: `base: gpt-4o`",
                    ));
                }
            }
        }
    }
    let mut providers = BTreeSet::new();
    for (i, pr) in file.providers.iter().enumerate() {
        let at = format!("providers[{i}]");
        if crate::domain::slugs::check_slug("slug", &pr.slug).is_err() {
            return Err(p.at(
                "slug",
                &pr.slug,
                &format!("{at}.slug"),
                &format!("`{}` is not a slug", pr.slug),
                "use 1 to 255 letters, digits, `-` and `_`",
            ));
        }
        if !known_ws(&pr.workspace) {
            return Err(unknown_workspace(
                &p,
                "workspace",
                &pr.workspace,
                &format!("{at}.workspace"),
            ));
        }
        let Some(g) = file.integrations.iter().find(|g| g.slug == pr.integration) else {
            return Err(p.at(
                "integration",
                &pr.integration,
                &format!("{at}.integration"),
                &format!(
                    "names integration `{}`, which the file does not declare",
                    pr.integration
                ),
                "declare it under `integrations`, or fix the slug",
            ));
        };
        if !providers.insert((pr.workspace.as_str(), pr.slug.as_str())) {
            return Err(p.at_last(
                "slug",
                &pr.slug,
                &format!("{at}.slug"),
                &format!(
                    "provider `@{}` is declared twice in `{}`",
                    pr.slug, pr.workspace
                ),
                "declare each provider once",
            ));
        }
        if let Some(e) = &pr.expires_at {
            if let Err(problem) = crate::types::parse_instant(e) {
                return Err(p.at(
                    "expires_at",
                    e,
                    &format!("{at}.expires_at"),
                    &problem,
                    "write a date (2027-01-31) or a timestamp (2027-01-31T00:00:00Z)",
                ));
            }
        }
        let provisioned = g.workspaces.contains_key(&pr.workspace)
            || g.workspace.as_deref() == Some(pr.workspace.as_str());
        if !provisioned {
            return Err(p.at(
                "slug",
                &pr.slug,
                &format!("{at}.workspace"),
                &format!(
                    "integration `{}` is not provisioned to workspace `{}`",
                    pr.integration, pr.workspace
                ),
                &format!(
                    "add `{}:` under `workspaces` of integration `{}`",
                    pr.workspace, pr.integration
                ),
            ));
        }
    }
    check_configs(file, &p, &known_ws)?;
    Ok(())
}

fn unknown_workspace(p: &Problem<'_>, key: &str, value: &str, field: &str) -> anyhow::Error {
    let name = if value.is_empty() { key } else { value };
    p.at(
        key,
        value,
        field,
        &format!("names workspace `{name}`, which the file does not declare"),
        "declare it under `workspaces` (workspaces are referred to by name)",
    )
}

/// The fields an Azure deployment takes.
const DEPLOYMENT_FIELDS: [&str; 5] = [
    "azure_deployment_name",
    "azure_api_version",
    "azure_model_slug",
    "alias",
    "is_default",
];

/// Refuses a field an Azure deployment does not take (a typo would be stored and do
/// nothing), at its line, with the closest known name.
fn check_deployment_fields(p: &Problem<'_>, field: &str, value: &Value) -> anyhow::Result<()> {
    for (i, item) in value.as_array().into_iter().flatten().enumerate() {
        for key in item.as_object().into_iter().flatten().map(|(k, _)| k) {
            if DEPLOYMENT_FIELDS.contains(&key.as_str()) {
                continue;
            }
            let fix = match crate::suggest::closest(key, DEPLOYMENT_FIELDS, 1).first() {
                Some(s) => format!(
                    "did you mean `{s}`? a deployment takes {}",
                    DEPLOYMENT_FIELDS.join(", ")
                ),
                None => format!("a deployment takes {}", DEPLOYMENT_FIELDS.join(", ")),
            };
            return Err(p.at(
                key,
                "",
                &format!("{field}[{i}].{key}"),
                "an Azure deployment takes no such field",
                &fix,
            ));
        }
    }
    Ok(())
}

/// A setting (of `kind`) as the service's rules see it: a secret reference stands for
/// its secret, a JSON object where the setting holds one (a service account); what it
/// reads is checked when it is read, at apply.
fn placeholders(value: &Value, kind: Option<crate::services::Kind>) -> Value {
    if is_reference(value) {
        return match kind {
            Some(crate::services::Kind::SecretObject) => Value::Object(Default::default()),
            _ => Value::String("secret-from-reference".to_owned()),
        };
    }
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), placeholders(v, None)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn is_reference(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.len() <= 3 && (m.contains_key("env") || m.contains_key("file")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        let e = parse(text, "catalog.yaml").unwrap_err();
        let c = e.downcast_ref::<CliError>().unwrap();
        format!("{} | {}", c.message, c.hint.clone().unwrap_or_default())
    }

    #[test]
    fn unknown_fields_name_line_column_and_the_closest_name() {
        let e = err("workspaces:\n  - name: eng\n    descripton: x\n");
        assert!(
            e.starts_with(
                "catalog.yaml:3:5: `workspaces[0].descripton`: unknown field `descripton`"
            ),
            "{e}"
        );
        assert!(e.contains("did you mean `description`?"), "{e}");
    }

    #[test]
    fn inline_secrets_are_refused_without_repeating_them() {
        let e = err("integrations:\n  - slug: a\n    service: openai\n    key: sk-live-123456\n");
        assert!(
            e.contains("catalog.yaml:4:") && e.contains("inline secret"),
            "{e}"
        );
        assert!(!e.contains("sk-live"), "{e}");
        let e = err("integrations:\n  - slug: b\n    service: bedrock\n    configuration:\n      aws_secret_access_key: abcdefgh\n");
        assert!(
            e.contains("catalog.yaml:5:7") && e.contains("inline secret"),
            "{e}"
        );
        assert!(!e.contains("abcdefgh"), "{e}");
    }

    #[test]
    fn budgets_follow_the_api_rules_with_a_location() {
        let e = err("workspaces:\n  - name: eng\n    usage_limits:\n      - type: cost\n        credit_limit: 100\n        alert_threshold: 200\n");
        assert!(e.starts_with("catalog.yaml:"), "{e}");
        assert!(e.contains("alert_threshold"), "{e}");
    }

    #[test]
    fn config_bodies_are_checked_as_configs_create_checks_them() {
        let head = "workspaces:\n  - name: eng\nconfigs:\n";
        let e = err(&format!("{head}  - name: a\n    workspace: eng\n    config:\n      targets:\n        - provider: openai\n          aws_secret_access_key: abcdefgh\n"));
        assert!(
            e.starts_with("catalog.yaml:9:11: `configs[0].config.targets[0].aws_secret_access_key`: holds a credential"),
            "{e}"
        );
        assert!(e.contains("AI provider") && !e.contains("abcdefgh"), "{e}");
        let e = err(&format!(
            "{head}  - name: a\n    workspace: eng\n    config: {{provider: '@x', weight: -1}}\n"
        ));
        assert!(
            e.starts_with(
                "catalog.yaml:6:5: `configs[0].config.weight`: must be a number of 0 or more"
            ),
            "{e}"
        );
        // The second `name: a` in `eng`, not the workspace or the first config.
        let e = err(&format!("{head}  - name: a\n    workspace: eng\n    config: {{}}\n  - name: b\n    workspace: eng\n    config: {{}}\n  - name: a\n    workspace: eng\n    config: {{}}\n"));
        assert!(
            e.starts_with("catalog.yaml:10:5: `configs[2].name`: config `a` is declared twice in workspace `eng`"),
            "{e}"
        );
        let e = err(&format!(
            "{head}  - name: ''\n    workspace: eng\n    config: {{}}\n"
        ));
        assert!(
            e.contains("`configs[0].name`: a config's name must not be empty"),
            "{e}"
        );
        let e = err("configs:\n  - name: a\n    workspace: ops\n    config: {}\n");
        assert!(
            e.starts_with("catalog.yaml:3:5:") && e.contains("workspace `ops`"),
            "{e}"
        );
    }

    #[test]
    fn a_key_given_twice_in_a_map_is_refused() {
        let e = err("workspaces:\n  - name: eng\n    metadata: {team: a, team: b}\n");
        assert!(e.contains("catalog.yaml:3:") && e.contains("team"), "{e}");
    }

    #[test]
    fn references_must_name_declared_objects() {
        let e = err(
            "integrations:\n  - slug: a\n    service: openai\n    key: {env: K}\n    workspaces:\n      eng: {}\n",
        );
        assert!(
            e.contains("catalog.yaml:6:7") && e.contains("workspace `eng`"),
            "{e}"
        );
        let e = err("integrations:\n  - slug: a\n    service: opnai\n");
        assert!(e.contains("did you mean `openai`"), "{e}");
    }
}
