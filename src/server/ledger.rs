//! Writes the admission journal (see [`crate::store::Store::flush_ledger`]) to the
//! ledger's tables every few milliseconds, so that reads in other processes, alerts and
//! the journal's length never wait on a quiet catalog.

use std::time::Duration;

use super::AppState;

/// How often the journal is written to the tables.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let store = state.store.clone();
        let done = tokio::task::spawn_blocking(move || store.flush_ledger()).await;
        match done {
            Ok(Err(e)) if !failing => {
                failing = true;
                super::log_line(&format!(
                    "{} ledger: cannot write the admission journal to the database (it stays in the journal, and is written once this works): {e}",
                    super::handlers::now()
                ));
            }
            Ok(Ok(())) => failing = false,
            _ => {}
        }
    }
}
