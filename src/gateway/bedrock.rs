//! OpenAI chat completions ⇄ Amazon Bedrock's Converse API, both directions: the JSON
//! request and answer, and `converse-stream`'s answer in AWS event-stream binary frames
//! (decoded incrementally, CRCs checked) as OpenAI chunks.

use serde_json::{json, Map, Value};

use super::chat::{push_turn, text_of, tool_calls, Chunks};
use super::error::GatewayError;
use super::sse;
use super::usage::Usage;

fn invalid(message: String) -> GatewayError {
    GatewayError::invalid(message)
}

/// An OpenAI content part as a Converse content block (`None`: dropped).
fn block(part: &Value, at: &str) -> Result<Option<Value>, GatewayError> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => Ok(part
            .get("text")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(|t| json!({"text": t}))),
        Some("image_url") => {
            let url = part["image_url"]["url"].as_str().unwrap_or("");
            let image = url.strip_prefix("data:").and_then(|rest| {
                let (media, data) = rest.split_once(";base64,")?;
                let format = media.strip_prefix("image/")?;
                let format = if format == "jpg" { "jpeg" } else { format };
                Some(json!({"image": {"format": format, "source": {"bytes": data}}}))
            });
            image.map(Some).ok_or_else(|| {
                invalid(format!(
                    "`{at}`: Bedrock takes images inline only (`data:image/...;base64,...`), not by URL"
                ))
            })
        }
        _ => Ok(None),
    }
}

fn blocks(content: &Value, at: &str) -> Result<Vec<Value>, GatewayError> {
    match content {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({"text": s})]),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                if let Some(b) = block(p, &format!("{at}[{i}]"))? {
                    out.push(b);
                }
            }
            Ok(out)
        }
        _ => Ok(Vec::new()),
    }
}

/// The caller's OpenAI chat completion request as a Converse request (the model goes in
/// the URL, streaming in the path).
pub fn request(body: &Map<String, Value>) -> Result<Map<String, Value>, GatewayError> {
    let mut out = Map::new();
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
        let at = format!("messages[{i}].content");
        match role {
            "system" | "developer" => {
                let text = text_of(content);
                if !text.is_empty() {
                    system.push(json!({"text": text}));
                }
            }
            "user" => push_turn(&mut messages, "user", blocks(content, &at)?),
            "assistant" => {
                let mut turn = blocks(content, &at)?;
                for call in tool_calls(m, i)? {
                    turn.push(json!({"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.input}}));
                }
                push_turn(&mut messages, "assistant", turn);
            }
            "tool" => push_turn(
                &mut messages,
                "user",
                vec![json!({"toolResult": {
                    "toolUseId": m.get("tool_call_id").cloned().unwrap_or(Value::Null),
                    "content": [{"text": text_of(content)}],
                }})],
            ),
            other => {
                return Err(invalid(format!(
                    "`messages[{i}].role` `{other}` is not a chat role (system, developer, user, assistant, tool)"
                )))
            }
        }
    }
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let mut config = Map::new();
    if let Some(max) = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_u64)
    {
        config.insert("maxTokens".into(), json!(max));
    }
    for (from, to) in [("temperature", "temperature"), ("top_p", "topP")] {
        if let Some(v) = body.get(from).filter(|v| v.is_number()) {
            config.insert(to.into(), v.clone());
        }
    }
    match body.get("stop") {
        Some(Value::String(s)) => {
            config.insert("stopSequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if !a.is_empty() => {
            config.insert("stopSequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
    if !config.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(config));
    }
    let tools: Vec<Value> = body
        .get("tools")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .map(|t| {
            let f = &t["function"];
            let mut spec = json!({
                "name": f["name"],
                "inputSchema": {"json": f.get("parameters").cloned().unwrap_or(json!({"type": "object"}))},
            });
            if let Some(d) = f.get("description").filter(|d| d.is_string()) {
                spec["description"] = d.clone();
            }
            json!({"toolSpec": spec})
        })
        .collect();
    if !tools.is_empty() {
        let mut tool_config = json!({"tools": tools});
        let choice = match body.get("tool_choice") {
            Some(Value::String(s)) if s == "auto" => Some(json!({"auto": {}})),
            Some(Value::String(s)) if s == "required" => Some(json!({"any": {}})),
            Some(Value::Object(o)) => o
                .get("function")
                .and_then(|f| f.get("name"))
                .map(|name| json!({"tool": {"name": name}})),
            _ => None,
        };
        if let Some(c) = choice {
            tool_config["toolChoice"] = c;
        }
        out.insert("toolConfig".into(), tool_config);
    }
    Ok(out)
}

/// Converse's `stopReason` as OpenAI's `finish_reason`.
pub fn finish_reason(stop: Option<&str>) -> Value {
    match stop {
        Some("end_turn" | "stop_sequence") => json!("stop"),
        Some("max_tokens") => json!("length"),
        Some("tool_use") => json!("tool_calls"),
        Some("content_filtered" | "guardrail_intervened") => json!("content_filter"),
        Some(other) => json!(other),
        None => Value::Null,
    }
}

/// Converse's `usage` (`inputTokens`, `outputTokens`, cache reads and writes).
pub fn usage_of(u: &Value) -> Option<Usage> {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let cached = n("cacheReadInputTokens").unwrap_or(0);
    let written = n("cacheWriteInputTokens").unwrap_or(0);
    Some(Usage {
        prompt_tokens: n("inputTokens")? + cached + written,
        completion_tokens: n("outputTokens").unwrap_or(0),
        cached_tokens: cached,
    })
}

fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
}

/// A Converse answer as an OpenAI chat completion, and its usage.
pub fn response(answer: &Value, model: &str, created: i64) -> (Value, Option<Usage>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in answer["output"]["message"]["content"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(u) = block.get("toolUse") {
            calls.push(json!({
                "id": u["toolUseId"],
                "type": "function",
                "function": {"name": u["name"], "arguments": u["input"].to_string()},
            }));
        }
    }
    let usage = usage_of(&answer["usage"]);
    let content = if text.is_empty() && !calls.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    let mut message = json!({"role": "assistant", "content": content});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let mut body = json!({
        "id": completion_id(),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(answer["stopReason"].as_str()),
        }],
    });
    if let Some(u) = usage {
        body["usage"] = u.openai();
    }
    (body, usage)
}

/// A Bedrock error (`{"message": ...}`, its kind in `x-amzn-errortype`) as OpenAI's
/// `{"error": {...}}`.
pub fn error(body: &Value, error_type: Option<&str>) -> Value {
    let message = body
        .get("message")
        .or_else(|| body.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or("the upstream refused the request");
    let kind = error_type
        .map(|t| t.split(':').next().unwrap_or(t))
        .filter(|t| !t.is_empty())
        .unwrap_or("upstream_error");
    json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zlib), table-driven.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// One event-stream message: its headers (values of every type as text) and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The largest message the decoder accepts (AWS's limit is 16 MiB of payload).
const MAX_FRAME: usize = 24 * 1024 * 1024;

/// Splits a byte stream into event-stream messages: prelude (total length, headers
/// length, CRC32 of those 8 bytes), headers, payload, CRC32 of everything before it.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
}

impl FrameDecoder {
    /// Adds `bytes`; returns every message they completed, or why the stream is corrupt.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, String> {
        self.buffer.extend_from_slice(bytes);
        let mut frames = Vec::new();
        let mut at = 0;
        while self.buffer.len() - at >= 12 {
            let b = &self.buffer[at..];
            let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            let (total, headers_len, prelude_crc) = (be(0) as usize, be(4) as usize, be(8));
            if crc32(&b[..8]) != prelude_crc {
                return Err("sent an event-stream message whose prelude CRC does not match".into());
            }
            if !(16..=MAX_FRAME).contains(&total) || headers_len > total - 16 {
                return Err(format!(
                    "sent an event-stream message with impossible lengths (total {total}, headers {headers_len})"
                ));
            }
            if b.len() < total {
                break;
            }
            let message_crc = be(total - 4);
            if crc32(&b[..total - 4]) != message_crc {
                return Err("sent an event-stream message whose CRC does not match".into());
            }
            let headers = decode_headers(&b[12..12 + headers_len])?;
            frames.push(Frame {
                headers,
                payload: b[12 + headers_len..total - 4].to_vec(),
            });
            at += total;
        }
        self.buffer.drain(..at);
        Ok(frames)
    }

    /// Whether bytes of an unfinished message are waiting.
    pub fn has_partial(&self) -> bool {
        !self.buffer.is_empty()
    }
}

fn decode_headers(mut h: &[u8]) -> Result<Vec<(String, String)>, String> {
    fn take<'a>(h: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if h.len() < n {
            return Err("sent an event-stream message with truncated headers".to_owned());
        }
        let (a, b) = h.split_at(n);
        *h = b;
        Ok(a)
    }
    fn int(bytes: &[u8]) -> i64 {
        let mut v: i64 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
            -1
        } else {
            0
        };
        for &b in bytes {
            v = (v << 8) | b as i64;
        }
        v
    }
    let mut out = Vec::new();
    while !h.is_empty() {
        let n = take(&mut h, 1)?[0] as usize;
        let name = String::from_utf8_lossy(take(&mut h, n)?).into_owned();
        let value = match take(&mut h, 1)?[0] {
            0 => "true".to_owned(),
            1 => "false".to_owned(),
            2 => int(take(&mut h, 1)?).to_string(),
            3 => int(take(&mut h, 2)?).to_string(),
            4 => int(take(&mut h, 4)?).to_string(),
            5 | 8 => int(take(&mut h, 8)?).to_string(),
            6 | 7 => {
                let l = take(&mut h, 2)?;
                let len = u16::from_be_bytes([l[0], l[1]]) as usize;
                String::from_utf8_lossy(take(&mut h, len)?).into_owned()
            }
            9 => crate::crypto::hex(take(&mut h, 16)?),
            other => {
                return Err(format!(
                    "sent an event-stream header of unknown value type {other}"
                ))
            }
        };
        out.push((name, value));
    }
    Ok(out)
}

/// Turns Converse stream events into OpenAI chat completion chunks.
pub struct StreamTranslator {
    chunks: Chunks,
    /// Content block index → tool call index.
    tools: Vec<(u64, usize)>,
    usage: Option<Usage>,
    caller_wants_usage: bool,
    stopped: bool,
    pub finished: bool,
    /// The stream ended with the upstream's exception.
    pub errored: bool,
}

impl StreamTranslator {
    pub fn new(model: &str, created: i64, caller_wants_usage: bool) -> Self {
        StreamTranslator {
            chunks: Chunks {
                id: completion_id(),
                model: model.to_owned(),
                created,
            },
            tools: Vec::new(),
            usage: None,
            caller_wants_usage,
            stopped: false,
            finished: false,
            errored: false,
        }
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn chunk(&self, delta: Value, finish: Value) -> Vec<u8> {
        self.chunks.delta(delta, finish)
    }

    fn done(&mut self) -> Vec<u8> {
        self.finished = true;
        self.chunks.end(self.usage, self.caller_wants_usage)
    }

    /// The bytes to send the caller for one upstream message.
    pub fn frame(&mut self, frame: &Frame) -> Vec<u8> {
        if self.finished {
            return Vec::new();
        }
        let data: Value = serde_json::from_slice(&frame.payload).unwrap_or(Value::Null);
        match frame.header(":message-type").unwrap_or("event") {
            "event" => {}
            "exception" => {
                self.finished = true;
                self.errored = true;
                let e = error(&data, frame.header(":exception-type"));
                return sse::data(&e.to_string());
            }
            _ => {
                self.finished = true;
                self.errored = true;
                let message = frame
                    .header(":error-message")
                    .unwrap_or("the upstream broke off the stream");
                let e = error(&json!({"message": message}), frame.header(":error-code"));
                return sse::data(&e.to_string());
            }
        }
        match frame.header(":event-type").unwrap_or("") {
            "messageStart" => self.chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            "contentBlockStart" => {
                let Some(tool) = data["start"].get("toolUse") else {
                    return Vec::new();
                };
                let index = data["contentBlockIndex"].as_u64().unwrap_or(0);
                let call = self.tools.len();
                self.tools.push((index, call));
                self.chunk(
                    json!({"tool_calls": [{"index": call, "id": tool["toolUseId"], "type": "function",
                        "function": {"name": tool["name"], "arguments": ""}}]}),
                    Value::Null,
                )
            }
            "contentBlockDelta" => {
                let d = &data["delta"];
                if let Some(text) = d.get("text").and_then(Value::as_str) {
                    self.chunk(json!({"content": text}), Value::Null)
                } else if let Some(input) = d["toolUse"].get("input").and_then(Value::as_str) {
                    let index = data["contentBlockIndex"].as_u64().unwrap_or(0);
                    let call = self
                        .tools
                        .iter()
                        .find(|(b, _)| *b == index)
                        .map_or(0, |(_, c)| *c);
                    self.chunk(
                        json!({"tool_calls": [{"index": call, "function": {"arguments": input}}]}),
                        Value::Null,
                    )
                } else {
                    Vec::new()
                }
            }
            "messageStop" => {
                self.stopped = true;
                self.chunk(json!({}), finish_reason(data["stopReason"].as_str()))
            }
            "metadata" => {
                if let Some(u) = usage_of(&data["usage"]) {
                    self.usage = Some(u);
                }
                self.done()
            }
            _ => Vec::new(),
        }
    }

    /// What to send when the upstream ends its stream: after `messageStop` a stream
    /// without its `metadata` still ends well; before it, the stream was cut (`None`).
    pub fn end(&mut self) -> Option<Vec<u8>> {
        (self.stopped && !self.finished).then(|| self.done())
    }
}

/// The embedding models Bedrock serves through `InvokeModel`, by their request shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedFamily {
    /// Amazon Titan: one text a call (`inputText`).
    Titan,
    /// Cohere Embed: a list of texts (`texts`).
    Cohere,
}

impl EmbedFamily {
    pub fn of(model: &str) -> Option<EmbedFamily> {
        if model.contains("titan-embed") {
            Some(EmbedFamily::Titan)
        } else if model.contains("cohere.embed") {
            Some(EmbedFamily::Cohere)
        } else {
            None
        }
    }
}

/// An OpenAI embeddings request as Bedrock's `InvokeModel` body for `family`.
pub fn embed_request(
    body: &Map<String, Value>,
    family: EmbedFamily,
) -> Result<Map<String, Value>, GatewayError> {
    let texts: Vec<&str> = match body.get("input") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => {
            a.iter().filter_map(Value::as_str).collect()
        }
        _ => {
            return Err(GatewayError::invalid(
                "`input` must be a string or a non-empty list of strings (Bedrock embeds text, not tokens)",
            ))
        }
    };
    match body.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => {}
        Some(other) => {
            return Err(GatewayError::invalid(format!(
                "`encoding_format` `{other}`: Bedrock answers floats here; leave it out or send `float`"
            )))
        }
    }
    let dimensions = body.get("dimensions").filter(|d| !d.is_null());
    Ok(match family {
        EmbedFamily::Titan => {
            let [text] = texts[..] else {
                return Err(GatewayError::invalid(
                    "Amazon Titan embeds one text a call: send `input` as one string",
                ));
            };
            let mut out = Map::new();
            out.insert("inputText".into(), json!(text));
            if let Some(d) = dimensions {
                out.insert("dimensions".into(), d.clone());
            }
            out.insert("normalize".into(), json!(true));
            out
        }
        EmbedFamily::Cohere => {
            if dimensions.is_some() {
                return Err(GatewayError::invalid(
                    "`dimensions`: Cohere Embed on Bedrock answers its model's own size; leave it out",
                ));
            }
            let mut out = Map::new();
            out.insert("texts".into(), json!(texts));
            out.insert("input_type".into(), json!("search_document"));
            out
        }
    })
}

/// Bedrock's embeddings answer in OpenAI's shape. Titan reports its input tokens; for
/// Cohere they are estimated from the texts sent, a token per 4 bytes (rounded up).
pub fn embed_response(answer: &Value, request: &Value, model: &str) -> (Value, Option<Usage>) {
    let vectors: Vec<Value> = match answer.get("embedding") {
        Some(v) => vec![v.clone()],
        None => answer
            .get("embeddings")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    let tokens = answer
        .get("inputTextTokenCount")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| {
            request
                .get("texts")
                .and_then(Value::as_array)
                .map(|ts| {
                    ts.iter()
                        .filter_map(Value::as_str)
                        .map(|t| (t.len() as u64).div_ceil(4))
                        .sum()
                })
                .unwrap_or(0)
        });
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
        .collect();
    (
        json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }),
        Some(Usage {
            prompt_tokens: tokens,
            ..Usage::default()
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a message whose header values are all strings (type 7).
    fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        for (name, value) in headers {
            h.push(name.len() as u8);
            h.extend_from_slice(name.as_bytes());
            h.push(7);
            h.extend_from_slice(&(value.len() as u16).to_be_bytes());
            h.extend_from_slice(value.as_bytes());
        }
        let total = 12 + h.len() + payload.len() + 4;
        let mut out = Vec::new();
        out.extend_from_slice(&(total as u32).to_be_bytes());
        out.extend_from_slice(&(h.len() as u32).to_be_bytes());
        let c = crc32(&out);
        out.extend_from_slice(&c.to_be_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(payload);
        let c = crc32(&out);
        out.extend_from_slice(&c.to_be_bytes());
        out
    }

    fn event(kind: &str, payload: Value) -> Vec<u8> {
        encode(
            &[
                (":event-type", kind),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload.to_string().as_bytes(),
        )
    }

    fn chunks(bytes: &[u8]) -> Vec<Value> {
        String::from_utf8_lossy(bytes)
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap_or(json!(d)))
            .collect()
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn the_decoder_takes_messages_in_any_pieces_and_checks_both_crcs() {
        let mut bytes = event("messageStart", json!({"role": "assistant"}));
        bytes.extend(event("messageStop", json!({"stopReason": "end_turn"})));
        let mut d = FrameDecoder::default();
        let mut frames = Vec::new();
        for piece in bytes.chunks(7) {
            frames.extend(d.push(piece).unwrap());
        }
        assert!(!d.has_partial());
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].header(":event-type"), Some("messageStart"));
        assert_eq!(frames[1].payload, br#"{"stopReason":"end_turn"}"#);

        // A flipped payload byte: the message CRC does not match.
        let mut bad = event("messageStart", json!({"role": "assistant"}));
        let n = bad.len();
        bad[n - 6] ^= 0x01;
        let e = FrameDecoder::default().push(&bad).unwrap_err();
        assert!(e.contains("CRC"), "{e}");
        // A flipped length: the prelude CRC does not match.
        let mut bad = event("messageStart", json!({}));
        bad[3] ^= 0x01;
        let e = FrameDecoder::default().push(&bad).unwrap_err();
        assert!(e.contains("prelude CRC"), "{e}");
        // Half a message waits.
        let mut d = FrameDecoder::default();
        assert!(d.push(&bytes[..20]).unwrap().is_empty());
        assert!(d.has_partial());
    }

    #[test]
    fn a_conversation_with_tools_translates_to_converse() {
        let body = json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
                {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather", "parameters": {"type": "object"}}}],
            "tool_choice": "required",
            "stop": "END",
            "max_tokens": 50,
            "temperature": 0.5,
            "top_p": 0.9,
            "stream": true
        });
        let out = request(body.as_object().unwrap()).unwrap();
        assert_eq!(out["system"], json!([{"text": "Be brief."}]));
        assert_eq!(
            out["inferenceConfig"],
            json!({"maxTokens": 50, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]})
        );
        assert_eq!(
            out["toolConfig"],
            json!({"tools": [{"toolSpec": {"name": "weather", "inputSchema": {"json": {"type": "object"}}, "description": "Weather"}}],
                "toolChoice": {"any": {}}})
        );
        assert!(out.get("model").is_none() && out.get("stream").is_none());
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(
            m[0],
            json!({"role": "user", "content": [{"text": "Weather in Paris?"}]})
        );
        assert_eq!(
            m[1]["content"][0]["toolUse"],
            json!({"toolUseId": "t1", "name": "weather", "input": {"city": "Paris"}})
        );
        assert_eq!(
            m[2]["content"][0]["toolResult"],
            json!({"toolUseId": "t1", "content": [{"text": "sunny"}]})
        );
        assert_eq!(m[2]["content"][1]["text"], "Thanks");
    }

    #[test]
    fn an_answer_translates_back_with_usage_and_stop_reason() {
        let a = json!({"output": {"message": {"role": "assistant", "content": [
                {"text": "Let me check."},
                {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Paris"}}}]}},
            "stopReason": "tool_use", "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}});
        let (body, usage) = response(&a, "anthropic.claude-v1:0", 7);
        assert_eq!(body["model"], "anthropic.claude-v1:0");
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(body["choices"][0]["message"]["content"], "Let me check.");
        assert_eq!(
            body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Paris\"}"
        );
        assert_eq!(usage.unwrap().total(), 15);
        assert_eq!(body["usage"]["total_tokens"], 15);
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("content_filtered", "content_filter"),
            ("guardrail_intervened", "content_filter"),
        ] {
            assert_eq!(finish_reason(Some(stop)), finish);
        }
        let e = error(
            &json!({"message": "Too many requests"}),
            Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        );
        assert_eq!(
            e,
            json!({"error": {"message": "Too many requests", "type": "ThrottlingException", "param": null, "code": null}})
        );
    }

    #[test]
    fn a_stream_becomes_openai_chunks_with_usage_when_asked() {
        let mut t = StreamTranslator::new("m", 1, true);
        let mut out = Vec::new();
        for f in [
            event("messageStart", json!({"role": "assistant", "p": "abc"})),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
            ),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "lo"}}),
            ),
            event("contentBlockStop", json!({"contentBlockIndex": 0})),
            event(
                "contentBlockStart",
                json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "f"}}}),
            ),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"a\":1}"}}}),
            ),
            event("messageStop", json!({"stopReason": "tool_use"})),
            event(
                "metadata",
                json!({"usage": {"inputTokens": 3, "outputTokens": 2}}),
            ),
        ] {
            for frame in FrameDecoder::default().push(&f).unwrap() {
                out.extend(t.frame(&frame));
            }
        }
        assert!(t.finished);
        let c = chunks(&out);
        assert_eq!(c[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(c[1]["choices"][0]["delta"]["content"], "Hel");
        assert_eq!(c[2]["choices"][0]["delta"]["content"], "lo");
        assert_eq!(c[3]["choices"][0]["delta"]["tool_calls"][0]["id"], "t1");
        assert_eq!(
            c[4]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(c[5]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(c[6]["usage"]["total_tokens"], 5);
        assert_eq!(c[7], json!("[DONE]"));
        assert_eq!(c.len(), 8);
        assert_eq!(t.usage().unwrap().prompt_tokens, 3);
    }

    #[test]
    fn an_exception_message_becomes_an_error_chunk() {
        let mut t = StreamTranslator::new("m", 1, false);
        let ex = encode(
            &[
                (":exception-type", "modelStreamErrorException"),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            br#"{"message":"Overloaded"}"#,
        );
        let frames = FrameDecoder::default().push(&ex).unwrap();
        let c = chunks(&t.frame(&frames[0]));
        assert_eq!(c[0]["error"]["message"], "Overloaded");
        assert_eq!(c[0]["error"]["type"], "modelStreamErrorException");
        assert!(t.finished);
        // A stream that ends after messageStop without metadata still ends with [DONE].
        let mut t = StreamTranslator::new("m", 1, true);
        assert!(t.end().is_none());
        let stop = event("messageStop", json!({"stopReason": "end_turn"}));
        let frames = FrameDecoder::default().push(&stop).unwrap();
        t.frame(&frames[0]);
        assert_eq!(t.end().unwrap(), sse::DONE);
    }
}
