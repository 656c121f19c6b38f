//! The most a request can use, before it is sent: a bound on its input tokens from its
//! bytes, and on its output tokens from `max_tokens` and the model's limits.

use serde_json::{Map, Value};

/// Output tokens held when neither the request nor the registry bounds them.
pub const DEFAULT_OUTPUT_BOUND: u64 = 16_384;
/// Tokens held per image, audio clip or file in a request: above what any service
/// counts for one image at its highest detail.
pub const MEDIA_TOKENS: u64 = 8_192;
/// Tokens a service adds per message (role, separators).
const PER_MESSAGE: u64 = 8;

/// What a request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Demand {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Demand {
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Input tokens of the request `catalog check` sizes limits with.
pub const TYPICAL_INPUT: u64 = 1_000;
/// Output tokens of that request (fewer when the model allows fewer).
pub const TYPICAL_OUTPUT: u64 = 1_000;

/// A typical chat request, for telling whether limits leave room (`catalog check`):
/// [`TYPICAL_INPUT`] tokens in and up to [`TYPICAL_OUTPUT`] out, within the model's limits.
pub fn typical(max_output: Option<u64>, max_input: Option<u64>) -> Demand {
    Demand {
        input_tokens: max_input.map_or(TYPICAL_INPUT, |m| m.min(TYPICAL_INPUT)),
        output_tokens: max_output.map_or(TYPICAL_OUTPUT, |m| m.min(TYPICAL_OUTPUT)),
    }
}

/// Media inline in a request (`data:` URLs, base64 audio) count as [`MEDIA_TOKENS`], not
/// as their bytes; every other string counts a token per byte (a token is never shorter
/// than a byte), and structure a token per few bytes of JSON around it.
fn input_bound(value: &Value) -> u64 {
    match value {
        Value::String(s) if s.starts_with("data:") => MEDIA_TOKENS,
        Value::String(s) => s.len() as u64 + 1,
        Value::Array(items) => items.iter().map(input_bound).sum::<u64>() + 1,
        Value::Object(map) => {
            let media = matches!(
                map.get("type").and_then(Value::as_str),
                Some("image_url" | "input_image" | "input_audio" | "file" | "image")
            );
            let inner: u64 = map
                .iter()
                .map(|(k, v)| {
                    if media && (k == "data" || k == "file_data") {
                        MEDIA_TOKENS
                    } else {
                        k.len() as u64 + input_bound(v)
                    }
                })
                .sum();
            inner + PER_MESSAGE + if media { MEDIA_TOKENS } else { 0 }
        }
        other => other.to_string().len() as u64,
    }
}

/// The bound of a chat completion or embeddings request. `max_output` and `max_input`
/// are the model's limits when the registry knows them.
pub fn of_request(
    body: &Map<String, Value>,
    chat: bool,
    max_output: Option<u64>,
    max_input: Option<u64>,
) -> Demand {
    let fields: &[&str] = if chat {
        &[
            "messages",
            "tools",
            "functions",
            "response_format",
            "prediction",
        ]
    } else {
        &["input"]
    };
    let mut input: u64 = fields
        .iter()
        .filter_map(|f| body.get(*f))
        .map(input_bound)
        .sum();
    if let Some(most) = max_input {
        input = input.min(most);
    }
    if !chat {
        return Demand {
            input_tokens: input,
            output_tokens: 0,
        };
    }
    let asked = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64));
    let per_choice = match (asked, max_output) {
        (Some(a), Some(m)) => a.min(m),
        (Some(a), None) => a,
        (None, Some(m)) => m,
        (None, None) => DEFAULT_OUTPUT_BOUND,
    };
    let n = body.get("n").and_then(Value::as_u64).unwrap_or(1).max(1);
    Demand {
        input_tokens: input,
        output_tokens: per_choice.saturating_mul(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_input_bound_is_never_below_the_bytes_of_the_text() {
        let text = "hello world, how are you today?";
        let d = of_request(
            &body(json!({"messages": [{"role": "user", "content": text}], "max_tokens": 50})),
            true,
            Some(16_384),
            None,
        );
        assert!(d.input_tokens >= text.len() as u64);
        assert_eq!(d.output_tokens, 50);
    }

    #[test]
    fn output_is_capped_by_the_model_and_multiplied_by_n() {
        let b = body(json!({"messages": [], "max_tokens": 100_000, "n": 2}));
        assert_eq!(of_request(&b, true, Some(4_096), None).output_tokens, 8_192);
        let b = body(json!({"messages": []}));
        assert_eq!(of_request(&b, true, Some(4_096), None).output_tokens, 4_096);
        assert_eq!(
            of_request(&b, true, None, None).output_tokens,
            DEFAULT_OUTPUT_BOUND
        );
    }

    #[test]
    fn inline_images_count_as_media_not_bytes() {
        let image = format!("data:image/png;base64,{}", "A".repeat(100_000));
        let b = body(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": image}}
        ]}]}));
        let d = of_request(&b, true, Some(1), Some(128_000));
        assert!(d.input_tokens >= MEDIA_TOKENS && d.input_tokens < 3 * MEDIA_TOKENS);
    }

    #[test]
    fn embeddings_have_no_output() {
        let d = of_request(&body(json!({"input": ["a", "bc"]})), false, None, None);
        assert_eq!(d.output_tokens, 0);
        assert!(d.input_tokens >= 3);
    }
}
