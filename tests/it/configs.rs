//! Saved gateway configs: `catalog configs` on both transports, and `/configs` as the
//! contract shapes it (config as JSON text, versions, workspace isolation, scopes).

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::common::{assert_error, both, Api, Mode, World};
use crate::scopes::key;

const FALLBACK: &str = include_str!("../golden/gateway_config.json");

fn file(w: &World, name: &str, text: &str) -> PathBuf {
    let path = w.home.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn parsed(text: &Value) -> Value {
    serde_json::from_str(text.as_str().expect("config is JSON text")).unwrap()
}

#[test]
fn configs_are_saved_versioned_and_deleted_through_the_cli() {
    both(|w| {
        for ws in ["eng", "research"] {
            w.ok(&["workspaces", "create", ws]);
        }
        let gw = file(w, "gw.json", FALLBACK);
        let created = w.json(&[
            "configs",
            "create",
            "--name",
            "Fallback chain",
            "--file",
            gw.to_str().unwrap(),
            "--workspace",
            "eng",
        ]);
        let slug = created["slug"].as_str().unwrap().to_owned();
        assert!(slug.starts_with("pc-fallba-") && slug.len() == 16, "{slug}");
        assert_eq!(created["name"], "Fallback chain");
        assert_eq!(created["status"], "active");
        assert_eq!(created["is_default"], 0);
        assert_eq!(created["format"], "json");
        assert_eq!(created["type"], "ORG_CONFIG");
        assert_eq!(
            parsed(&created["config"]),
            serde_json::from_str::<Value>(FALLBACK).unwrap()
        );
        let first_version = created["version_id"].as_str().unwrap().to_owned();

        // Listing: by workspace, or everything the key sees.
        assert_eq!(
            w.json(&["configs", "list", "--workspace", "eng"])[0]["slug"],
            slug
        );
        assert_eq!(
            w.json(&["configs", "list", "--workspace", "research"]),
            json!([])
        );
        assert_eq!(w.json(&["configs", "list"]).as_array().unwrap().len(), 1);
        let table = w.ok(&["configs", "list"]).stdout;
        assert!(
            table.contains(&slug) && table.contains("fallback (2 targets)"),
            "{table}"
        );

        // A new body is a new version; a rename is not. Stdin works as `-`.
        let simple = file(
            w,
            "simple.json",
            r#"{"provider": "@openai-prod", "retry": {"attempts": 3}}"#,
        );
        let mut cmd = w.command(&["configs", "update", &slug, "--file", "-", "-o", "json"]);
        cmd.stdin(std::fs::File::open(&simple).unwrap());
        let out = w.run_cmd(cmd);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stderr.contains("(a new version)"), "{out:?}");
        let updated = out.json();
        assert_ne!(updated["version_id"], first_version.as_str());
        assert_eq!(parsed(&updated["config"])["retry"]["attempts"], 3);
        let renamed = w.json(&[
            "configs", "update", &slug, "--name", "Simple", "--status", "archived",
        ]);
        assert_eq!(renamed["name"], "Simple");
        assert_eq!(renamed["status"], "archived");
        w.fails(&["configs", "update", &slug], 2, "nothing to update");
        assert_eq!(renamed["version_id"], updated["version_id"]);
        let versions = w.json(&["configs", "versions", &slug]);
        let versions = versions.as_array().unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0]["version"], 2, "newest first");
        assert_eq!(versions[0]["id"], updated["version_id"]);
        assert_eq!(
            parsed(&versions[1]["config"])["strategy"]["mode"],
            "fallback"
        );
        assert_eq!(w.json(&["configs", "get", &slug])["name"], "Simple");

        // Deleting asks, or takes --yes; then the config is gone.
        w.fails(&["configs", "delete", &slug], 2, "--yes");
        w.ok(&["configs", "delete", &slug, "--yes"]);
        w.fails(&["configs", "get", &slug], 4, "not found");
        assert_eq!(w.json(&["configs", "list"]), json!([]));
    });
}

#[test]
fn bad_config_files_name_the_file_and_the_field() {
    let w = World::new(Mode::Embedded);
    w.ok(&["workspaces", "create", "eng"]);
    let create = |path: &str| {
        w.run(&[
            "configs",
            "create",
            "--name",
            "x",
            "--workspace",
            "eng",
            "--file",
            path,
        ])
    };
    let missing = w.home.path().join("nope.json");
    let out = create(missing.to_str().unwrap());
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("nope.json"), "{out:?}");

    let broken = file(&w, "broken.json", "{\n  \"provider\": \"@a\",\n}\n");
    let out = create(broken.to_str().unwrap());
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("broken.json is not valid JSON: line 3, column 1"),
        "{out:?}"
    );

    let cases = [
        (
            r#"{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "@a"}, {"provider": "@b", "weight": -1}]}"#,
            "`targets[1].weight` must be a number of 0 or more",
        ),
        (
            r#"{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "@a", "wieght": 1}]}"#,
            "`targets[0].wieght` is not a config field; did you mean `weight`?",
        ),
        (
            r#"{"retry": {"attempts": 9}}"#,
            "`retry.attempts` must be a whole number from 0 to 5",
        ),
        (
            r#"{"strategy": {"mode": "fallback", "on_status_codes": [429, 700]}, "targets": [{"provider": "@a"}]}"#,
            "`strategy.on_status_codes[1]` must be an HTTP status from 100 to 599",
        ),
        (
            r#"{"mode": "fallback", "options": [{"provider": "openai"}]}"#,
            "rename `options` to `targets`",
        ),
        (
            r#"{"provider": "openai", "api_key": "sk-inline"}"#,
            "`api_key` holds a credential",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let path = file(&w, &format!("bad{i}.json"), text);
        let out = create(path.to_str().unwrap());
        assert_eq!(out.code, 2, "{text}: {out:?}");
        assert!(out.stderr.contains(&format!("bad{i}.json")), "{out:?}");
        assert!(out.stderr.contains(needle), "{text}: {out:?}");
    }
    assert_eq!(w.json(&["configs", "list"]), json!([]), "nothing was saved");
    assert!(
        !w.everything_seen().contains("sk-inline"),
        "a refused credential is not echoed"
    );
}

/// Creates workspaces `eng` and `research` on a served catalog; their slugs.
fn served() -> (World, Api, String, String) {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let mut slugs = Vec::new();
    for name in ["eng", "research"] {
        let (s, ws) = api.post("/admin/workspaces", json!({"name": name}));
        assert_eq!(s, 200, "{ws}");
        slugs.push(ws["slug"].as_str().unwrap().to_owned());
    }
    let research = slugs.pop().unwrap();
    let eng = slugs.pop().unwrap();
    (w, api, eng, research)
}

#[test]
fn the_admin_api_speaks_the_configs_contract() {
    let (_w, api, eng, _research) = served();
    let body =
        json!({"name": "fallback", "config": serde_json::from_str::<Value>(FALLBACK).unwrap()});
    assert_error(
        api.post("/configs", body.clone()),
        400,
        "AB01",
        "`workspace_id` is required",
    );

    let mut with_ws = body.clone();
    with_ws["workspace_id"] = json!(eng);
    let (s, created) = api.post("/configs", with_ws.clone());
    assert_eq!(s, 200, "{created}");
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "slug", "version_id"]);
    let slug = created["slug"].as_str().unwrap();

    // Retrieve by slug or id: flat, with `config` as JSON text.
    let (s, got) = api.get(&format!("/configs/{slug}"));
    assert_eq!(s, 200, "{got}");
    assert!(got.get("success").is_none() && got.get("data").is_none());
    assert!(got["config"].is_string(), "{got}");
    assert_eq!(
        parsed(&got["config"])["targets"][1]["targets"][0]["weight"],
        0.7
    );
    for field in [
        "id",
        "slug",
        "name",
        "workspace_id",
        "status",
        "is_default",
        "created_at",
        "last_updated_at",
        "format",
        "type",
        "version_id",
    ] {
        assert!(!got[field].is_null(), "{field} missing: {got}");
    }
    assert_eq!(got["version_id"], created["version_id"]);
    let (s, by_id) = api.get(&format!("/configs/{}", created["id"].as_str().unwrap()));
    assert_eq!((s, &by_id["slug"]), (200, &got["slug"]));

    let (s, list) = api.get(&format!(
        "/configs?workspace_id={eng}&page_size=1&current_page=0"
    ));
    assert_eq!(s, 200);
    assert_eq!(
        (list["object"].as_str(), list["total"].as_u64()),
        (Some("list"), Some(1))
    );
    assert_eq!(list["data"][0]["object"], "config");

    // Update: a changed config is a new version, answered with the whole object.
    let (s, up) = api.put(
        &format!("/configs/{slug}"),
        json!({"config": {"provider": "@openai-prod"}, "status": "archived"}),
    );
    assert_eq!(s, 200, "{up}");
    assert_ne!(up["version_id"], created["version_id"]);
    assert_eq!(up["status"], "archived");
    let (s, same) = api.put(
        &format!("/configs/{slug}"),
        json!({"config": {"provider": "@openai-prod"}}),
    );
    assert_eq!(s, 200);
    assert_eq!(
        same["version_id"], up["version_id"],
        "an unchanged config is no new version"
    );
    let (s, versions) = api.get(&format!("/configs/{slug}/versions"));
    assert_eq!(s, 200);
    assert_eq!(versions["total"], 2);
    assert_eq!(versions["data"][0]["id"], up["version_id"]);
    assert_eq!(
        parsed(&versions["data"][1]["config"])["strategy"]["mode"],
        "fallback"
    );

    // Validation: 400 AB01 naming the field under `config`.
    assert_error(
        api.put(
            &format!("/configs/{slug}"),
            json!({"config": {"request_timeout": -5}}),
        ),
        400,
        "AB01",
        "`config` is invalid: `request_timeout` must be a whole number of milliseconds",
    );
    assert_error(
        api.post(
            "/configs",
            json!({"name": "v1", "workspace_id": eng, "config": {"mode": "single", "options": []}}),
        ),
        400,
        "AB01",
        "`options`",
    );
    assert_error(
        api.post(
            "/configs",
            json!({"name": "x", "workspace_id": eng, "config": "{}"}),
        ),
        400,
        "AB01",
        "`config`",
    );
    assert_error(
        api.put(&format!("/configs/{slug}"), json!({"status": "deleted"})),
        400,
        "AB01",
        "`status`",
    );

    // One default per workspace.
    let (_, second) = api.post(
        "/configs",
        json!({"name": "b", "workspace_id": eng, "isDefault": 1, "config": {"provider": "@b"}}),
    );
    let (_, third) = api.post(
        "/configs",
        json!({"name": "c", "workspace_id": eng, "isDefault": 1, "config": {"provider": "@c"}}),
    );
    let (_, b) = api.get(&format!("/configs/{}", second["slug"].as_str().unwrap()));
    let (_, c) = api.get(&format!("/configs/{}", third["slug"].as_str().unwrap()));
    assert_eq!(
        (b["is_default"].as_u64(), c["is_default"].as_u64()),
        (Some(0), Some(1))
    );

    // A workspace with configs is not deleted without force; with force they go too.
    assert_error(
        api.delete(&format!("/admin/workspaces/{eng}"), Some(json!({}))),
        409,
        "AB07",
        "config(s)",
    );
    let (s, _) = api.delete(&format!("/configs/{slug}"), None);
    assert_eq!(s, 200);
    assert_error(
        api.get(&format!("/configs/{slug}")),
        404,
        "AB08",
        "not found",
    );
    let (s, _) = api.delete(
        &format!("/admin/workspaces/{eng}"),
        Some(json!({"force_delete": true})),
    );
    assert_eq!(s, 200);
    let (_, all) = api.get("/configs");
    assert_eq!(all["total"], 0, "{all}");
}

#[test]
fn a_workspace_key_sees_its_own_configs_only_and_needs_each_scope() {
    let (_w, api, eng, research) = served();
    let (s, theirs) = api.post(
        "/configs",
        json!({"name": "theirs", "workspace_id": research, "config": {"provider": "@r"}}),
    );
    assert_eq!(s, 200, "{theirs}");
    let theirs = theirs["slug"].as_str().unwrap();
    let (k, _) = key(
        &api,
        "/api-keys/workspace/service",
        json!({"name": "eng-ci", "workspace_id": eng,
               "scopes": ["configs.create", "configs.read", "configs.list"]}),
    );
    // Created in its own workspace without naming it.
    let (s, mine) = k.post(
        "/configs",
        json!({"name": "mine", "config": {"provider": "@e"}}),
    );
    assert_eq!(s, 200, "{mine}");
    let mine = mine["slug"].as_str().unwrap();
    let (s, list) = k.get("/configs");
    assert_eq!(s, 200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["slug"], mine);

    // Another workspace's config does not exist for it.
    assert_error(
        k.get(&format!("/configs/{theirs}")),
        404,
        "AB08",
        "not found",
    );
    assert_error(
        k.get(&format!("/configs/{theirs}/versions")),
        404,
        "AB08",
        "not found",
    );
    assert_error(
        k.post(
            "/configs",
            json!({"name": "x", "workspace_id": research, "config": {"provider": "@e"}}),
        ),
        403,
        "AB03",
        "another workspace",
    );
    assert_error(
        k.get(&format!("/configs?workspace_id={research}")),
        403,
        "AB03",
        "another workspace",
    );

    // Scopes it lacks.
    assert_error(
        k.put(&format!("/configs/{mine}"), json!({"name": "y"})),
        403,
        "AB03",
        "`configs.update`",
    );
    assert_error(
        k.delete(&format!("/configs/{mine}")),
        403,
        "AB03",
        "`configs.delete`",
    );
    let (lister, _) = key(
        &api,
        "/api-keys/workspace/service",
        json!({"name": "eng-list", "workspace_id": eng, "scopes": ["configs.list"]}),
    );
    assert_error(
        lister.get(&format!("/configs/{mine}")),
        403,
        "AB03",
        "`configs.read`",
    );
    assert_eq!(
        lister.get("/configs").0,
        200,
        "`configs.list` lists without reading"
    );
}

#[test]
fn the_cli_with_a_workspace_key_lists_its_own_workspace() {
    let (w, api, eng, research) = served();
    for (name, ws) in [("a", &eng), ("b", &research)] {
        let (s, _) = api.post(
            "/configs",
            json!({"name": name, "workspace_id": ws, "config": {"provider": "@p"}}),
        );
        assert_eq!(s, 200);
    }
    let (k, _) = key(
        &api,
        "/api-keys/workspace/service",
        json!({"name": "eng-ci", "workspace_id": eng, "scopes": ["configs.list", "configs.read"]}),
    );
    let mut cmd = w.command(&["configs", "list", "-o", "json"]);
    cmd.env("CATALOG_API_KEY", &k.key);
    let out = w.run_cmd(cmd);
    assert_eq!(out.code, 0, "{out:?}");
    let list = out.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "a");
}
