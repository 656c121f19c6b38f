//! Reading the caller's OpenAI chat request, for the translations into other protocols.

use serde_json::{json, Value};

use super::error::GatewayError;

/// A message's content as plain text (text parts joined by newlines).
pub fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// One tool call of an assistant message: its id, function name and parsed arguments.
pub struct ToolCall<'a> {
    pub id: &'a Value,
    pub name: &'a Value,
    pub input: Value,
}

/// The tool calls of message `i`, their arguments parsed.
pub fn tool_calls(message: &Value, i: usize) -> Result<Vec<ToolCall<'_>>, GatewayError> {
    let Some(calls) = message.get("tool_calls").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    calls
        .iter()
        .map(|call| {
            let f = &call["function"];
            let arguments = f["arguments"].as_str().unwrap_or("{}");
            let input = serde_json::from_str(arguments).map_err(|e| {
                GatewayError::invalid(format!(
                    "`messages[{i}].tool_calls[].function.arguments` is not JSON: {e}"
                ))
            })?;
            Ok(ToolCall {
                id: &call["id"],
                name: &f["name"],
                input,
            })
        })
        .collect()
}

/// Appends `blocks` as a turn of `role`, merged with the previous turn of the same role
/// (Anthropic and Bedrock want turns to alternate); an empty turn is left out.
pub fn push_turn(messages: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = messages.last_mut() {
        if last["role"] == role {
            if let Some(content) = last["content"].as_array_mut() {
                content.extend(blocks);
                return;
            }
        }
    }
    messages.push(json!({"role": role, "content": blocks}));
}

/// Writes one completion's stream as the caller reads it: `chat.completion.chunk` events.
#[derive(Debug, Clone, Default)]
pub struct Chunks {
    pub id: String,
    pub model: String,
    pub created: i64,
}

impl Chunks {
    /// An event with these `choices` (and a `usage` object, for the usage chunk).
    pub fn event(&self, choices: Value, usage: Option<Value>) -> Vec<u8> {
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        });
        if let Some(u) = usage {
            c["usage"] = u;
        }
        super::sse::data(&c.to_string())
    }

    /// An event with one choice's `delta` and `finish_reason`.
    pub fn delta(&self, delta: Value, finish: Value) -> Vec<u8> {
        self.event(
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]),
            None,
        )
    }

    /// The stream's end: the usage chunk when the caller asked for it and it is known,
    /// then `[DONE]`.
    pub fn end(&self, usage: Option<super::usage::Usage>, caller_wants_usage: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if let (true, Some(u)) = (caller_wants_usage, usage) {
            out.extend(self.event(json!([]), Some(u.openai())));
        }
        out.extend_from_slice(super::sse::DONE);
        out
    }
}
