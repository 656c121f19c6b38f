//! The command-line grammar: global options once, each with its environment twin.

use clap::builder::FalseyValueParser;
use clap::{Args, Parser};

use crate::commands::Command;
use crate::env_vars as env;
use crate::printer::OutputFormat;
use crate::settings::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "catalog",
    version,
    about = "Govern an organisation's access to AI models: integrations, workspaces, budgets, providers and API keys",
    long_about = "Govern an organisation's access to AI models.\n\n`catalog` speaks the Portkey Admin API. With no profile and no base URL it works on an embedded catalog (a local SQLite database, no server needed); `catalog serve` shares one catalog with a team; `catalog auth login` points it at a `catalog serve` or at Portkey's hosted API.",
    after_long_help = after_help(),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

fn after_help() -> String {
    format!(
        "{}\n\nEnvironment:\n{}",
        crate::exit::EXIT_CODES_HELP,
        env::help_table()
    )
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Profile to use (a stored server and key)
    #[arg(long, global = true, env = env::CATALOG_PROFILE, value_name = "NAME")]
    pub profile: Option<String>,

    /// Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)
    #[arg(long, global = true, env = env::CATALOG_BASE_URL, value_name = "URL", value_parser = crate::types::parse_http_url)]
    pub base_url: Option<String>,

    /// Workspace (id, slug or name) for commands that act in one
    #[arg(long, global = true, env = env::CATALOG_WORKSPACE, value_name = "WORKSPACE", add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::workspaces))]
    pub workspace: Option<String>,

    /// Output format
    #[arg(short = 'o', long, global = true, env = env::CATALOG_OUTPUT, value_enum)]
    pub output: Option<OutputFormat>,

    /// Assume yes for confirmations (needed for destructive commands without a terminal)
    #[arg(short = 'y', long, global = true, env = env::CATALOG_YES, value_parser = FalseyValueParser::new())]
    pub yes: bool,

    /// Never prompt; a missing value is an error naming its flag
    #[arg(long, global = true, env = env::CATALOG_NO_INPUT, value_parser = FalseyValueParser::new())]
    pub no_input: bool,

    /// Silence status messages on stderr
    #[arg(short = 'q', long, global = true, env = env::CATALOG_QUIET, value_parser = FalseyValueParser::new())]
    pub quiet: bool,

    /// Print requests and raw error bodies on stderr
    #[arg(short = 'v', long, global = true, env = env::CATALOG_VERBOSE, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to use colour
    #[arg(long, global = true, env = env::CATALOG_COLOR, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}

#[cfg(test)]
mod parse_tests {
    use clap::Parser;

    use super::Cli;
    use crate::commands::Command;

    fn parse(args: &[&str]) -> Cli {
        let mut all = vec!["catalog"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn refuses(args: &[&str]) -> String {
        let mut all = vec!["catalog"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap_err().to_string()
    }

    #[test]
    fn every_command_parses() {
        for args in [
            &[
                "auth",
                "login",
                "--profile",
                "p",
                "--base-url",
                "http://127.0.0.1:8787",
                "--api-key-stdin",
            ][..],
            &["auth", "login", "--insecure-storage"],
            &["auth", "status"],
            &["export", "--out", "catalog.yaml"],
            &[
                "plan",
                "-f",
                "catalog.yaml",
                "--out",
                "plan.json",
                "--exit-code",
            ],
            &["apply", "-f", "catalog.yaml", "--prune", "--dry-run"],
            &["apply", "plan.json", "--yes"],
            &["schema"],
            &["auth", "logout", "--profile", "p"],
            &["workspaces", "list", "--name", "eng"],
            &["workspaces", "get", "eng"],
            &[
                "workspaces",
                "create",
                "eng",
                "--description",
                "d",
                "--metadata",
                "team=ml",
            ],
            &[
                "workspaces",
                "update",
                "eng",
                "--name",
                "e2",
                "--clear-description",
            ],
            &["workspaces", "delete", "eng", "--force", "--yes"],
            &["integrations", "list", "--type", "organisation"],
            &["integrations", "get", "azure-prod"],
            &[
                "integrations",
                "connect",
                "azure-prod",
                "--service",
                "azure-openai",
                "--key-env",
                "K",
                "--azure-resource-name",
                "r",
                "--azure-auth-mode",
                "entraFederated",
                "--azure-deployment",
                "name=a,model=gpt-4o,api-version=2024-10-21",
            ],
            &[
                "integrations",
                "connect",
                "bedrock",
                "--service",
                "bedrock",
                "--aws-auth-type",
                "assumedRole",
                "--aws-region",
                "us-east-1",
                "--aws-role-arn",
                "arn:aws:iam::1:role/x",
            ],
            &[
                "integrations",
                "connect",
                "local",
                "--service",
                "custom",
                "--custom-host",
                "http://127.0.0.1:11434/v1",
                "--header",
                "x-a=b",
            ],
            &[
                "integrations",
                "update",
                "azure-prod",
                "--config",
                "openai_project=p",
                "--config-env",
                "aws_secret_access_key=S",
            ],
            &[
                "integrations",
                "rotate-key",
                "azure-prod",
                "--key-file",
                "/tmp/k",
            ],
            &["integrations", "delete", "azure-prod", "-y"],
            &["api-keys", "list", "--workspace", "eng"],
            &[
                "api-keys",
                "create",
                "ci",
                "--scope",
                "completions.write",
                "--workspace",
                "eng",
            ],
            &[
                "api-keys",
                "create",
                "root",
                "--type",
                "organisation",
                "--scope",
                "workspaces.list",
            ],
            &["api-keys", "delete", "6f1d2c3b-0000-0000-0000-000000000000"],
            &["configs", "list", "--workspace", "eng"],
            &[
                "configs",
                "create",
                "--name",
                "fallback",
                "--file",
                "-",
                "--default",
            ],
            &["configs", "update", "pc-fallba-1a2b3c", "--file", "gw.json"],
            &[
                "configs",
                "update",
                "pc-fallba-1a2b3c",
                "--status",
                "archived",
            ],
            &["configs", "get", "pc-fallba-1a2b3c"],
            &["configs", "versions", "pc-fallba-1a2b3c"],
            &["configs", "delete", "pc-fallba-1a2b3c", "--yes"],
            &["serve", "--listen", "127.0.0.1:0", "--db", "/tmp/c.db"],
            &[
                "serve",
                "--alert-webhook",
                "https://hooks.example.com/a",
                "--alert-webhook",
                "http://10.0.0.5:9000/b",
                "--alert-backoff",
                "500ms..1m",
            ],
            &["alerts", "list", "--kind", "limit", "--undelivered"],
            &["alerts", "list", "--since", "2026-05-01"],
            &["admin", "rotate-master-key", "--new-key-file", "/tmp/k"],
            &[
                "admin",
                "rotate-master-key",
                "--new-key-env",
                "NEW_KEY",
                "--db",
                "/srv/c.db",
                "--batch-size",
                "50",
                "--pause",
                "200ms",
            ],
            &["admin", "master-key", "status", "--db", "/srv/c.db"],
            &["completion", "zsh"],
        ] {
            parse(args);
        }
    }

    #[test]
    fn no_command_shadows_a_global_option() {
        use clap::CommandFactory;
        let root = Cli::command();
        let globals: Vec<String> = root
            .get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| a.get_id().to_string())
            .collect();
        fn walk(cmd: &clap::Command, path: &str, globals: &[String]) {
            for sub in cmd.get_subcommands() {
                let here = format!("{path} {}", sub.get_name());
                for a in sub.get_arguments().filter(|a| !a.is_global_set()) {
                    assert!(
                        !globals.contains(&a.get_id().to_string()),
                        "`{here}` has an argument `{}` that shadows a global option",
                        a.get_id()
                    );
                }
                walk(sub, &here, globals);
            }
        }
        walk(&root, "catalog", &globals);
    }

    #[test]
    fn globals_work_anywhere() {
        let cli = parse(&[
            "workspaces",
            "list",
            "-o",
            "yaml",
            "-q",
            "--no-input",
            "--profile",
            "p",
        ]);
        assert_eq!(cli.global.output, Some(crate::printer::OutputFormat::Yaml));
        assert!(cli.global.quiet && cli.global.no_input);
        assert!(matches!(cli.command, Command::Workspaces(_)));
    }

    #[test]
    fn bad_values_fail_at_parse_time() {
        assert!(refuses(&["integrations", "get", "bad slug"]).contains("slug"));
        // `apply` takes a saved plan or `-f FILE`, not both, not neither.
        assert!(refuses(&["apply"]).contains("--file"));
        assert!(refuses(&["apply", "plan.json", "-f", "c.yaml"]).contains("cannot be used"));
        assert!(refuses(&["apply", "plan.json", "--prune"]).contains("cannot be used"));
        assert!(
            refuses(&["integrations", "connect", "x", "--service", "watsonx"])
                .contains("--service")
        );
        assert!(refuses(&[
            "integrations",
            "connect",
            "x",
            "--azure-deployment",
            "name=a"
        ])
        .contains("model="));
        assert!(
            refuses(&["workspaces", "create", "x", "--metadata", "novalue"]).contains("KEY=VALUE")
        );
        assert!(refuses(&["workspaces", "list", "-o", "xml"]).contains("xml"));
        assert!(refuses(&["serve", "--listen", "localhost"]).contains("--listen"));
        let rotate = ["admin", "rotate-master-key"];
        assert!(refuses(&rotate).contains("--new-key-file"));
        let both = [&rotate[..], &["--new-key-file", "k", "--new-key-env", "K"]].concat();
        assert!(refuses(&both).contains("cannot be used with"));
        let zero = [&rotate[..], &["--new-key-env", "K", "--batch-size", "0"]].concat();
        assert!(refuses(&zero).contains("--batch-size"));
        assert!(refuses(&["admin", "rotate-master-key", "--new-key", "x"]).contains("--new-key"));
        let bad_hook = refuses(&["serve", "--alert-webhook", "ftp://u:tok3n@x.example/p?k=s3"]);
        assert!(bad_hook.contains("--alert-webhook"), "{bad_hook}");
        assert!(bad_hook.contains("http or https"), "{bad_hook}");
        for secret in ["tok3n", "s3", "/p"] {
            assert!(!bad_hook.contains(secret), "{bad_hook}");
        }
        assert!(refuses(&["alerts", "list", "--kind", "warning"]).contains("--kind"));
        assert!(refuses(&[
            "integrations",
            "connect",
            "x",
            "--key-env",
            "A",
            "--key-stdin"
        ])
        .contains("cannot be used"));
    }
}
