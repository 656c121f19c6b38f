//! Model provisioning and the Model Garden through the CLI, on both transports.

use crate::common::{both, World};
use serde_json::Value;

fn garden(w: &World, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["models", "list", "--workspace", "eng"];
    args.extend_from_slice(extra);
    w.json(&args)
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

fn garden_model(w: &World, id: &str) -> Value {
    w.json(&["models", "list", "--workspace", "eng"])
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not in the garden"))
}

fn setup(w: &World) {
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
    ]);
}

#[test]
fn allow_deny_only_all_and_the_garden() {
    both(|w| {
        setup(w);
        let all = garden(w, &[]);
        assert!(
            all.len() > 50,
            "allow-all shows the registry: {}",
            all.len()
        );
        assert!(all.contains(&"@openai-prod/gpt-4.1".to_owned()));
        // gpt-4 is past its deprecation date: hidden unless asked for.
        assert!(!all.contains(&"@openai-prod/gpt-4".to_owned()));
        assert!(garden(w, &["--include-deprecated"]).contains(&"@openai-prod/gpt-4".to_owned()));

        // --only switches to an allow-list: other models leave the garden.
        let rows = w.json(&[
            "models",
            "allow",
            "@openai-prod",
            "--only",
            "gpt-4o,gpt-4o-mini",
        ]);
        assert!(
            rows.as_array()
                .unwrap()
                .iter()
                .all(|r| r["why"] == "allow-list"),
            "{rows}"
        );
        assert_eq!(
            garden(w, &[]),
            ["@openai-prod/gpt-4o", "@openai-prod/gpt-4o-mini"]
        );
        // allow adds to the list, deny removes from it.
        w.ok(&["models", "allow", "@openai-prod", "gpt-4.1"]);
        w.ok(&["models", "deny", "@openai-prod", "gpt-4o-mini"]);
        assert_eq!(
            garden(w, &[]),
            ["@openai-prod/gpt-4.1", "@openai-prod/gpt-4o"]
        );
        // --only again replaces the list.
        w.ok(&["models", "allow", "@openai-prod", "--only", "gpt-4o-mini"]);
        assert_eq!(garden(w, &[]), ["@openai-prod/gpt-4o-mini"]);
        // --all turns the allow-list off; denied models stay off.
        w.ok(&["models", "deny", "@openai-prod", "gpt-4.1"]);
        w.ok(&["models", "allow", "@openai-prod", "--all"]);
        let all = garden(w, &[]);
        assert!(all.len() > 50 && !all.contains(&"@openai-prod/gpt-4.1".to_owned()));
        // Filters.
        assert!(garden(w, &["--search", "gpt-4o-mini"])
            .iter()
            .all(|m| m.contains("gpt-4o-mini")));
        assert!(garden(w, &["--service", "anthropic"]).is_empty());
        assert_eq!(
            garden(
                w,
                &["--provider", "@openai-prod", "--search", "gpt-4o-mini"]
            )
            .len(),
            garden(w, &["--search", "gpt-4o-mini"]).len()
        );

        // Unknown models are refused with the closest names; --custom accepts them.
        let out = w.fails(
            &["models", "allow", "@openai-prod", "gpt-4o-mni"],
            2,
            "not a known `openai` model",
        );
        assert!(out.stderr.contains("`gpt-4o-mini`"), "{out:?}");
        w.ok(&[
            "models",
            "allow",
            "@openai-prod",
            "my-proxy-model",
            "--custom",
        ]);
        assert!(garden(w, &[]).contains(&"@openai-prod/my-proxy-model".to_owned()));

        // The connect wizard's model step checks names the same way.
        let out = w.fails(
            &[
                "integrations",
                "connect",
                "claude",
                "--service",
                "anthropic",
                "--key-env",
                "PROVIDER_KEY",
                "--models",
                "claude-sonet-4-5",
            ],
            2,
            "not a known `anthropic` model",
        );
        assert!(out.stderr.contains("`claude-sonnet-4-5`"), "{out:?}");
        w.fails(&["integrations", "get", "claude"], 4, "not found");
        w.ok(&[
            "integrations",
            "connect",
            "claude",
            "--service",
            "anthropic",
            "--key-env",
            "PROVIDER_KEY",
            "--models",
            "claude-internal",
            "--custom-models",
        ]);

        // A provider slug resolves to its integration, and says so.
        w.ok(&[
            "providers",
            "create",
            "eng-batch",
            "--integration",
            "openai-prod",
            "--workspace",
            "eng",
        ]);
        let out = w.ok(&[
            "models",
            "deny",
            "@eng-batch",
            "gpt-4.1",
            "--workspace",
            "eng",
        ]);
        assert!(
            out.stderr
                .contains("acting on its integration `openai-prod`"),
            "{out:?}"
        );
        w.fails(
            &["models", "deny", "@nope", "gpt-4o"],
            4,
            "no integration `nope`",
        );
    });
}

#[test]
fn custom_models_prices_and_multipliers() {
    both(|w| {
        setup(w);
        // A fine-tuned model with prices in USD per 1M tokens.
        // The header's value is a credential: it comes from the environment.
        let mut add = w.command(&[
            "models",
            "add",
            "@openai-prod",
            "ft:gpt-4o:acme",
            "--finetune",
            "--base",
            "gpt-4o",
            "--input-price",
            "3.75",
            "--output-price",
            "15",
            "--custom-host",
            "https://ft.internal/v1",
            "--header-env",
            "authorization=FT_AUTH",
        ]);
        add.env("FT_AUTH", "Bearer hdr-secret-0123456789");
        let out = w.run_cmd(add);
        assert_eq!(out.code, 0, "{out:?}");
        let ft = garden_model(w, "@openai-prod/ft:gpt-4o:acme");
        assert_eq!(ft["is_finetune"], true);
        assert_eq!(ft["pricing"]["input_per_mtok"], 3.75);
        assert_eq!(ft["pricing"]["output_per_mtok"], 15.0);
        assert_eq!(ft["max_input_tokens"], 128000);
        let table = w
            .ok(&[
                "models",
                "list",
                "--workspace",
                "eng",
                "--search",
                "acme",
                "-o",
                "table",
            ])
            .stdout;
        assert!(
            table.contains("3.75*") && table.contains("fine-tuned"),
            "{table}"
        );
        w.fails(
            &["models", "add", "@openai-prod", "ft:x", "--finetune"],
            2,
            "--base",
        );

        // A price override, then the integration's multiplier on top.
        w.ok(&[
            "models",
            "price",
            "@openai-prod/gpt-4o",
            "--input-price",
            "2",
            "--output-price",
            "8",
        ]);
        let p = garden_model(w, "@openai-prod/gpt-4o");
        assert_eq!(
            (
                p["pricing"]["input_per_mtok"].as_f64(),
                p["pricing"]["output_per_mtok"].as_f64()
            ),
            (Some(2.0), Some(8.0))
        );
        w.ok(&[
            "integrations",
            "update",
            "openai-prod",
            "--price-multiplier",
            "0.8",
        ]);
        let p = garden_model(w, "@openai-prod/gpt-4o");
        assert_eq!(
            (
                p["pricing"]["input_per_mtok"].as_f64(),
                p["pricing"]["output_per_mtok"].as_f64()
            ),
            (Some(1.6), Some(6.4))
        );
        w.ok(&["models", "price", "@openai-prod/gpt-4o", "--reset"]);
        assert_eq!(
            garden_model(w, "@openai-prod/gpt-4o")["pricing"]["input_per_mtok"],
            2.0,
            "registry 2.5 x 0.8"
        );
        w.fails(
            &["models", "price", "@openai-prod/gpt-4o"],
            2,
            "--input-price",
        );
        w.fails(
            &[
                "models",
                "price",
                "openai-prod/gpt-4o",
                "--input-price",
                "1",
            ],
            2,
            "@provider/model",
        );

        // Removing: a custom model goes, a built-in one is disabled.
        w.ok(&[
            "models",
            "remove",
            "@openai-prod",
            "ft:gpt-4o:acme",
            "gpt-4",
            "--yes",
        ]);
        let rows = w.json(&[
            "models",
            "list",
            "--integration",
            "openai-prod",
            "--include-deprecated",
        ]);
        let rows = rows.as_array().unwrap();
        assert!(!rows.iter().any(|r| r["slug"] == "ft:gpt-4o:acme"));
        let gpt4 = rows.iter().find(|r| r["slug"] == "gpt-4").unwrap();
        assert_eq!(gpt4["enabled"], false);
        // Disabled, and marked as past its deprecation date.
        assert!(
            gpt4["why"]
                .as_str()
                .unwrap()
                .starts_with("disabled; deprecated since"),
            "{gpt4}"
        );
        assert!(!garden(w, &["--include-deprecated"]).contains(&"@openai-prod/gpt-4".to_owned()));
        assert!(!w.everything_seen().contains("hdr-secret-0123456789"));
        assert!(!crate::common::contains(
            &crate::common::database_bytes(&w.db()),
            "hdr-secret-0123456789"
        ));
    });
}

#[test]
fn snippets_are_valid_code_naming_the_exact_model() {
    let w = World::new(crate::common::Mode::Embedded);
    setup(&w);
    let model = "@openai-prod/gpt-4o";
    let python3 = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok();
    for kind in ["python", "openai-python", "node", "curl"] {
        let code = w
            .ok(&[
                "models",
                "show",
                model,
                "--workspace",
                "eng",
                "--snippet",
                kind,
            ])
            .stdout;
        assert!(code.contains(&format!("\"{model}\"")), "{kind}: {code}");
        // The embedded catalog's providers are called through its local `catalog serve`.
        assert!(code.contains("http://127.0.0.1:8787/v1"), "{kind}: {code}");
        match kind {
            "curl" => {
                let body = code
                    .split("-d '")
                    .nth(1)
                    .and_then(|b| b.rsplit_once('\''))
                    .map(|(b, _)| b)
                    .unwrap();
                let json: Value = serde_json::from_str(body)
                    .unwrap_or_else(|e| panic!("curl body is not JSON ({e}): {body}"));
                assert_eq!(json["model"], model);
            }
            "python" | "openai-python" if python3 => {
                let file = w.home.path().join(format!("{kind}.py"));
                std::fs::write(&file, &code).unwrap();
                let out = std::process::Command::new("python3")
                    .args(["-m", "py_compile"])
                    .arg(&file)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{kind} does not compile: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            _ => {}
        }
    }
    let details = w.json(&["models", "show", model, "--workspace", "eng"]);
    assert_eq!(details["id"], model);
    assert_eq!(details["max_output_tokens"], 16384);
    w.fails(
        &[
            "models",
            "show",
            "@openai-prod/not-a-model",
            "--workspace",
            "eng",
        ],
        4,
        "not a model workspace",
    );
}
