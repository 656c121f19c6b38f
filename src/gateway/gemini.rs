//! OpenAI chat completions ⇄ Google Gemini `generateContent`, streaming included.

use serde_json::{json, Map, Value};

use super::chat::{text_of, Chunks};
use super::error::GatewayError;
use super::sse::{self, Event};
use super::usage::Usage;

/// The caller's chat completion request as a `generateContent` request.
pub fn request(body: &Map<String, Value>) -> Result<Map<String, Value>, GatewayError> {
    let mut system = Vec::new();
    let mut contents: Vec<Value> = Vec::new();
    let empty = Vec::new();
    for (i, m) in body
        .get("messages")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .enumerate()
    {
        let text = text_of(m.get("content").unwrap_or(&Value::Null));
        let role = match m.get("role").and_then(Value::as_str).unwrap_or("") {
            "system" | "developer" => {
                system.push(json!({"text": text}));
                continue;
            }
            "user" | "tool" => "user",
            "assistant" => "model",
            other => {
                return Err(GatewayError::invalid(format!(
                    "`messages[{i}].role` `{other}` is not a chat role (system, developer, user, assistant, tool)"
                )))
            }
        };
        match contents.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(parts) = last["parts"].as_array_mut() {
                    parts.push(json!({"text": text}));
                }
            }
            _ => contents.push(json!({"role": role, "parts": [{"text": text}]})),
        }
    }
    let mut out = Map::new();
    out.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        out.insert("systemInstruction".into(), json!({"parts": system}));
    }
    let mut generation = Map::new();
    let max = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"));
    for (from, to) in [
        (max, "maxOutputTokens"),
        (body.get("temperature"), "temperature"),
        (body.get("top_p"), "topP"),
        (body.get("n"), "candidateCount"),
    ] {
        if let Some(v) = from {
            generation.insert(to.into(), v.clone());
        }
    }
    match body.get("stop") {
        Some(Value::String(s)) => {
            generation.insert("stopSequences".into(), json!([s]));
        }
        Some(Value::Array(a)) => {
            generation.insert("stopSequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
    if !generation.is_empty() {
        out.insert("generationConfig".into(), Value::Object(generation));
    }
    Ok(out)
}

/// Gemini's `finishReason` as OpenAI's `finish_reason`.
fn finish_reason(reason: Option<&str>) -> Value {
    match reason {
        Some("STOP") => json!("stop"),
        Some("MAX_TOKENS") => json!("length"),
        Some("SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII") => {
            json!("content_filter")
        }
        Some(other) => json!(other.to_ascii_lowercase()),
        None => Value::Null,
    }
}

fn usage_of(meta: &Value) -> Option<Usage> {
    let n = |k: &str| meta.get(k).and_then(Value::as_u64);
    Some(Usage {
        prompt_tokens: n("promptTokenCount")?,
        completion_tokens: n("candidatesTokenCount").unwrap_or(0),
        cached_tokens: n("cachedContentTokenCount").unwrap_or(0),
    })
}

fn text(candidate: &Value) -> String {
    candidate["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["text"].as_str())
        .collect()
}

/// A `generateContent` answer as an OpenAI chat completion, and its usage.
pub fn response(answer: &Value, model: &str, created: i64) -> (Value, Option<Usage>) {
    let usage = usage_of(&answer["usageMetadata"]);
    let choices: Vec<Value> = answer["candidates"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "index": c["index"].as_u64().unwrap_or(i as u64),
                "message": {"role": "assistant", "content": text(c)},
                "logprobs": null,
                "finish_reason": finish_reason(c["finishReason"].as_str()),
            })
        })
        .collect();
    let mut body = json!({
        "id": answer.get("responseId").cloned().unwrap_or_else(|| json!(format!("gemini-{created}"))),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
    });
    if let Some(u) = usage {
        body["usage"] = u.openai();
    }
    (body, usage)
}

/// Gemini's error body as OpenAI's.
pub fn error(body: &Value) -> Value {
    let e = &body["error"];
    json!({"error": {
        "message": e["message"].as_str().unwrap_or("the upstream refused the request"),
        "type": e["status"].as_str().unwrap_or("upstream_error"),
        "param": null,
        "code": e["code"],
    }})
}

/// Turns `streamGenerateContent?alt=sse` events into chat completion chunks.
pub struct StreamTranslator {
    chunks: Chunks,
    usage: Option<Usage>,
    caller_wants_usage: bool,
    started: bool,
    /// The upstream sent an error event: the stream ends with it.
    pub errored: bool,
}

impl StreamTranslator {
    pub fn new(model: &str, created: i64, caller_wants_usage: bool) -> Self {
        StreamTranslator {
            chunks: Chunks {
                id: format!("gemini-{created}"),
                model: model.to_owned(),
                created,
            },
            usage: None,
            caller_wants_usage,
            started: false,
            errored: false,
        }
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    pub fn event(&mut self, event: &Event) -> Vec<u8> {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            return Vec::new();
        };
        if data.get("error").is_some() {
            self.errored = true;
            return sse::data(&error(&data).to_string());
        }
        if let Some(u) = usage_of(&data["usageMetadata"]) {
            self.usage = Some(u);
        }
        let mut out = Vec::new();
        for (i, c) in data["candidates"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut delta = json!({"content": text(c)});
            if !self.started {
                delta["role"] = json!("assistant");
                self.started = true;
            }
            out.extend(self.chunks.event(
                json!([{"index": i, "delta": delta, "logprobs": null, "finish_reason": finish_reason(c["finishReason"].as_str())}]),
                None,
            ));
        }
        out
    }

    /// What closes the stream once the upstream has ended it.
    pub fn finish(&self) -> Vec<u8> {
        self.chunks.end(self.usage, self.caller_wants_usage)
    }
}

/// An OpenAI embeddings request as Gemini's `batchEmbedContents`: one request per input
/// text, `dimensions` as `outputDimensionality`.
pub fn embed_request(
    body: &Map<String, Value>,
    model: &str,
) -> Result<Map<String, Value>, GatewayError> {
    let texts: Vec<&str> =
        match body.get("input") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => {
                a.iter().filter_map(Value::as_str).collect()
            }
            Some(Value::Array(a)) if !a.is_empty() => return Err(GatewayError::invalid(
                "`input`: Gemini embeds text only; send a string or a list of strings, not tokens",
            )),
            _ => {
                return Err(GatewayError::invalid(
                    "`input` must be a string or a non-empty list of strings",
                ))
            }
        };
    match body.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => {}
        Some(other) => {
            return Err(GatewayError::invalid(format!(
            "`encoding_format` `{other}`: Gemini answers floats only; leave it out or send `float`"
        )))
        }
    }
    let dimensions =
        match body.get("dimensions") {
            None | Some(Value::Null) => None,
            Some(d) => Some(d.as_u64().filter(|d| *d > 0).ok_or_else(|| {
                GatewayError::invalid("`dimensions` must be a whole number above 0")
            })?),
        };
    let requests: Vec<Value> = texts
        .iter()
        .map(|t| {
            let mut r = json!({
                "model": format!("models/{model}"),
                "content": {"parts": [{"text": t}]},
            });
            if let Some(d) = dimensions {
                r["outputDimensionality"] = json!(d);
            }
            r
        })
        .collect();
    let mut out = Map::new();
    out.insert("requests".into(), Value::Array(requests));
    Ok(out)
}

/// Gemini's `batchEmbedContents` answer in OpenAI's shape. Gemini reports no token
/// counts: the usage is estimated from the texts sent (`request`), a token per 4 bytes
/// (rounded up), as the gateway charges a stream cut short.
pub fn embed_response(answer: &Value, request: &Value, model: &str) -> (Value, Option<Usage>) {
    let data: Vec<Value> = answer
        .get("embeddings")
        .and_then(Value::as_array)
        .map(|e| {
            e.iter()
                .enumerate()
                .map(|(i, v)| {
                    json!({
                        "object": "embedding",
                        "index": i,
                        "embedding": v.get("values").cloned().unwrap_or_else(|| json!([])),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let tokens: u64 = request
        .get("requests")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r.pointer("/content/parts/0/text").and_then(Value::as_str))
                .map(|t| (t.len() as u64).div_ceil(4))
                .sum()
        })
        .unwrap_or(0);
    let usage = Usage {
        prompt_tokens: tokens,
        ..Usage::default()
    };
    (
        json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }),
        Some(usage),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_becomes_contents_and_back() {
        let body = json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Again"}
        ], "max_tokens": 10, "stop": "END"});
        let out = request(body.as_object().unwrap()).unwrap();
        assert_eq!(out["systemInstruction"]["parts"][0]["text"], "Be brief.");
        assert_eq!(out["contents"][1]["role"], "model");
        assert_eq!(out["generationConfig"]["maxOutputTokens"], 10);
        assert_eq!(out["generationConfig"]["stopSequences"], json!(["END"]));
        let answer = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi there"}]}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6}});
        let (body, usage) = response(&answer, "gemini-2.0-flash", 1);
        assert_eq!(body["choices"][0]["message"]["content"], "Hi there");
        assert_eq!(body["choices"][0]["finish_reason"], "length");
        assert_eq!(usage.unwrap().total(), 6);
    }
}
