//! The PostgreSQL password file, read as libpq reads it when neither the URL nor
//! `PGPASSWORD` gives a password: `PGPASSFILE`, else `~/.pgpass`; lines of
//! `host:port:database:user:password`, `*` matching anything in the first four fields,
//! `\:` and `\\` standing for `:` and `\`, `#` starting a comment; the first line that
//! matches wins. A file that others may read is ignored, with a warning, as libpq does.

use std::path::{Path, PathBuf};

/// The connection a password is looked up for. `host` is `localhost` for a Unix socket
/// in the default directory (libpq's rule), else the socket's directory.
struct Wanted<'a> {
    host: &'a str,
    port: u16,
    database: &'a str,
    user: &'a str,
}

/// Where the password file is: `PGPASSFILE`, else `~/.pgpass`.
fn path() -> Option<PathBuf> {
    match std::env::var_os(crate::env_vars::PGPASSFILE) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => Some(PathBuf::from(std::env::var_os("HOME")?).join(".pgpass")),
    }
}

/// The password file's password for the connection `config` makes; `Err` a warning when
/// the file exists and cannot be used. The driver gives every host of a URL one
/// password, so with several hosts the file's is used only when it gives each host the
/// same one: a password meant for one host is never sent to another.
pub fn password_for(config: &tokio_postgres::Config) -> Result<Option<String>, String> {
    use tokio_postgres::config::Host;
    // The driver signs in as the user running it when the URL names none.
    let os_user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok();
    let Some(user) = config.get_user().or(os_user.as_deref()) else {
        return Ok(None);
    };
    let Some(text) = path().map(|p| read(&p)).transpose()?.flatten() else {
        return Ok(None);
    };
    let database = config.get_dbname().unwrap_or(user);
    let hosts: Vec<String> = match config.get_hosts() {
        [] => vec!["localhost".to_owned()],
        hosts => hosts
            .iter()
            .map(|h| match h {
                Host::Tcp(h) => h.clone(),
                // libpq names a socket in the default directory `localhost`.
                Host::Unix(dir)
                    if ["/var/run/postgresql", "/run/postgresql", "/tmp"]
                        .iter()
                        .any(|d| dir == Path::new(d)) =>
                {
                    "localhost".to_owned()
                }
                Host::Unix(dir) => dir.display().to_string(),
            })
            .collect(),
    };
    let ports = config.get_ports();
    let mut found = None;
    for (i, host) in hosts.iter().enumerate() {
        let wanted = Wanted {
            host,
            port: ports.get(i).or(ports.first()).copied().unwrap_or(5432),
            database,
            user,
        };
        let Some(password) = find(&text, &wanted) else {
            return Ok(None);
        };
        if found.as_ref().is_some_and(|f| *f != password) {
            return Ok(None);
        }
        found = Some(password);
    }
    Ok(found)
}

/// The text of the password file at `path` (`None` when there is none); `Err` a warning
/// when it exists and cannot be used (others may read it, or it cannot be read).
fn read(path: &Path) -> Result<Option<String>, String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    let shown = path.display();
    if !meta.is_file() {
        return Err(format!(
            "the password file {shown} is not a plain file, so it is not used"
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "the password file {shown} may be read by others, so it is not used; make it yours alone: chmod 600 {shown}"
            ));
        }
    }
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| format!("the password file {shown} cannot be read ({e}), so it is not used"))
}

/// The password of the first line of `text` that matches `wanted`.
fn find(text: &str, wanted: &Wanted<'_>) -> Option<String> {
    let port = wanted.port.to_string();
    let asked = [wanted.host, port.as_str(), wanted.database, wanted.user];
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        // A comment starts in the first column (libpq's rule).
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (fields, password) = fields(line)?;
            fields
                .iter()
                .zip(asked)
                .all(|(f, a)| matches!(f, Field::Any) || matches!(f, Field::Is(v) if v == a))
                .then_some(password)
        })
}

/// One of a line's first four fields: `*` (written bare) matches anything.
enum Field {
    Any,
    Is(String),
}

/// A line's first four fields and its password, unescaped (`\:` is `:`, `\\` is `\`,
/// `\*` a literal `*`); `None` for a line with fewer than five fields. The password ends
/// at the next unescaped `:`, as libpq reads it.
fn fields(line: &str) -> Option<([Field; 4], String)> {
    let mut parts: Vec<(String, bool)> = vec![(String::new(), false)];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ':' if parts.len() == 5 => break,
            ':' => parts.push((String::new(), false)),
            '\\' => {
                let (text, escaped) = parts.last_mut()?;
                text.push(chars.next().unwrap_or('\\'));
                *escaped = true;
            }
            c => parts.last_mut()?.0.push(c),
        }
    }
    if parts.len() < 5 {
        return None;
    }
    let password = parts.pop()?.0;
    let field = |(text, escaped): (String, bool)| match (text.as_str(), escaped) {
        ("*", false) => Field::Any,
        _ => Field::Is(text),
    };
    let mut it = parts.into_iter().map(field);
    Some(([it.next()?, it.next()?, it.next()?, it.next()?], password))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted() -> Wanted<'static> {
        Wanted {
            host: "db.example.com",
            port: 5432,
            database: "catalog",
            user: "app",
        }
    }

    #[test]
    fn the_first_matching_line_gives_the_password() {
        let text = "# a comment\n\
                    other.host:5432:catalog:app:not-this\n\
                    db.example.com:6432:*:app:not-this-port\n\
                    db.example.com:*:*:app:pa\\:ss\\\\word\n\
                    *:*:*:*:fallback\n";
        assert_eq!(find(text, &wanted()).as_deref(), Some("pa:ss\\word"));
        let other = Wanted {
            user: "someone",
            ..wanted()
        };
        assert_eq!(find(text, &other).as_deref(), Some("fallback"));
        assert_eq!(find("db.example.com:5432:catalog:app\n", &wanted()), None);
        // The password ends at an unescaped `:`; `\\*` is a literal `*`; a comment
        // starts in the first column only; CRLF endings are read.
        assert_eq!(
            find("*:*:*:*:pw:trailing", &wanted()).as_deref(),
            Some("pw")
        );
        assert_eq!(find("\\*:*:*:*:not-this", &wanted()), None);
        assert_eq!(find(" #:*:*:*:pw\r\n", &wanted()), None);
        assert_eq!(find("*:*:*:*:pw\r\n", &wanted()).as_deref(), Some("pw"));
    }

    #[test]
    fn a_file_others_may_read_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "*:*:*:*:secret-pw\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read(&file).unwrap_err();
        assert!(e.contains("chmod 600") && !e.contains("secret-pw"), "{e}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = read(&file).unwrap().unwrap();
        assert_eq!(find(&text, &wanted()).as_deref(), Some("secret-pw"));
        assert_eq!(read(&dir.path().join("none")), Ok(None));
    }
}
