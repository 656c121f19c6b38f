//! `auth login` / `status` / `logout` against a real Secret Service (gnome-keyring in a
//! private D-Bus session), and the error when no keyring is reachable.

use std::process::Command;

use crate::common::{Mode, World, ADMIN_KEY};

pub(crate) fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a shell script inside a fresh D-Bus session with an unlocked gnome-keyring,
/// with the harness's environment.
pub(crate) fn in_keyring_session(w: &World, url: &str, script: &str) -> String {
    let template = w.command(&[]);
    let mut cmd = Command::new("dbus-run-session");
    cmd.env_clear();
    for (k, v) in template.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let prelude = format!(
        "eval \"$(printf pw | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)\"\n\
         export GNOME_KEYRING_CONTROL\n\
         C={bin}\nURL={url}\nADMIN={ADMIN_KEY}\n",
        bin = crate::common::BIN
    );
    cmd.args(["--", "sh", "-c", &format!("{prelude}{script}")]);
    let out = cmd.output().expect("run dbus-run-session");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn login_status_logout_with_the_os_keyring() {
    if !(have("dbus-run-session") && have("gnome-keyring-daemon")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install dbus and gnome-keyring (see .ci/run)"
        );
        eprintln!("skipped: dbus-run-session or gnome-keyring-daemon is not installed");
        return;
    }
    let w = World::new(Mode::Served);
    let url = w.server.as_ref().unwrap().url.clone();
    let script = r#"
unset CATALOG_BASE_URL CATALOG_API_KEY
printf '%s' "$ADMIN" | $C auth login --profile team --base-url "$URL" --api-key-stdin; echo "login=$?"
$C auth status -o json; echo "status=$?"
$C workspaces create from-keyring -o json >/dev/null; echo "create=$?"
secret-tool lookup service catalog username team >/dev/null; echo "lookup=$?"
$C auth logout; echo "logout=$?"
$C auth status -o json; echo "status2=$?"
secret-tool lookup service catalog username team >/dev/null; echo "lookup2=$?"
"#;
    let out = in_keyring_session(&w, &url, script);
    for marker in [
        "login=0",
        "status=0",
        "create=0",
        "lookup=0",
        "logout=0",
        "lookup2=1",
    ] {
        assert!(out.contains(marker), "missing {marker}:\n{out}");
    }
    assert!(
        out.contains("\"credential_source\": \"OS keyring\""),
        "{out}"
    );
    assert!(out.contains("\"profile\": \"team\""), "{out}");
    assert!(!out.contains(ADMIN_KEY), "the key was printed:\n{out}");
    // The workspace was created through the stored credential.
    assert_eq!(
        w.json(&["workspaces", "get", "from-keyring"])["name"],
        "from-keyring"
    );
    // After logout there is no profile, so the CLI is back on the embedded catalog.
    assert!(out.contains("\"mode\": \"embedded\""), "{out}");
    // The key never touched the config file.
    let config = std::fs::read_to_string(w.home.path().join("catalog/config.yaml")).unwrap();
    assert!(!config.contains(ADMIN_KEY));
}

#[test]
fn without_a_keyring_login_names_the_alternatives() {
    let w = World::new(Mode::Served);
    let url = w.server.as_ref().unwrap().url.clone();
    let login = |extra: &[&str]| {
        let mut args = vec![
            "auth",
            "login",
            "--profile",
            "p",
            "--base-url",
            &url,
            "--api-key-stdin",
        ];
        args.extend_from_slice(extra);
        let mut cmd = w.command(&args);
        cmd.env_remove("CATALOG_API_KEY")
            .env_remove("CATALOG_BASE_URL")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .stdin(std::process::Stdio::piped());
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ADMIN_KEY.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = login(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("CATALOG_API_KEY") && stderr.contains("--insecure-storage"),
        "{stderr}"
    );
    assert!(
        !w.home.path().join("catalog/config.yaml").exists(),
        "nothing half-written"
    );

    // A wrong key is refused before anything is stored.
    let mut cmd = w.command(&[
        "auth",
        "login",
        "--profile",
        "p",
        "--base-url",
        &url,
        "--api-key-stdin",
        "--insecure-storage",
    ]);
    cmd.env_remove("CATALOG_API_KEY")
        .env_remove("CATALOG_BASE_URL");
    let out = run_with_stdin(cmd, "wrong-key-0000000000");
    assert_eq!(out.0, 3, "{}", out.1);

    let (code, stderr) = login(&["--insecure-storage"]);
    assert_eq!(code, 0, "{stderr}");
    let creds = w.home.path().join("catalog/credentials.yaml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let mut cmd = w.command(&["auth", "status", "-o", "json"]);
    cmd.env_remove("CATALOG_API_KEY")
        .env_remove("CATALOG_BASE_URL");
    let status = w.run_cmd(cmd).json();
    assert_eq!(
        status["credential_source"],
        "credentials file (insecure storage)"
    );
    // CATALOG_API_KEY overrides the stored key, and status says so.
    let mut cmd = w.command(&["auth", "status", "-o", "json"]);
    cmd.env_remove("CATALOG_BASE_URL");
    assert_eq!(
        w.run_cmd(cmd).json()["credential_source"],
        "CATALOG_API_KEY environment variable"
    );
}

fn run_with_stdin(mut cmd: Command, input: &str) -> (i32, String) {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
