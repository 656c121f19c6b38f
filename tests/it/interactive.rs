//! The interactive wizards end to end: the real binary in a pseudo-terminal. The wizards'
//! logic is tested through a scripted prompter in the library; these few check what only
//! a terminal shows (arrow keys, hidden input, the summary before the confirmation, exit
//! codes), with no fixed sleeps: each answer waits until its prompt has been drawn and the
//! program is reading keys.

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{contains, database_bytes, Mode, World, PROVIDER_KEY};
use rexpect::process::wait::WaitStatus;
use rexpect::session::{spawn_command, PtySession};

const DOWN: &str = "\x1b[B";
/// How long any one prompt may take to appear.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// `catalog ARGS` in a pseudo-terminal, and what it has drawn so far.
struct Terminal {
    session: PtySession,
    screen: String,
}

impl Terminal {
    /// The harness's environment minus CATALOG_NO_INPUT, on a terminal.
    fn spawn(w: &World, args: &[&str]) -> Terminal {
        let mut cmd: Command = w.command(args);
        cmd.env_remove("CATALOG_NO_INPUT")
            .env("TERM", "xterm")
            .stdin(std::process::Stdio::inherit());
        let timeout = u64::try_from(PROMPT_TIMEOUT.as_millis()).unwrap();
        Terminal {
            session: spawn_command(cmd, Some(timeout)).unwrap(),
            screen: String::new(),
        }
    }

    /// Reads the output until `text` has been drawn; after the timeout the test fails
    /// with the screen so far.
    fn wait_for(&mut self, text: &str) {
        match self.session.exp_string(text) {
            Ok(before) => {
                self.screen.push_str(&before);
                self.screen.push_str(text);
            }
            Err(e) => panic!(
                "{text:?} was not drawn: {e}\n--- screen so far ---\n{}",
                self.screen
            ),
        }
    }

    /// Waits until the program reads keys: every prompt turns the terminal's echo off
    /// while it reads (raw mode for keys and text, no echo for hidden input). Keys typed
    /// before that may be lost: a hidden prompt flushes pending input when it starts.
    fn wait_reading(&self) {
        let fd = self.session.process().pty.as_raw_fd();
        let deadline = Instant::now() + PROMPT_TIMEOUT;
        loop {
            // SAFETY: `termios` is plain data that `tcgetattr` fills in; `fd` is the pty
            // master, open for as long as the session.
            let mut termios: libc::termios = unsafe { std::mem::zeroed() };
            assert_eq!(unsafe { libc::tcgetattr(fd, &mut termios) }, 0);
            if termios.c_lflag & libc::ECHO == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the prompt never read keys\n--- screen so far ---\n{}",
                self.screen
            );
            std::thread::yield_now();
        }
    }

    /// Waits for `prompt` to be drawn and read from, then types `keys` (Enter is `\r`,
    /// as a terminal sends it).
    fn answer(&mut self, prompt: &str, keys: &str) {
        self.wait_for(prompt);
        self.wait_reading();
        self.session.send(keys).unwrap();
        self.session.flush().unwrap();
    }

    /// The rest of the output and the exit code.
    fn finish(mut self) -> (String, i32) {
        let rest = match self.session.exp_eof() {
            Ok(rest) => rest,
            Err(e) => panic!("catalog did not exit: {e}\n--- screen ---\n{}", self.screen),
        };
        match self.session.process().wait().unwrap() {
            WaitStatus::Exited(_, code) => (rest, code),
            other => panic!("catalog did not exit normally: {other:?}\n{rest}"),
        }
    }
}

#[test]
fn connect_wizard_answers_every_prompt() {
    let w = World::new(Mode::Embedded);
    w.ok(&["workspaces", "create", "eng"]);
    let mut t = Terminal::spawn(&w, &["integrations", "connect", "team-openai"]);
    t.answer("Service", "\r"); // openai is first
    t.answer("Name", "Team OpenAI\r");
    t.answer("Provider API key", &format!("{PROVIDER_KEY}\r"));
    t.answer("Scope", &[DOWN, "\r"].concat()); // the workspace `eng`
                                               // A workspace integration skips workspace provisioning; step 3 asks about models.
    t.answer("Models", "\r"); // all models
    t.wait_for("About to create");
    t.wait_for("workspace ws-eng-");
    t.answer("Apply all of this?", "y");
    let (rest, code) = t.finish();
    assert!(
        rest.contains("connected integration `team-openai`"),
        "{rest}"
    );
    assert!(!rest.contains(PROVIDER_KEY), "the key was echoed: {rest}");
    assert_eq!(code, 0);

    let got = w.json(&["integrations", "get", "team-openai"]);
    assert_eq!(got["name"], "Team OpenAI");
    assert_eq!(got["type"], "workspace");
    assert!(!contains(&database_bytes(&w.db()), PROVIDER_KEY));
}

/// The whole wizard: credentials, workspace provisioning with limits, a model allow-list.
#[test]
fn connect_wizard_runs_all_three_steps() {
    let w = World::new(Mode::Embedded);
    w.ok(&["workspaces", "create", "eng"]);
    w.ok(&["workspaces", "create", "research"]);
    let mut t = Terminal::spawn(&w, &["integrations", "connect", "openai-prod"]);
    t.answer("Service", "\r");
    t.answer("Name", "\r");
    t.answer("Provider API key", &format!("{PROVIDER_KEY}\r"));
    t.answer("Scope", "\r"); // organisation
    t.answer("Provision workspaces now?", "y");
    t.answer("Workspaces", " \r"); // tick eng
    t.answer("Budget", "1000\r");
    t.answer("Budget type", "\r"); // cost
    t.answer("Reset", &[&DOWN.repeat(2), "\r"].concat()); // monthly
    t.answer("Alert at", "800\r");
    t.answer("Rate limit", "100/min\r");
    t.answer("Also provision workspaces created later?", "y");
    t.answer("Models", &[&DOWN.repeat(2), "\r"].concat()); // type a list
    t.answer("Models to enable", "gpt-4o, gpt-4o-mini\r");
    t.wait_for("About to create");
    t.wait_for("+ add     ws-eng-");
    t.wait_for("workspaces created later");
    t.wait_for("only gpt-4o, gpt-4o-mini enabled");
    t.answer("Apply all of this?", "y");
    let (rest, code) = t.finish();
    assert!(
        rest.contains("step 2: provisioned 1 workspace(s) and workspaces created later"),
        "{rest}"
    );
    assert!(
        rest.contains("step 3: only gpt-4o, gpt-4o-mini enabled"),
        "{rest}"
    );
    assert_eq!(code, 0);

    let access = w.json(&["integrations", "workspaces", "openai-prod"]);
    assert_eq!(access["total"], 1);
    let budget = &access["workspaces"][0]["usage_limits"][0];
    assert_eq!(budget["credit_limit"], 1000.0);
    assert_eq!(budget["periodic_reset"], "monthly");
    assert_eq!(budget["alert_threshold"], 800.0);
    assert_eq!(access["global_workspace_access"]["enabled"], true);
    // The models as an independent client reads them.
    let server = crate::common::Server::start(w.home.path(), &w.db());
    let res: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/integrations/openai-prod/models", server.url))
        .header("x-portkey-api-key", crate::common::ADMIN_KEY)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let models: Vec<&str> = res["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["gpt-4o", "gpt-4o-mini"]);
    assert_eq!(res["allow_all_models"], false);
}

/// A revoke makes "no" the default: Enter at the confirmation cancels, exit 130.
#[test]
fn provision_prompts_for_what_is_missing_and_enter_on_a_revoke_cancels() {
    let w = World::new(Mode::Embedded);
    for n in ["eng", "research", "ops"] {
        w.ok(&["workspaces", "create", n]);
    }
    w.ok(&[
        "integrations",
        "connect",
        "openai-prod",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
        "--provision",
        "ops",
    ]);
    let mut t = Terminal::spawn(&w, &["workspaces", "provision", "--budget", "1000"]);
    t.answer("Integration", "\r");
    // eng and research are unticked, ops pre-ticked: tick eng, untick ops.
    t.answer("Workspaces", &[" ", &DOWN.repeat(2), " ", "\r"].concat());
    t.answer("Budget type", "\r");
    t.answer("Reset", &[DOWN, "\r"].concat()); // weekly
    t.answer("Alert at", "\r");
    t.answer("Rate limit", "\r");
    t.answer("Also provision workspaces created later?", "n");
    t.wait_for("+ add     ws-eng-");
    t.wait_for("- revoke  ws-ops-");
    t.answer("Apply these changes?", "\r");
    let (rest, code) = t.finish();
    assert!(rest.contains("nothing was changed"), "{rest}");
    assert_eq!(code, 130);
    let access = w.json(&["integrations", "workspaces", "openai-prod"]);
    assert_eq!(access["total"], 1);
    assert_eq!(access["workspaces"][0]["enabled"], true);
}

/// A bad answer is refused where it is typed and asked again.
#[test]
fn the_custom_service_wizard_checks_the_base_url_at_its_prompt() {
    let w = World::new(Mode::Embedded);
    let mut t = Terminal::spawn(&w, &["integrations", "connect", "local-llm"]);
    let custom = catalog::services::ALL
        .iter()
        .position(|s| s.id == "custom")
        .unwrap();
    t.answer("Service", &[&DOWN.repeat(custom), "\r"].concat());
    t.answer("Name", "\r");
    t.answer("Base URL of the service", "10.0.0.5:8000\r");
    t.answer("invalid URL", "http://10.0.0.5:8000\r");
    t.answer("Does the service need an API key?", "n");
    t.answer("Scope", "\r");
    t.answer("Provision workspaces now?", "n");
    t.answer("Models", &[&DOWN.repeat(2), "\r"].concat()); // skip
    t.answer("Apply all of this?", "y");
    let (_, code) = t.finish();
    assert_eq!(code, 0);
    let got = w.json(&["integrations", "get", "local-llm"]);
    assert_eq!(got["configurations"]["custom_host"], "http://10.0.0.5:8000");
}

#[test]
fn without_a_terminal_missing_values_name_their_flags() {
    let w = World::new(Mode::Embedded);
    w.fails(&["integrations", "connect", "x"], 2, "--service");
    w.fails(
        &["integrations", "connect", "x", "--service", "openai"],
        2,
        "--key-env VAR",
    );
    // CI set, even on a terminal-less run with CATALOG_NO_INPUT unset.
    let mut cmd = w.command(&["integrations", "connect", "x"]);
    cmd.env_remove("CATALOG_NO_INPUT").env("CI", "true");
    let out = w.run_cmd(cmd);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--service"), "{out:?}");
}

#[test]
fn errors_wrap_at_the_terminal_width_and_stay_whole_when_piped() {
    let home = tempfile::tempdir().unwrap();
    let command = || {
        let mut cmd = Command::new(crate::common::BIN);
        cmd.env_clear()
            .env("HOME", home.path())
            .env("CATALOG_HOME", home.path().join("catalog"))
            .env("CATALOG_NO_INPUT", "1")
            .env("TERM", "xterm")
            .env("COLUMNS", "60")
            .args(["serve", "--redis-ca-file", "/no/such/root.pem"]);
        cmd
    };
    let timeout = u64::try_from(PROMPT_TIMEOUT.as_millis()).unwrap();
    let mut session = spawn_command(command(), Some(timeout)).unwrap();
    let screen = session.exp_eof().unwrap();
    let lines: Vec<&str> = screen.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(lines.len() > 2, "{screen}");
    for line in &lines {
        assert!(
            line.chars().count() <= 60,
            "{line:?} is wider than 60:\n{screen}"
        );
    }
    assert!(lines[0].starts_with("error: --redis-ca-file"), "{screen}");
    assert!(lines[1].starts_with("       "), "{screen}");
    assert!(lines.iter().any(|l| l.starts_with("hint: ")), "{screen}");
    // Piped, each part of the error is one line, for scripts.
    let out = command().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let piped = String::from_utf8(out.stderr).unwrap();
    assert_eq!(piped.lines().count(), 2, "{piped}");
    assert!(
        piped.lines().next().unwrap().chars().count() > 60,
        "{piped}"
    );
}
