//! `completions/` and `man/` are generated from the clap tree. This test fails when they
//! drift; `CATALOG_UPDATE_ASSETS=1 cargo test --test it assets` regenerates them.

use std::path::Path;

#[test]
fn completions_and_man_pages_match_the_command_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("CATALOG_UPDATE_ASSETS").is_some();
    let assets = catalog::commands::completion::assets().unwrap();
    assert!(assets.len() > 20, "every command has a man page");
    let mut stale = Vec::new();
    for (path, contents) in &assets {
        let full = root.join(path);
        if update {
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, contents).unwrap();
        } else if std::fs::read(&full).ok().as_deref() != Some(contents.as_slice()) {
            stale.push(path.display().to_string());
        }
    }
    // No leftover file from a command that no longer exists.
    for dir in ["completions", "man"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let rel = Path::new(dir).join(entry.unwrap().file_name());
            if !assets.iter().any(|(p, _)| *p == rel) {
                if update {
                    std::fs::remove_file(root.join(&rel)).unwrap();
                } else {
                    stale.push(format!("{} (no such command)", rel.display()));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated files are stale: {stale:?}\nrun `CATALOG_UPDATE_ASSETS=1 cargo test --test it assets`"
    );
}

#[test]
fn man_page_documents_exit_codes_and_environment() {
    let assets = catalog::commands::completion::assets().unwrap();
    let (_, page) = assets
        .iter()
        .find(|(p, _)| p.ends_with("catalog.1"))
        .unwrap();
    let page = String::from_utf8_lossy(page);
    for needle in ["Exit codes", "130", "CATALOG_API_KEY", "CATALOG_HOME"] {
        assert!(page.contains(needle), "man page lacks {needle}");
    }
}
