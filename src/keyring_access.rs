//! OS keyring access with a short timeout: a Secret Service that hangs must not hang the CLI.

use std::sync::mpsc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("no OS keyring is reachable ({0})")]
    Unavailable(String),
    #[error("the OS keyring did not answer within {} seconds", TIMEOUT.as_secs())]
    TimedOut,
}

fn with_timeout<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, keyring::Error> + Send + 'static,
) -> Result<T, KeyringError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(result) => result.map_err(|e| KeyringError::Unavailable(e.to_string())),
        Err(_) => Err(KeyringError::TimedOut),
    }
}

/// Reads a secret; `Ok(None)` when the keyring works but holds no such entry.
pub fn get(service: &str, account: &str) -> Result<Option<String>, KeyringError> {
    let (service, account) = (service.to_owned(), account.to_owned());
    with_timeout(move || {
        let entry = keyring::Entry::new(&service, &account)?;
        match entry.get_password() {
            Ok(p) => Ok(Some(p)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        }
    })
}

pub fn set(service: &str, account: &str, secret: &str) -> Result<(), KeyringError> {
    let (service, account, secret) = (service.to_owned(), account.to_owned(), secret.to_owned());
    with_timeout(move || keyring::Entry::new(&service, &account)?.set_password(&secret))
}

/// Deletes a secret; deleting a missing entry is not an error.
pub fn delete(service: &str, account: &str) -> Result<(), KeyringError> {
    let (service, account) = (service.to_owned(), account.to_owned());
    with_timeout(
        move || match keyring::Entry::new(&service, &account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e),
        },
    )
}
