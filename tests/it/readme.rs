//! The README runs as written: every `catalog` line of its tour (from "A short tour"
//! through "Migrating legacy virtual keys"), in order, on a fresh embedded catalog, with
//! the secrets it exports taken from the environment and files.

use crate::common::{Mode, World, PROVIDER_KEY};

/// The tour's shell lines: continuation lines joined, comments and blank lines dropped.
fn tour_lines(readme: &str) -> Vec<String> {
    let start = readme
        .find("## A short tour")
        .expect("the README has a tour");
    let end = readme[start..]
        .find("## Serving a team")
        .map_or(readme.len(), |e| start + e);
    let mut lines = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in readme[start..end].lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block && line.trim() == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let text = line.trim();
        if let Some(head) = text.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(text);
        let full = std::mem::take(&mut pending);
        if !full.is_empty() && !full.starts_with('#') {
            lines.push(full);
        }
    }
    lines
}

#[test]
fn the_readme_tour_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let lines = tour_lines(&readme);
    let commands = lines.iter().filter(|l| l.starts_with("catalog ")).count();
    assert!(
        commands > 30,
        "the tour has {commands} commands: {lines:#?}"
    );

    let mut w = World::new(Mode::Embedded);
    let dir = w.home.path().join("tour");
    std::fs::create_dir_all(dir.join("gateway")).unwrap();
    std::fs::write(dir.join("key.txt"), format!("{PROVIDER_KEY}\n")).unwrap();
    std::fs::write(dir.join("new-key"), "sk-test-NEWKEY-5e6f7a8b9c0d1e2f\n").unwrap();
    std::fs::write(
        dir.join("gateway/app.json"),
        "{\n  \"virtual_key\": \"openai-prod\"\n}\n",
    )
    .unwrap();
    let mut secrets = vec![PROVIDER_KEY.to_owned()];
    for line in &lines {
        if let Some(assignment) = line.strip_prefix("export ") {
            // `export NAME=...`: the tour's secrets come from the environment.
            let name = assignment.split('=').next().unwrap().trim().to_owned();
            let value = format!("sk-test-{name}-9a8b7c6d5e4f3a2b");
            secrets.push(value.clone());
            w.extra_env.push((name, value));
            continue;
        }
        assert!(line.starts_with("catalog "), "not a catalog line: {line}");
        let out = w.run_cmd(w.shell(line, &dir));
        assert_eq!(out.code, 0, "README line failed: {line}\n{out:?}");
    }
    let seen = w.everything_seen();
    for secret in secrets {
        assert!(!seen.contains(&secret), "a secret was shown");
    }
}
