//! Tests of the fake upstream itself: each service's format, the stream framings, the
//! knobs and the record, seen by a plain HTTP client.

use std::io::Read;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::upstream::{eventstream, ErrorReply, Service, ToolCall, Upstream};

struct Res {
    status: u16,
    headers: reqwest::header::HeaderMap,
    /// The body, or the error that ended it.
    body: Result<Vec<u8>, String>,
    elapsed: Duration,
}

impl Res {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone().expect("body complete")).unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text()).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn post(url: &str, headers: &[(&str, &str)], body: &Value) -> Res {
    post_raw(url, headers, body.to_string())
}

fn post_raw(url: &str, headers: &[(&str, &str)], body: String) -> Res {
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut res = req.send().expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let mut buf = Vec::new();
    let body = match res.read_to_end(&mut buf) {
        Ok(_) => Ok(buf),
        Err(e) => Err(format!(
            "{e} after {} bytes: {}",
            buf.len(),
            String::from_utf8_lossy(&buf)
        )),
    };
    Res {
        status,
        headers,
        body,
        elapsed: started.elapsed(),
    }
}

/// `(event name, data)` for each SSE event.
fn sse_events(text: &str) -> Vec<(Option<String>, String)> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = None;
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                } else {
                    panic!("not an SSE line: {line:?}");
                }
            }
            (name, data)
        })
        .collect()
}

const BEARER: (&str, &str) = ("authorization", "Bearer sk-upstream-1");

fn chat_body(stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there, how are you?"}]})
}

#[test]
fn upstream_openai_chat_json_and_record() {
    let up = Upstream::start_blocking();
    let res = post(
        &format!("{}/chat/completions?trace=1", up.base_url("/v1")),
        &[BEARER, ("x-extra", "yes")],
        &chat_body(false),
    );
    assert_eq!(res.status, 200);
    let j = res.json();
    assert_eq!(j["object"], "chat.completion");
    assert_eq!(j["model"], "gpt-4o-mini");
    assert!(j["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(j["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(j["choices"][0]["index"], 0);
    assert_eq!(j["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        j["choices"][0]["message"]["content"],
        "The quick brown fox jumps over the lazy dog."
    );
    assert_eq!(j["choices"][0]["finish_reason"], "stop");
    // "Be brief." 3 + "Hello there, how are you?" 7 + 2 roles×1 ("system" 2, "user" 1) + 3×2.
    assert_eq!(j["usage"]["prompt_tokens"], 19);
    assert_eq!(j["usage"]["completion_tokens"], 9);
    assert_eq!(j["usage"]["total_tokens"], 28);

    let r = up.last_request();
    assert_eq!(up.request_count(), 1);
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.query.as_deref(), Some("trace=1"));
    assert_eq!(r.query_param("trace").as_deref(), Some("1"));
    assert_eq!(r.service, Service::OpenAi);
    assert_eq!(r.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(r.bearer(), Some("sk-upstream-1"));
    assert_eq!(r.header("X-Extra"), Some("yes"));
    assert_eq!(r.json.as_ref().unwrap()["messages"][1]["role"], "user");
    assert!(!r.is_stream());
    assert!(up.saw("sk-upstream-1"));
    assert!(up.saw("how are you"));
    assert!(!up.saw("sk-never-sent"));
    up.clear_requests();
    assert_eq!(up.request_count(), 0);
}

#[test]
fn upstream_openai_stream_with_and_without_usage() {
    let up = Upstream::start_blocking();
    let url = format!("{}/chat/completions", up.base_url("/v1"));
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let res = post(&url, &[BEARER], &body);
    assert_eq!(res.status, 200);
    assert!(res
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_events(&res.text());
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|(name, d)| {
            assert!(name.is_none());
            serde_json::from_str(d).unwrap()
        })
        .collect();
    // role chunk, 9 content chunks, finish chunk, usage chunk
    assert_eq!(chunks.len(), 12);
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 9);
    assert_eq!(usage_chunk["usage"]["total_tokens"], 28);
    let mut text = String::new();
    for c in rest {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert!(c["usage"].is_null() && c.get("usage").is_some(), "{c}");
        text.push_str(c["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
    }
    assert_eq!(rest[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(rest.last().unwrap()["choices"][0]["finish_reason"], "stop");
    assert_eq!(text, "The quick brown fox jumps over the lazy dog.");
    assert!(up.last_request().is_stream());

    let res = post(&url, &[BEARER], &chat_body(true));
    let events = sse_events(&res.text());
    assert_eq!(events.len(), 12, "no usage chunk without include_usage");
    for (_, d) in &events[..11] {
        let c: Value = serde_json::from_str(d).unwrap();
        assert!(c.get("usage").is_none(), "{c}");
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }

    up.set(|k| k.omit_usage = true);
    let res = post(&url, &[BEARER], &body);
    let events = sse_events(&res.text());
    assert_eq!(events.len(), 12, "omit_usage drops the usage chunk");
    let res = post(&url, &[BEARER], &chat_body(false));
    assert!(res.json().get("usage").is_none());
}

#[test]
fn upstream_openai_tool_calls_and_max_tokens() {
    let up = Upstream::start_blocking();
    let url = format!("{}/chat/completions", up.base_url("/v1"));
    let mut body = chat_body(false);
    body["tools"] =
        json!([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]);
    up.set(|k| {
        k.tool_call = Some(ToolCall {
            name: None,
            arguments: json!({"city": "Paris"}),
        })
    });
    let j = post(&url, &[BEARER], &body).json();
    let call = &j["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(j["choices"][0]["finish_reason"], "tool_calls");

    body["stream"] = json!(true);
    let events = sse_events(&post(&url, &[BEARER], &body).text());
    let mut args = String::new();
    for (_, d) in &events[..events.len() - 1] {
        let c: Value = serde_json::from_str(d).unwrap();
        if let Some(a) = c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
        {
            args.push_str(a);
        }
    }
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "Paris"})
    );

    up.set(|k| k.tool_call = None);
    let mut body = chat_body(false);
    body["max_tokens"] = json!(3);
    let j = post(&url, &[BEARER], &body).json();
    assert_eq!(j["choices"][0]["message"]["content"], "The quick brown");
    assert_eq!(j["choices"][0]["finish_reason"], "length");
    assert_eq!(j["usage"]["completion_tokens"], 3);
}

#[test]
fn upstream_openai_errors_auth_and_queue() {
    let up = Upstream::start_blocking();
    let url = format!("{}/chat/completions", up.base_url("/v1"));
    let res = post(&url, &[], &chat_body(false));
    assert_eq!(res.status, 401);
    let e = &res.json()["error"];
    for field in ["message", "type", "param", "code"] {
        assert!(e.get(field).is_some(), "{e}");
    }

    up.credentials(|c| c.openai = Some("sk-right".into()));
    let res = post(
        &url,
        &[("authorization", "Bearer sk-wrong")],
        &chat_body(false),
    );
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"]["code"], "invalid_api_key");
    assert!(!res.text().contains("sk-wrong"), "the key is masked");
    let ok = [("authorization", "Bearer sk-right")];
    assert_eq!(post(&url, &ok, &chat_body(false)).status, 200);

    up.fail_next(429, Some(7));
    up.fail_next_n(2, 503, None);
    let res = post(&url, &ok, &chat_body(false));
    assert_eq!(res.status, 429);
    assert_eq!(res.header("retry-after"), Some("7"));
    assert_eq!(res.json()["error"]["code"], "rate_limit_exceeded");
    for _ in 0..2 {
        let res = post(&url, &ok, &chat_body(false));
        assert_eq!(res.status, 503);
        assert!(res.header("retry-after").is_none());
        assert_eq!(res.json()["error"]["type"], "server_error");
    }
    assert_eq!(post(&url, &ok, &chat_body(false)).status, 200);

    // A custom body, only for embeddings: chat passes by it.
    let mut e = ErrorReply::new(400);
    e.body =
        Some(json!({"error": {"message": "custom", "type": "x", "param": null, "code": null}}));
    e.path_prefix = Some("/v1/embeddings".into());
    up.fail_next_with(e);
    assert_eq!(post(&url, &ok, &chat_body(false)).status, 200);
    let emb = format!("{}/embeddings", up.base_url("/v1"));
    let res = post(&emb, &ok, &json!({"model": "m", "input": "x"}));
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["message"], "custom");

    let res = post(&url, &ok, &json!({"model": "gpt-4o"}));
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["param"], "messages");
    let res = post_raw(&url, &ok, "{not json".into());
    assert_eq!(res.status, 400);
    let res = post(&format!("{}/nowhere", up.url()), &ok, &json!({}));
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["error"]["code"], "unknown_url");
}

#[test]
fn upstream_openai_embeddings() {
    let up = Upstream::start_blocking();
    let url = format!("{}/embeddings", up.base_url("/v1"));
    let j = post(
        &url,
        &[BEARER],
        &json!({"model": "text-embedding-3-small", "input": ["one", "two words"]}),
    )
    .json();
    assert_eq!(j["object"], "list");
    assert_eq!(j["model"], "text-embedding-3-small");
    let data = j["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["object"], "embedding");
    let v: Vec<f64> = data[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(v.len(), 8);
    let norm: f64 = v.iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-3, "{norm}");
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    assert_eq!(j["usage"]["prompt_tokens"], 4);
    assert_eq!(j["usage"]["total_tokens"], 4);

    let j = post(
        &url,
        &[BEARER],
        &json!({"model": "m", "input": "one", "encoding_format": "base64", "dimensions": 4}),
    )
    .json();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(j["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes.len(), 16);
}

#[test]
fn upstream_knobs_latency_ttfb_delay_cut_and_model_tokens() {
    let up = Upstream::start_blocking();
    let url = format!("{}/chat/completions", up.base_url("/v1"));
    up.set(|k| k.latency = Duration::from_millis(150));
    let res = post(&url, &[BEARER], &chat_body(false));
    assert_eq!(res.status, 200);
    assert!(
        res.elapsed >= Duration::from_millis(150),
        "{:?}",
        res.elapsed
    );

    up.set(|k| {
        k.latency = Duration::ZERO;
        k.ttfb = Duration::from_millis(100);
        k.chunk_delay = Duration::from_millis(30);
        k.chunks = 4;
    });
    let res = post(&url, &[BEARER], &chat_body(true));
    assert!(
        res.elapsed >= Duration::from_millis(190),
        "{:?}",
        res.elapsed
    );
    assert_eq!(
        sse_events(&res.text()).len(),
        7,
        "role + 4 + finish + [DONE]"
    );

    up.set(|k| {
        k.ttfb = Duration::ZERO;
        k.chunk_delay = Duration::ZERO;
        k.chunks = 9;
        k.cut_after = Some(2);
    });
    let res = post(&url, &[BEARER], &chat_body(true));
    assert_eq!(res.status, 200);
    let err = res.body.clone().expect_err("a cut stream ends in an error");
    assert!(err.contains("quick"), "two chunks arrived: {err}");
    assert!(!err.contains("brown"), "{err}");
    assert!(!err.contains("[DONE]"), "{err}");

    // Cut after every content chunk: no finish chunk, no [DONE].
    up.set(|k| k.cut_after = Some(9));
    let err = post(&url, &[BEARER], &chat_body(true))
        .body
        .expect_err("cut");
    assert!(
        err.contains("dog.") && !err.contains("finish_reason\":\"stop") && !err.contains("[DONE]"),
        "{err}"
    );

    up.set(|k| k.cut_after = None);
    up.set(|k| k.error_after = Some(1));
    let events = sse_events(&post(&url, &[BEARER], &chat_body(true)).text());
    assert_eq!(events.len(), 3, "role, one chunk, error: {events:?}");
    let last: Value = serde_json::from_str(&events[2].1).unwrap();
    assert_eq!(last["error"]["type"], "server_error");
    up.set(|k| k.error_after = None);

    // Knobs through the model name.
    let mut body = chat_body(false);
    body["model"] = json!("gpt-4o-mini+slow-120+chunks-2");
    let res = post(&url, &[BEARER], &body);
    assert!(res.elapsed >= Duration::from_millis(120));
    assert_eq!(res.json()["choices"][0]["message"]["content"], "The quick");
    body["model"] = json!("fail-529");
    assert_eq!(post(&url, &[BEARER], &body).status, 529);
    body["model"] = json!("slow-100");
    assert!(post(&url, &[BEARER], &body).elapsed >= Duration::from_millis(100));

    // Per-path knobs.
    up.on_path("/v1/embeddings", |k| k.embedding_dims = 3);
    let j = post(
        &format!("{}/embeddings", up.base_url("/v1")),
        &[BEARER],
        &json!({"model": "m", "input": "x"}),
    )
    .json();
    assert_eq!(j["data"][0]["embedding"].as_array().unwrap().len(), 3);
    let j = post(&url, &[BEARER], &chat_body(false)).json();
    assert_eq!(
        j["usage"]["completion_tokens"], 9,
        "chat keeps the defaults"
    );
}

#[test]
fn upstream_anthropic_messages() {
    let up = Upstream::start_blocking();
    let url = format!("{}/messages", up.base_url("/v1"));
    let headers = [
        ("x-api-key", "sk-ant-1"),
        ("anthropic-version", "2023-06-01"),
    ];
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello"}]});

    let res = post(&url, &[headers[1]], &body);
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"]["type"], "authentication_error");
    let res = post(&url, &[headers[0]], &body);
    assert_eq!(res.status, 400);
    assert!(res.text().contains("anthropic-version"));
    let mut no_max = body.clone();
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let res = post(&url, &headers, &no_max);
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["type"], "error");
    assert_eq!(res.json()["error"]["type"], "invalid_request_error");
    assert!(res.text().contains("max_tokens"));

    let res = post(&url, &headers, &body);
    assert_eq!(res.status, 200);
    let j = res.json();
    assert_eq!(j["type"], "message");
    assert_eq!(j["role"], "assistant");
    assert_eq!(j["model"], "claude-sonnet-4-5");
    assert_eq!(j["content"][0]["type"], "text");
    assert_eq!(
        j["content"][0]["text"],
        "The quick brown fox jumps over the lazy dog."
    );
    assert_eq!(j["stop_reason"], "end_turn");
    assert!(j["stop_sequence"].is_null());
    assert_eq!(j["usage"]["output_tokens"], 9);
    assert!(j["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(up.last_request().service, Service::Anthropic);

    let mut streaming = body.clone();
    streaming["stream"] = json!(true);
    let events = sse_events(&post(&url, &headers, &streaming).text());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_deref().unwrap()).collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 9]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    for (name, data) in &events {
        let d: Value = serde_json::from_str(data).unwrap();
        assert_eq!(
            d["type"],
            name.as_deref().unwrap(),
            "the data's type names the event"
        );
    }
    let start: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(
        start["message"]["usage"]["input_tokens"],
        j["usage"]["input_tokens"]
    );
    let delta: Value = serde_json::from_str(&events[13].1).unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 9);
    let text: String = events[3..12]
        .iter()
        .map(|(_, d)| {
            let d: Value = serde_json::from_str(d).unwrap();
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "The quick brown fox jumps over the lazy dog.");

    // Mid-stream overload.
    up.set(|k| k.error_after = Some(2));
    let events = sse_events(&post(&url, &headers, &streaming).text());
    let (name, data) = events.last().unwrap();
    assert_eq!(name.as_deref(), Some("error"));
    let d: Value = serde_json::from_str(data).unwrap();
    assert_eq!(d["error"]["type"], "overloaded_error");
    assert_eq!(events.len(), 3 + 2 + 1);
    up.set(|k| k.error_after = None);

    // A tool call streams as input_json_delta.
    up.set(|k| {
        k.tool_call = Some(ToolCall {
            name: None,
            arguments: json!({"q": "rust"}),
        })
    });
    let mut tools = streaming.clone();
    tools["tools"] = json!([{"name": "search", "input_schema": {"type": "object"}}]);
    let events = sse_events(&post(&url, &headers, &tools).text());
    let block: Value = serde_json::from_str(&events[1].1).unwrap();
    assert_eq!(block["content_block"]["type"], "tool_use");
    assert_eq!(block["content_block"]["name"], "search");
    let json_text: String = events
        .iter()
        .filter(|(n, _)| n.as_deref() == Some("content_block_delta"))
        .map(|(_, d)| {
            let d: Value = serde_json::from_str(d).unwrap();
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json_text).unwrap(),
        json!({"q": "rust"})
    );

    up.fail_next(529, None);
    let res = post(&url, &headers, &body);
    assert_eq!(res.status, 529);
    assert_eq!(res.json()["error"]["type"], "overloaded_error");
}

#[test]
fn upstream_azure_deployments() {
    let up = Upstream::start_blocking();
    let chat =
        |d: &str, q: &str| format!("{}/openai/deployments/{d}/chat/completions{q}", up.url());
    let key = [("api-key", "azure-key-1")];
    let body = json!({"messages": [{"role": "user", "content": "Hi"}]});
    let q = "?api-version=2024-10-21";

    let res = post(&chat("gpt4o", q), &key, &body);
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["model"], "gpt4o");
    assert!(res.json()["prompt_filter_results"].is_array());
    let r = up.last_request();
    assert_eq!(r.service, Service::Azure);
    assert_eq!(r.model.as_deref(), Some("gpt4o"));
    assert_eq!(r.query_param("api-version").as_deref(), Some("2024-10-21"));

    assert_eq!(post(&chat("gpt4o", ""), &key, &body).status, 404);
    let res = post(&chat("gpt4o", q), &[], &body);
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"]["code"], "401");

    up.azure_deployment("prod-4o", "gpt-4o");
    let res = post(&chat("gpt4o", q), &key, &body);
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["error"]["code"], "DeploymentNotFound");
    let res = post(&chat("prod-4o", q), &key, &body);
    assert_eq!(res.json()["model"], "gpt-4o");

    let mut streaming = body.clone();
    streaming["stream"] = json!(true);
    let events = sse_events(&post(&chat("prod-4o", q), &key, &streaming).text());
    let first: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(
        first["choices"],
        json!([]),
        "Azure opens with prompt filter results"
    );
    assert!(first["prompt_filter_results"].is_array());
    assert_eq!(events.last().unwrap().1, "[DONE]");

    let emb = format!("{}/openai/deployments/prod-4o/embeddings{q}", up.url());
    let res = post(&emb, &key, &json!({"input": "x"}));
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["data"][0]["index"], 0);

    up.credentials(|c| c.azure = Some("azure-key-2".into()));
    assert_eq!(post(&chat("prod-4o", q), &key, &body).status, 401);
}

fn sigv4_headers(akid: &str, region: &str) -> Vec<(String, String)> {
    vec![
        (
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={akid}/20250101/{region}/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={}",
                "0a".repeat(32)
            ),
        ),
        ("x-amz-date".into(), "20250101T120000Z".into()),
    ]
}

#[test]
fn upstream_bedrock_converse_and_eventstream() {
    assert_eq!(eventstream::crc32(b"123456789"), 0xCBF4_3926);
    let up = Upstream::start_blocking();
    up.credentials(|c| {
        c.aws_access_key_id = Some("AKIDEXAMPLE".into());
        c.aws_region = Some("eu-west-1".into());
    });
    let model = "anthropic.claude-3-haiku-20240307-v1%3A0";
    let url = format!("{}/model/{model}/converse", up.url());
    let body = json!({"messages": [{"role": "user", "content": [{"text": "Hi"}]}],
        "inferenceConfig": {"maxTokens": 50}});
    let good = sigv4_headers("AKIDEXAMPLE", "eu-west-1");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let res = post(&url, &[], &body);
    assert_eq!(res.status, 403);
    assert!(res
        .header("x-amzn-errortype")
        .unwrap()
        .starts_with("MissingAuthenticationToken"));
    let res = post(&url, &[("authorization", "Bearer x")], &body);
    assert_eq!(res.status, 403);
    let res = post(&url, &good[..1], &body);
    assert_eq!(res.status, 403, "x-amz-date is required");
    let wrong = sigv4_headers("AKIDEXAMPLE", "us-east-1");
    let wrong: Vec<(&str, &str)> = wrong
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(post(&url, &wrong, &body).status, 403);
    let wrong = sigv4_headers("AKIDOTHER", "eu-west-1");
    let wrong: Vec<(&str, &str)> = wrong
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = post(&url, &wrong, &body);
    assert_eq!(res.status, 403);
    assert!(res
        .header("x-amzn-errortype")
        .unwrap()
        .starts_with("UnrecognizedClient"));

    let res = post(&url, &good, &body);
    assert_eq!(res.status, 200, "{}", res.text());
    let j = res.json();
    assert_eq!(j["output"]["message"]["role"], "assistant");
    assert_eq!(
        j["output"]["message"]["content"][0]["text"],
        "The quick brown fox jumps over the lazy dog."
    );
    assert_eq!(j["stopReason"], "end_turn");
    assert_eq!(j["usage"]["outputTokens"], 9);
    assert_eq!(
        j["usage"]["totalTokens"].as_u64(),
        Some(j["usage"]["inputTokens"].as_u64().unwrap() + 9)
    );
    let r = up.last_request();
    assert_eq!(r.service, Service::Bedrock);
    assert_eq!(
        r.model.as_deref(),
        Some("anthropic.claude-3-haiku-20240307-v1:0")
    );
    let sig = r.sigv4().unwrap();
    assert_eq!(sig.access_key_id, "AKIDEXAMPLE");
    assert_eq!(sig.region, "eu-west-1");
    assert_eq!(sig.service, "bedrock");
    assert_eq!(sig.signed_headers, ["content-type", "host", "x-amz-date"]);

    let url = format!("{}/model/{model}/converse-stream", up.url());
    let res = post(&url, &good, &body);
    assert_eq!(
        res.header("content-type"),
        Some("application/vnd.amazon.eventstream")
    );
    let bytes = res.body.clone().unwrap();
    let (messages, used) = eventstream::decode(&bytes).unwrap();
    assert_eq!(used, bytes.len());
    let types: Vec<&str> = messages.iter().map(|m| m.event_type().unwrap()).collect();
    let mut expected = vec!["messageStart"];
    expected.extend(["contentBlockDelta"; 9]);
    expected.extend(["contentBlockStop", "messageStop", "metadata"]);
    assert_eq!(types, expected);
    for m in &messages {
        assert_eq!(m.header(":message-type"), Some("event"));
        assert_eq!(m.header(":content-type"), Some("application/json"));
    }
    let text: String = messages[1..10]
        .iter()
        .map(|m| m.json()["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "The quick brown fox jumps over the lazy dog.");
    assert_eq!(messages[11].json()["stopReason"], "end_turn");
    assert_eq!(messages[12].json()["usage"]["outputTokens"], 9);

    // The decoder checks both CRCs.
    let mut bad = bytes.clone();
    bad[20] ^= 1;
    assert!(eventstream::decode(&bad).unwrap_err().contains("CRC"));
    let mut bad = bytes.clone();
    bad[5] ^= 1;
    assert!(eventstream::decode(&bad).unwrap_err().contains("prelude"));
    let (partial, used) = eventstream::decode(&bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(partial.len(), messages.len() - 1);
    assert!(used < bytes.len());

    up.set(|k| k.error_after = Some(1));
    let bytes = post(&url, &good, &body).body.unwrap();
    let (messages, _) = eventstream::decode(&bytes).unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[2].header(":message-type"), Some("exception"));
    assert_eq!(messages[2].event_type(), Some("modelStreamErrorException"));

    up.set(|k| {
        k.error_after = None;
        k.cut_after = Some(3);
    });
    let err = post(&url, &good, &body).body.unwrap_err();
    assert!(err.contains("contentBlockDelta"), "{err}");
    assert!(!err.contains("messageStop"), "{err}");

    up.set(|k| k.cut_after = None);
    up.fail_next(429, Some(1));
    let res = post(&url, &good, &body);
    assert_eq!(res.status, 429);
    assert!(res
        .header("x-amzn-errortype")
        .unwrap()
        .starts_with("ThrottlingException"));
}

#[test]
fn upstream_gemini_generate_content() {
    let up = Upstream::start_blocking();
    let base = up.base_url("/v1beta/models/gemini-2.0-flash");
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {"maxOutputTokens": 5}});
    let res = post(&format!("{base}:generateContent"), &[], &body);
    assert_eq!(res.status, 403);
    assert_eq!(res.json()["error"]["status"], "PERMISSION_DENIED");

    let res = post(
        &format!("{base}:generateContent"),
        &[("x-goog-api-key", "g-key")],
        &body,
    );
    assert_eq!(res.status, 200);
    let j = res.json();
    assert_eq!(j["candidates"][0]["content"]["role"], "model");
    assert_eq!(
        j["candidates"][0]["content"]["parts"][0]["text"],
        "The quick brown fox jumps"
    );
    assert_eq!(j["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(j["usageMetadata"]["candidatesTokenCount"], 5);
    assert_eq!(
        j["usageMetadata"]["totalTokenCount"].as_u64(),
        Some(j["usageMetadata"]["promptTokenCount"].as_u64().unwrap() + 5)
    );
    let r = up.last_request();
    assert_eq!(r.service, Service::Gemini);
    assert_eq!(r.model.as_deref(), Some("gemini-2.0-flash"));

    up.credentials(|c| c.google = Some("g-key".into()));
    let res = post(&format!("{base}:generateContent?key=nope"), &[], &body);
    assert_eq!(res.status, 400);
    let res = post(
        &format!("{base}:streamGenerateContent?alt=sse&key=g-key"),
        &[],
        &body,
    );
    assert_eq!(res.status, 200);
    let events = sse_events(&res.text());
    assert_eq!(events.len(), 6);
    let mut text = String::new();
    for (_, d) in &events {
        let c: Value = serde_json::from_str(d).unwrap();
        text.push_str(
            c["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap(),
        );
    }
    assert_eq!(text, "The quick brown fox jumps");
    let last: Value = serde_json::from_str(&events[5].1).unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 5);

    let res = post(
        &format!("{base}:streamGenerateContent"),
        &[("x-goog-api-key", "g-key")],
        &body,
    );
    let array: Value = serde_json::from_str(&res.text()).unwrap();
    assert_eq!(array.as_array().unwrap().len(), 6);

    let res = post(
        &format!("{base}:generateContent"),
        &[("x-goog-api-key", "g-key")],
        &json!({"contents": []}),
    );
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["status"], "INVALID_ARGUMENT");
}

#[test]
fn upstream_starts_inside_a_runtime_and_waits_for_requests() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let up = rt.block_on(Upstream::start());
    let url = format!("{}/chat/completions", up.base_url("/v1"));
    let t = std::thread::spawn(move || post(&url, &[BEARER], &chat_body(false)).status);
    let seen = up.wait_for_requests(1, Duration::from_secs(10));
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(t.join().unwrap(), 200);
    assert!(seen[0].elapsed < Duration::from_secs(10));
}
