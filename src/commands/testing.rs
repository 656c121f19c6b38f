//! Commands run in-process against an embedded catalog in a temporary home, their
//! questions answered by a [`ScriptedPrompter`]: the wizards' tests.

use clap::Parser;

use super::{dispatch, Ctx};
use crate::prompt::ScriptedPrompter;
use crate::settings::{Env, Settings};

/// The provider key scripts type and `--key-env PROVIDER_KEY` reads.
pub const PROVIDER_KEY: &str = "sk-test-4f1c2b9a7d3e";

/// A temporary catalog.
pub struct Harness {
    home: tempfile::TempDir,
}

impl Default for Harness {
    fn default() -> Self {
        Harness {
            home: tempfile::tempdir().unwrap(),
        }
    }
}

impl Harness {
    pub fn new() -> Harness {
        Harness::default()
    }

    /// A context for `catalog ARGS` (quiet) whose questions go to `prompter`, and the
    /// command to run in it.
    pub fn ctx(&self, prompter: &ScriptedPrompter, args: &[&str]) -> (Ctx, super::Command) {
        let mut argv = vec!["catalog", "-q"];
        argv.extend(args);
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let home = self.home.path().to_str().unwrap();
        let env = Env::from_vars([
            ("CATALOG_HOME", home),
            ("NO_COLOR", "1"),
            ("PROVIDER_KEY", PROVIDER_KEY),
        ]);
        let settings = Settings::resolve(&cli.global, env).unwrap();
        (
            Ctx::with_prompter(settings, Box::new(prompter.clone())),
            cli.command,
        )
    }

    /// Runs `catalog ARGS`, answering from `prompter`; every answer must be used.
    pub fn run(&self, prompter: &ScriptedPrompter, args: &[&str]) -> anyhow::Result<()> {
        let (ctx, command) = self.ctx(prompter, args);
        let result = dispatch(&ctx, command);
        prompter.finish();
        result
    }

    /// Runs `catalog ARGS` with nobody at a terminal; it must succeed.
    pub fn ok(&self, args: &[&str]) {
        if let Err(e) = self.run(&ScriptedPrompter::not_a_terminal(), args) {
            panic!("catalog {}: {e:#}", args.join(" "));
        }
    }

    /// Connects `openai-prod` for the organisation by flags, with `extra` flags.
    pub fn connect_openai(&self, extra: &[&str]) {
        let mut args = vec![
            "integrations",
            "connect",
            "openai-prod",
            "--service",
            "openai",
            "--key-env",
            "PROVIDER_KEY",
        ];
        args.extend(extra);
        self.ok(&args);
    }

    /// Reads what the commands left, through a client of the catalog.
    pub fn read<T>(&self, f: impl FnOnce(&crate::client::Client) -> anyhow::Result<T>) -> T {
        let (ctx, _) = self.ctx(&ScriptedPrompter::not_a_terminal(), &["auth", "status"]);
        f(ctx.client().unwrap()).unwrap()
    }
}
