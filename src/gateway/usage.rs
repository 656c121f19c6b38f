//! Tokens a call used, as upstreams report them, and what they cost.

use serde_json::{json, Value};

use crate::api::models::EffectivePricing;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    /// OpenAI's `usage` object.
    pub fn openai(&self) -> Value {
        let mut u = json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total(),
        });
        if self.cached_tokens > 0 {
            u["prompt_tokens_details"] = json!({"cached_tokens": self.cached_tokens});
        }
        u
    }

    /// Reads OpenAI's `usage` object.
    pub fn from_openai(usage: &Value) -> Option<Usage> {
        let n = |k: &str| usage.get(k).and_then(Value::as_u64);
        Some(Usage {
            prompt_tokens: n("prompt_tokens")?,
            completion_tokens: n("completion_tokens").unwrap_or(0),
            cached_tokens: usage
                .get("prompt_tokens_details")
                .and_then(|d| d.get("cached_tokens"))
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
    }

    /// The cost in USD at `pricing` (per 1M tokens); `None` without a price.
    pub fn cost(&self, pricing: &EffectivePricing) -> Option<f64> {
        let input = pricing.input_per_mtok?;
        let output = pricing.output_per_mtok.unwrap_or(0.0);
        let cached_price = pricing.cache_read_per_mtok.unwrap_or(input);
        let uncached = self.prompt_tokens.saturating_sub(self.cached_tokens) as f64;
        Some(
            (uncached * input
                + self.cached_tokens as f64 * cached_price
                + self.completion_tokens as f64 * output)
                / 1e6,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_prices_cached_input_apart() {
        let u = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
            cached_tokens: 500_000,
        };
        let p = EffectivePricing {
            input_per_mtok: Some(2.0),
            output_per_mtok: Some(8.0),
            cache_read_per_mtok: Some(0.5),
            source: "registry".into(),
            multiplier: None,
        };
        assert_eq!(u.cost(&p), Some(1.0 + 0.25 + 4.0));
        assert_eq!(Usage::from_openai(&u.openai()), Some(u));
    }
}
