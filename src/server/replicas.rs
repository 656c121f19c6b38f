//! Replicas sharing one catalog: each tells the others it is alive, and settles the
//! holds of any that stopped (a `kill -9`, a lost machine) at their full amounts, so
//! that a request that may have run is never forgiven and no hold outlives its replica.

use std::time::Duration;

use chrono::Utc;

use super::AppState;

/// How often a replica says it is alive; a replica silent for
/// [`crate::store::postgres::DEAD_AFTER`] is taken for gone.
pub const HEARTBEAT: Duration = Duration::from_secs(3);

pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let store = state.store.clone();
        let done = tokio::task::spawn_blocking(move || {
            store.heartbeat(Utc::now())?;
            store.recover_holds(&|o| store.alive(o))
        })
        .await;
        match done {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => super::log_line(&format!(
                "{} replicas: settled {n} hold(s) of a replica that stopped",
                super::handlers::now()
            )),
            Ok(Err(e)) => super::log_line(&format!(
                "{} replicas: cannot record this replica's heartbeat or settle stopped replicas' holds: {e}",
                super::handlers::now()
            )),
            Err(_) => {}
        }
    }
}
