//! Profiles and workspace keys: `auth use`, `auth status` listing profiles, and a
//! workspace admin logged in with a workspace key acting in its own workspace without
//! `--workspace` and without listing workspaces.

use std::io::Write;
use std::process::Stdio;

use crate::common::{Mode, World, ADMIN_KEY};

/// `catalog auth login` with the key on stdin, without CATALOG_API_KEY, into a 0600 file.
fn login(w: &World, profile: &str, key: &str) -> crate::common::Output {
    let url = w.server.as_ref().unwrap().url.clone();
    let mut cmd = w.command(&[
        "auth",
        "login",
        "--profile",
        profile,
        "--base-url",
        &url,
        "--api-key-stdin",
        "--insecure-storage",
    ]);
    cmd.env_remove("CATALOG_API_KEY")
        .env_remove("CATALOG_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(key.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    crate::common::Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A command run on the stored profiles only (no CATALOG_API_KEY / CATALOG_BASE_URL).
fn on_profiles(w: &World, args: &[&str]) -> crate::common::Output {
    let mut cmd = w.command(args);
    cmd.env_remove("CATALOG_API_KEY")
        .env_remove("CATALOG_BASE_URL");
    w.run_cmd(cmd)
}

#[test]
fn auth_use_switches_between_profiles_and_the_embedded_catalog() {
    let w = World::new(Mode::Served);
    let out = login(&w, "team", ADMIN_KEY);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("now the current profile"), "{out:?}");
    w.ok(&["workspaces", "create", "served-only"]);
    let status = on_profiles(&w, &["auth", "status", "-o", "json"]);
    let status = status.json();
    assert_eq!(status["mode"], "remote", "{status}");
    assert_eq!(status["profiles"][0]["name"], "team");
    assert_eq!(status["profiles"][0]["current"], true);

    let out = on_profiles(&w, &["auth", "use", "embedded"]);
    assert_eq!(out.code, 0, "{out:?}");
    let listed = on_profiles(&w, &["workspaces", "list", "-o", "json"]).json();
    assert!(
        listed.as_array().unwrap().is_empty(),
        "embedded again: {listed}"
    );
    let out = on_profiles(&w, &["auth", "use", "team"]);
    assert_eq!(out.code, 0, "{out:?}");
    let listed = on_profiles(&w, &["workspaces", "list", "-o", "json"]).json();
    assert_eq!(listed[0]["name"], "served-only", "{listed}");
    let out = on_profiles(&w, &["auth", "use", "nope"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("team"), "{out:?}");
}

#[test]
fn a_workspace_key_acts_in_its_own_workspace() {
    let w = World::new(Mode::Served);
    w.ok(&["workspaces", "create", "eng"]);
    w.ok(&[
        "integrations",
        "connect",
        "openai-prod",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
        "--provision",
        "eng",
        "--skip-models",
    ]);
    let key_file = w.home.path().join("ws.key");
    w.ok(&[
        "api-keys",
        "create",
        "eng-admin",
        "--workspace",
        "eng",
        "--scope",
        "providers.list",
        "--scope",
        "providers.read",
        "--scope",
        "providers.create",
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    let key = std::fs::read_to_string(&key_file).unwrap();
    let out = login(&w, "eng", key.trim());
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("workspace key of `ws-eng-"), "{out:?}");
    let status = on_profiles(&w, &["auth", "status", "-o", "json"]).json();
    assert!(
        status["workspace"].as_str().unwrap().starts_with("ws-eng-")
            && status["workspace_is_the_keys"] == true,
        "{status}"
    );
    // No --workspace: the key's own; and no request lists workspaces.
    let before = w.server.as_ref().unwrap().log();
    let out = on_profiles(&w, &["providers", "list", "-o", "json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()[0]["slug"], "openai-prod", "{out:?}");
    let log = w.server.as_ref().unwrap().log();
    assert!(
        !log[before.len()..].contains("/admin/workspaces"),
        "{}",
        &log[before.len()..]
    );
}

#[test]
fn a_workspace_key_in_the_environment_names_its_own_workspace() {
    let w = World::new(Mode::Served);
    w.ok(&["workspaces", "create", "eng"]);
    let slug = w.json(&["workspaces", "get", "eng"])["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_file = w.home.path().join("ws.key");
    w.ok(&[
        "api-keys",
        "create",
        "eng-admin",
        "--workspace",
        "eng",
        "--scope",
        "providers.list",
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    let key = std::fs::read_to_string(&key_file).unwrap();
    for args in [
        vec!["providers", "list", "-o", "json"],
        vec!["providers", "list", "--workspace", &slug, "-o", "json"],
    ] {
        let mut cmd = w.command(&args);
        cmd.env("CATALOG_API_KEY", key.trim());
        let out = w.run_cmd(cmd);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
    }
    // By name, or another workspace: it says whose key it is.
    let mut cmd = w.command(&["providers", "list", "--workspace", "research"]);
    cmd.env("CATALOG_API_KEY", key.trim());
    let out = w.run_cmd(cmd);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "belongs to workspace `{slug}` and cannot reach `research`"
        )),
        "{out:?}"
    );
}

#[test]
fn org_settings_are_shown_and_changed() {
    let w = World::new(Mode::Embedded);
    let shown = w.json(&["org", "settings"]);
    assert_eq!(shown["allow_workspace_integrations"], true, "{shown}");
    let changed = w.json(&["org", "settings", "--allow-workspace-integrations", "false"]);
    assert_eq!(changed["allow_workspace_integrations"], false, "{changed}");
    assert_eq!(
        w.json(&["org", "settings"])["allow_workspace_integrations"],
        false
    );
    let again = w.ok(&["org", "settings", "--allow-workspace-integrations", "false"]);
    assert!(again.stderr.contains("unchanged"), "{again:?}");
    w.fails(
        &["org", "settings", "--allow-workspace-integrations", "maybe"],
        2,
        "--allow-workspace-integrations",
    );
}

#[test]
fn a_wrong_key_is_refused_at_login_and_nothing_is_stored() {
    let w = World::new(Mode::Served);
    let out = login(&w, "team", "not-a-key-0000000000000000");
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("not accepted"), "{out:?}");
    let status = on_profiles(&w, &["auth", "status", "-o", "json"]).json();
    assert!(
        status["profiles"].as_array().unwrap().is_empty(),
        "{status}"
    );
}
