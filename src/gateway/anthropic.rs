//! OpenAI chat completions ⇄ Anthropic messages, both directions, streaming included.

use serde_json::{json, Map, Value};

use super::chat::{push_turn, text_of, tool_calls, Chunks};
use super::error::GatewayError;
use super::sse::{self, Event};
use super::usage::Usage;

/// `max_tokens` when the caller sets none and the registry does not know the model.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// An OpenAI content part as an Anthropic content block.
fn block(part: &Value) -> Option<Value> {
    match part.get("type").and_then(Value::as_str)? {
        "text" => Some(json!({"type": "text", "text": part.get("text")?})),
        "image_url" => {
            let url = part.get("image_url")?.get("url")?.as_str()?;
            Some(match url.strip_prefix("data:") {
                Some(rest) => {
                    let (media, data) = rest.split_once(";base64,")?;
                    json!({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}})
                }
                None => json!({"type": "image", "source": {"type": "url", "url": url}}),
            })
        }
        _ => None,
    }
}

fn blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) => vec![json!({"type": "text", "text": s})],
        Value::Array(parts) => parts.iter().filter_map(block).collect(),
        _ => Vec::new(),
    }
}

fn invalid(message: String) -> GatewayError {
    GatewayError::invalid(message)
}

/// The caller's OpenAI chat completion request as an Anthropic messages request.
pub fn request(
    body: Map<String, Value>,
    model: &str,
    max_output: Option<u64>,
) -> Result<Map<String, Value>, GatewayError> {
    let mut out = Map::new();
    out.insert("model".into(), Value::String(model.to_owned()));
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    let empty = Vec::new();
    let input = body
        .get("messages")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for (i, m) in input.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let content = m.get("content").unwrap_or(&Value::Null);
        match role {
            "system" | "developer" => system.push(text_of(content)),
            "user" => push_turn(&mut messages, "user", blocks(content)),
            "assistant" => {
                let mut turn = blocks(content);
                for call in tool_calls(m, i)? {
                    turn.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}));
                }
                push_turn(&mut messages, "assistant", turn);
            }
            "tool" => push_turn(
                &mut messages,
                "user",
                vec![json!({"type": "tool_result", "tool_use_id": m.get("tool_call_id"), "content": text_of(content)})],
            ),
            other => {
                return Err(invalid(format!(
                    "`messages[{i}].role` `{other}` is not a chat role (system, developer, user, assistant, tool)"
                )))
            }
        }
    }
    if !system.is_empty() {
        out.insert("system".into(), Value::String(system.join("\n")));
    }
    out.insert("messages".into(), Value::Array(messages));
    let max_tokens = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_u64)
        .or(max_output)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".into(), json!(max_tokens));
    for field in ["temperature", "top_p", "top_k", "stream"] {
        if let Some(v) = body.get(field) {
            out.insert(field.into(), v.clone());
        }
    }
    match body.get("stop") {
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) => {
            out.insert("stop_sequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
    if let Some(user) = body.get("user") {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let f = &t["function"];
                json!({
                    "name": f["name"],
                    "description": f.get("description").cloned().unwrap_or(Value::Null),
                    "input_schema": f.get("parameters").cloned().unwrap_or(json!({"type": "object"})),
                })
            })
            .map(|mut t| {
                if t["description"].is_null() {
                    t.as_object_mut().map(|o| o.remove("description"));
                }
                t
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = body.get("tool_choice") {
        let mapped = match choice {
            Value::String(s) if s == "auto" => Some(json!({"type": "auto"})),
            Value::String(s) if s == "required" => Some(json!({"type": "any"})),
            Value::String(s) if s == "none" => Some(json!({"type": "none"})),
            Value::Object(o) => o
                .get("function")
                .and_then(|f| f.get("name"))
                .map(|name| json!({"type": "tool", "name": name})),
            _ => None,
        };
        if let Some(m) = mapped {
            out.insert("tool_choice".into(), m);
        }
    }
    Ok(out)
}

/// Anthropic's `stop_reason` as OpenAI's `finish_reason`.
pub fn finish_reason(stop: Option<&str>) -> Value {
    match stop {
        Some("end_turn" | "stop_sequence" | "pause_turn") => json!("stop"),
        Some("tool_use") => json!("tool_calls"),
        Some("max_tokens") => json!("length"),
        Some("refusal") => json!("content_filter"),
        Some(other) => json!(other),
        None => Value::Null,
    }
}

fn usage_of(u: &Value) -> Usage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("cache_read_input_tokens");
    let written = n("cache_creation_input_tokens");
    Usage {
        prompt_tokens: n("input_tokens") + cached + written,
        completion_tokens: n("output_tokens"),
        cached_tokens: cached,
    }
}

/// An Anthropic message as an OpenAI chat completion, and its usage.
pub fn response(message: &Value, created: i64) -> (Value, Usage) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in message["content"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or("")),
            Some("tool_use") => calls.push(json!({
                "id": block["id"],
                "type": "function",
                "function": {"name": block["name"], "arguments": block["input"].to_string()},
            })),
            _ => {}
        }
    }
    let usage = usage_of(&message["usage"]);
    let mut msg = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) }});
    if !calls.is_empty() {
        msg["tool_calls"] = Value::Array(calls);
    }
    let body = json!({
        "id": message["id"],
        "object": "chat.completion",
        "created": created,
        "model": message["model"],
        "choices": [{
            "index": 0,
            "message": msg,
            "logprobs": null,
            "finish_reason": finish_reason(message["stop_reason"].as_str()),
        }],
        "usage": usage.openai(),
    });
    (body, usage)
}

/// An Anthropic error body as OpenAI's `{"error": {...}}`.
pub fn error(body: &Value) -> Value {
    let e = &body["error"];
    json!({"error": {
        "message": e["message"].as_str().unwrap_or("the upstream refused the request"),
        "type": e["type"].as_str().unwrap_or("upstream_error"),
        "param": null,
        "code": null,
    }})
}

/// Turns Anthropic's named stream events into OpenAI chat completion chunks.
pub struct StreamTranslator {
    chunks: Chunks,
    /// Content block index → tool call index.
    tools: Vec<(u64, usize)>,
    usage: Usage,
    caller_wants_usage: bool,
    pub finished: bool,
    /// The stream ended with the upstream's error event.
    pub errored: bool,
}

impl StreamTranslator {
    pub fn new(created: i64, caller_wants_usage: bool) -> Self {
        StreamTranslator {
            chunks: Chunks {
                created,
                ..Chunks::default()
            },
            tools: Vec::new(),
            usage: Usage::default(),
            caller_wants_usage,
            finished: false,
            errored: false,
        }
    }

    pub fn usage(&self) -> Usage {
        self.usage
    }

    fn chunk(&self, delta: Value, finish: Value) -> Vec<u8> {
        self.chunks.delta(delta, finish)
    }

    /// The bytes to send the caller for one upstream event.
    pub fn event(&mut self, event: &Event) -> Vec<u8> {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            return Vec::new();
        };
        let name = event
            .name
            .as_deref()
            .or_else(|| data["type"].as_str())
            .unwrap_or("");
        match name {
            "message_start" => {
                let m = &data["message"];
                self.chunks.id = m["id"].as_str().unwrap_or("").to_owned();
                self.chunks.model = m["model"].as_str().unwrap_or("").to_owned();
                let u = usage_of(&m["usage"]);
                self.usage.prompt_tokens = u.prompt_tokens;
                self.usage.cached_tokens = u.cached_tokens;
                self.usage.completion_tokens = u.completion_tokens;
                self.chunk(json!({"role": "assistant", "content": ""}), Value::Null)
            }
            "content_block_start" => {
                let b = &data["content_block"];
                if b["type"] == "tool_use" {
                    let index = data["index"].as_u64().unwrap_or(0);
                    let call = self.tools.len();
                    self.tools.push((index, call));
                    self.chunk(
                        json!({"tool_calls": [{"index": call, "id": b["id"], "type": "function", "function": {"name": b["name"], "arguments": ""}}]}),
                        Value::Null,
                    )
                } else {
                    Vec::new()
                }
            }
            "content_block_delta" => {
                let d = &data["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => self.chunk(json!({"content": d["text"]}), Value::Null),
                    Some("input_json_delta") => {
                        let index = data["index"].as_u64().unwrap_or(0);
                        let call = self
                            .tools
                            .iter()
                            .find(|(b, _)| *b == index)
                            .map_or(0, |(_, c)| *c);
                        self.chunk(
                            json!({"tool_calls": [{"index": call, "function": {"arguments": d["partial_json"]}}]}),
                            Value::Null,
                        )
                    }
                    _ => Vec::new(),
                }
            }
            "message_delta" => {
                if let Some(out) = data["usage"]["output_tokens"].as_u64() {
                    self.usage.completion_tokens = out;
                }
                self.chunk(
                    json!({}),
                    finish_reason(data["delta"]["stop_reason"].as_str()),
                )
            }
            "message_stop" => {
                self.finished = true;
                self.chunks.end(Some(self.usage), self.caller_wants_usage)
            }
            "error" => {
                self.finished = true;
                self.errored = true;
                sse::data(&error(&data).to_string())
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_with_tools_translates_to_messages() {
        let body = json!({
            "model": "claude",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
                {"role": "user", "content": "Thanks"}
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
            "tool_choice": "required",
            "stop": "END",
            "max_tokens": 50
        });
        let out = request(body.as_object().unwrap().clone(), "claude-x", Some(8192)).unwrap();
        assert_eq!(out["system"], "Be brief.");
        assert_eq!(out["max_tokens"], 50);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        assert_eq!(out["tool_choice"], json!({"type": "any"}));
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m[1]["content"][0]["input"]["city"], "Paris");
        assert_eq!(m[2]["content"][0]["type"], "tool_result");
        assert_eq!(m[2]["content"][1]["text"], "Thanks");
        let defaulted = request(Map::new(), "m", Some(8192)).unwrap();
        assert_eq!(defaulted["max_tokens"], 8192);
    }

    #[test]
    fn a_message_translates_back_with_usage_and_stop_reason() {
        let m = json!({"id": "msg_1", "model": "claude-x", "stop_reason": "tool_use",
            "content": [{"type": "text", "text": "Let me check."}, {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}}],
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2}});
        let (body, usage) = response(&m, 1);
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Paris\"}"
        );
        assert_eq!(usage.prompt_tokens, 12);
        assert_eq!(body["usage"]["total_tokens"], 17);
    }
}
