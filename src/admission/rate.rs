//! Rate limits as a slotted sliding window: a period is cut into [`SLOTS`] slots and a
//! request is admitted when the last `SLOTS + 1` slots (the current one included) plus
//! its amount stay within the limit. Those slots always cover at least the whole period,
//! so no stretch of time of the period's length ever counts more than the limit; a
//! request waits at most one slot longer than a perfect sliding window would make it.

use std::time::Duration;

use crate::api::limits::RateUnit;

/// Slots per period.
pub const SLOTS: i64 = 60;

/// The length of a rate unit's period.
pub fn period_ms(unit: RateUnit) -> i64 {
    match unit {
        RateUnit::Rps => 1_000,
        RateUnit::Rpm => 60_000,
        RateUnit::Rph => 3_600_000,
        RateUnit::Rpd => 86_400_000,
        RateUnit::Rpw => 604_800_000,
    }
}

/// A slot's length: rounded up, so that `SLOTS` slots are never shorter than the period.
pub fn slot_ms(period_ms: i64) -> i64 {
    ((period_ms + SLOTS - 1) / SLOTS).max(1)
}

/// The slot `now_ms` falls in.
pub fn slot_of(now_ms: i64, slot_ms: i64) -> i64 {
    now_ms.div_euclid(slot_ms)
}

/// The oldest slot still counted while `current` is the current slot.
pub fn first_counted(current: i64) -> i64 {
    current - SLOTS
}

/// How long until `amount` more fits under `ceiling`, given the counted slots (any
/// order); `None` when it never will (the amount alone is over the limit).
pub fn retry_after(
    slots: &[(i64, i64)],
    amount: i64,
    ceiling: i64,
    slot_ms: i64,
    now_ms: i64,
) -> Option<Duration> {
    if amount > ceiling {
        return None;
    }
    let mut sorted = slots.to_vec();
    sorted.sort_unstable();
    let mut total: i64 = sorted.iter().map(|(_, a)| a).sum();
    if total + amount <= ceiling {
        return Some(Duration::ZERO);
    }
    for (slot, counted) in sorted {
        total -= counted;
        if total + amount <= ceiling {
            // A slot stops counting when the current slot is `SLOTS + 1` past it.
            let free_at = (slot + SLOTS + 1) * slot_ms;
            return Some(Duration::from_millis((free_at - now_ms).max(0) as u64));
        }
    }
    Some(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counted_slots_cover_the_whole_period() {
        for unit in [
            RateUnit::Rps,
            RateUnit::Rpm,
            RateUnit::Rph,
            RateUnit::Rpd,
            RateUnit::Rpw,
        ] {
            let p = period_ms(unit);
            let s = slot_ms(p);
            // At the very start of the current slot, the counted slots reach back
            // SLOTS whole slots: never less than the period.
            assert!(SLOTS * s >= p, "{unit:?}");
            assert!(
                SLOTS * s - p < SLOTS,
                "{unit:?}: slots are no longer than needed"
            );
        }
    }

    #[test]
    fn retry_after_is_when_the_oldest_needed_slot_drops_out() {
        let s = slot_ms(60_000); // 1 s
        let now = 100 * s + 300;
        let current = slot_of(now, s);
        let slots = [(current - 60, 3), (current - 10, 4), (current, 3)];
        // 10 counted of 10: one more fits once the oldest slot (3) drops out.
        let wait = retry_after(&slots, 1, 10, s, now).unwrap();
        assert_eq!(wait, Duration::from_millis(700));
        // 5 more needs the second slot gone too.
        let wait = retry_after(&slots, 5, 10, s, now).unwrap();
        assert_eq!(
            wait,
            Duration::from_millis(((current - 10 + 61) * s - now) as u64)
        );
        assert_eq!(retry_after(&slots, 11, 10, s, now), None);
        assert_eq!(retry_after(&[], 2, 10, s, now), Some(Duration::ZERO));
    }
}
