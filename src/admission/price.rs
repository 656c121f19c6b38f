//! Prices as whole numbers: a price per million tokens becomes pico-dollars (10⁻¹² USD)
//! per token, so a request's cost is an exact sum, rounded up once to nano-dollars (the
//! unit budgets count in).

use crate::api::models::EffectivePricing;

/// A model's prices in pico-dollars per token (the integration's multiplier applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    pub input: i128,
    pub output: i128,
    pub cached_input: i128,
}

fn pico(per_mtok: f64) -> i128 {
    // $1 per million tokens is 10⁻⁶ $ per token: 10⁶ pico-dollars.
    (per_mtok * 1e6).round().max(0.0) as i128
}

impl Prices {
    /// `None` when the catalog knows no input price for the model.
    pub fn of(pricing: Option<&EffectivePricing>) -> Option<Prices> {
        let p = pricing?;
        let input = pico(p.input_per_mtok?);
        Some(Prices {
            input,
            output: p.output_per_mtok.map_or(0, pico),
            cached_input: p.cache_read_per_mtok.map_or(input, pico),
        })
    }

    /// The cost in nano-dollars of `input` tokens (`cached` of them read from a cache)
    /// and `output` tokens, rounded up.
    pub fn cost(&self, input: u64, cached: u64, output: u64) -> i64 {
        let cached = cached.min(input);
        let pico = i128::from(input - cached) * self.input
            + i128::from(cached) * self.cached_input
            + i128::from(output) * self.output;
        i64::try_from((pico + 999) / 1000).unwrap_or(i64::MAX)
    }

    /// The most `input` and `output` tokens can cost, whatever the cache does.
    pub fn bound(&self, input: u64, output: u64) -> i64 {
        let dearest = Prices {
            input: self.input.max(self.cached_input),
            ..*self
        };
        dearest.cost(input, 0, output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_exact_and_rounded_up_once() {
        let p = Prices::of(Some(&EffectivePricing {
            input_per_mtok: Some(0.15),
            output_per_mtok: Some(0.6),
            cache_read_per_mtok: Some(0.075),
            source: "registry".into(),
            multiplier: None,
        }))
        .unwrap();
        // 1,000 in + 500 out: $0.00015 + $0.0003 = 450,000 nano-dollars.
        assert_eq!(p.cost(1000, 0, 500), 450_000);
        // A hundred such requests are exactly $0.045.
        assert_eq!(
            (0..100).map(|_| p.cost(1000, 0, 500)).sum::<i64>(),
            45_000_000
        );
        assert_eq!(p.cost(1000, 1000, 0), 75_000);
        assert_eq!(p.bound(1000, 500), 450_000);
        let tiny = Prices {
            input: 1,
            output: 0,
            cached_input: 1,
        };
        assert_eq!(
            tiny.cost(1, 0, 0),
            1,
            "a fraction of a nano-dollar rounds up"
        );
        assert!(Prices::of(None).is_none());
    }
}
