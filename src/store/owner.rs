//! Who holds a hold: this process, named so that a later process with the same pid (a
//! container's pid 1 after a restart) is never taken for it.

use std::sync::LazyLock;

static THIS: LazyLock<String> =
    LazyLock::new(|| format!("{}/{}", std::process::id(), uuid::Uuid::new_v4().simple()));

/// `PID/NONCE` of this process.
pub fn this_process() -> &'static str {
    &THIS
}

/// Whether the owner `PID/NONCE` may still be running: this process, or another process
/// with that pid (a process on this machine: processes sharing a SQLite file are).
pub fn alive(owner: &str) -> bool {
    if owner == this_process() {
        return true;
    }
    let Some(pid) = owner.split('/').next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    if pid == std::process::id() {
        // This pid, another nonce: an earlier process that had the same pid.
        return false;
    }
    running(pid)
}

#[cfg(target_os = "linux")]
fn running(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
fn running(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
