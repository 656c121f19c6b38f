//! The gateway calls Amazon Bedrock's Converse API: a `catalog serve` that trusts the fake
//! upstream, a Bedrock integration with an access key pair, JSON and streamed calls.

use std::sync::Mutex;

use serde_json::{json, Value};

use crate::common::{Mode, Server, World};
use crate::upstream::{Service, Upstream};

const AWS_ID: &str = "AKIATESTBEDROCK7Q2W";
const AWS_SECRET: &str = "bedrockSecretAccessKey/Xy9+Zq8wVu7tS6rQ5pO4nM3";
const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

/// A served catalog trusting `up`, with workspace `eng`, the integration `aws`
/// (accessKey, us-east-1, custom host = the fake) provisioned to it and a workspace key.
fn bedrock_world(up: &Upstream) -> (World, String) {
    let home = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        home.path(),
        &home.path().join("server/catalog.db"),
        &[("CATALOG_TRUSTED_CUSTOM_HOSTS", &up.host_port())],
    );
    let w = World {
        home,
        mode: Mode::Served,
        server: Some(server),
        seen: Mutex::new(String::new()),
        extra_env: vec![
            ("AWS_ID".into(), AWS_ID.into()),
            ("AWS_SECRET".into(), AWS_SECRET.into()),
        ],
    };
    w.ok(&["workspaces", "create", "eng"]);
    w.ok(&[
        "integrations",
        "connect",
        "aws",
        "--service",
        "bedrock",
        "--aws-auth-type",
        "accessKey",
        "--aws-region",
        "us-east-1",
        "--aws-access-key-id-env",
        "AWS_ID",
        "--key-env",
        "AWS_SECRET",
        "--custom-host",
        &up.base_url(""),
        "--skip-provisioning",
        "--models",
        MODEL,
        "--custom-models",
    ]);
    w.ok(&["workspaces", "provision", "eng", "--integration", "aws"]);
    let key = w.ok(&[
        "api-keys",
        "create",
        "gateway",
        "--workspace",
        "eng",
        "--scope",
        "completions.write",
    ]);
    let key = key.stdout.trim().to_owned();
    (w, key)
}

fn call(w: &World, key: &str, body: Value) -> (u16, String) {
    let url = format!("{}/chat/completions", w.server.as_ref().unwrap().url);
    let res = reqwest::blocking::Client::new()
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .unwrap();
    let status = res.status().as_u16();
    (status, res.text().unwrap())
}

fn chunks(sse: &str) -> Vec<Value> {
    sse.split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or(json!(d)))
        .collect()
}

#[test]
fn bedrock_answers_json_and_streams_through_sigv4_signed_converse_calls() {
    let up = Upstream::start_blocking();
    up.credentials(|c| {
        c.aws_access_key_id = Some(AWS_ID.into());
        c.aws_region = Some("us-east-1".into());
    });
    let (w, key) = bedrock_world(&up);
    let model = format!("@aws/{MODEL}");

    // JSON.
    let (status, text) = call(
        &w,
        &key,
        json!({"model": model, "max_tokens": 64, "temperature": 0.2,
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]}),
    );
    assert_eq!(status, 200, "{text}\n{}", w.everything_seen());
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], MODEL);
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert!(!answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert!(answer["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let r = up.last_request();
    assert_eq!(r.service, Service::Bedrock);
    assert_eq!(r.model.as_deref(), Some(MODEL), "decoded model id");
    assert_eq!(
        r.path,
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    let sig = r.sigv4().expect("a SigV4 Authorization header");
    assert_eq!(sig.access_key_id, AWS_ID);
    assert_eq!(sig.region, "us-east-1");
    assert_eq!(sig.service, "bedrock");
    assert_eq!(
        sig.signed_headers,
        ["host", "x-amz-content-sha256", "x-amz-date"]
    );
    assert_eq!(
        r.header("x-amz-date").map(|d| &d[..8]),
        Some(sig.date.as_str())
    );
    let body = r.json.clone().unwrap();
    assert_eq!(body["system"], json!([{"text": "Be brief."}]));
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"text": "Hello there"}]}])
    );
    assert_eq!(body["inferenceConfig"]["maxTokens"], 64);
    assert_eq!(body["inferenceConfig"]["temperature"], 0.2);
    assert!(body.get("model").is_none());
    assert!(!r.contains(AWS_SECRET), "the secret access key was sent");

    // Stream, with the usage chunk asked for.
    let (status, text) = call(
        &w,
        &key,
        json!({"model": model, "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "Hello there"}]}),
    );
    assert_eq!(status, 200, "{text}");
    let c = chunks(&text);
    assert_eq!(c[0]["choices"][0]["delta"]["role"], "assistant", "{text}");
    let content: String = c
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!content.trim().is_empty(), "{text}");
    let n = c.len();
    assert_eq!(c[n - 1], json!("[DONE]"), "{text}");
    assert!(
        c[n - 2]["usage"]["total_tokens"].as_u64().unwrap() > 0,
        "{text}"
    );
    assert_eq!(c[n - 3]["choices"][0]["finish_reason"], "stop", "{text}");
    let r = up.last_request();
    assert!(r.path.ends_with("%3A0/converse-stream"), "{}", r.path);
    assert_eq!(r.sigv4().unwrap().access_key_id, AWS_ID);

    // An in-band exception becomes an error chunk.
    up.set(|k| k.error_after = Some(1));
    let (_, text) = call(
        &w,
        &key,
        json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "Hi"}]}),
    );
    let c = chunks(&text);
    let e = c.iter().find(|c| c.get("error").is_some()).expect(&text);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{text}"
    );
    up.set(|k| k.error_after = None);

    // Bedrock's refusals come back in OpenAI's error shape.
    up.fail_next(429, None);
    let (status, text) = call(
        &w,
        &key,
        json!({"model": model, "messages": [{"role": "user", "content": "Hi"}]}),
    );
    assert_eq!(status, 429, "{text}");
    let e: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(e["error"]["type"], "ThrottlingException", "{text}");
    assert!(e["error"]["message"].as_str().unwrap().contains("Too many"));

    // The secret access key appears in no output and no log line.
    let seen = w.everything_seen();
    assert!(seen.contains("gateway trace="), "{seen}");
    assert!(!seen.contains(AWS_SECRET), "the secret was shown:\n{seen}");
}

#[test]
fn bedrock_embeddings_of_titan_and_cohere_are_signed_invoke_calls() {
    let up = Upstream::start_blocking();
    up.credentials(|c| {
        c.aws_access_key_id = Some(AWS_ID.into());
        c.aws_region = Some("us-east-1".into());
    });
    let (w, key) = bedrock_world(&up);
    let titan = "amazon.titan-embed-text-v2:0";
    let cohere = "cohere.embed-english-v3";
    w.ok(&["models", "allow", "aws", titan, cohere]);
    let embed = |body: Value| {
        let url = format!("{}/embeddings", w.server.as_ref().unwrap().url);
        let res = reqwest::blocking::Client::new()
            .post(url)
            .bearer_auth(&key)
            .json(&body)
            .send()
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json::<Value>().unwrap())
    };
    let (status, body) = embed(
        json!({"model": format!("@aws/{titan}"), "input": "four words of text", "dimensions": 4}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 4);
    assert_eq!(body["usage"]["prompt_tokens"], 4, "Titan's own count");
    let r = up.last_request();
    assert_eq!(
        r.path,
        format!("/model/{}/invoke", "amazon.titan-embed-text-v2%3A0")
    );
    assert!(r
        .header("authorization")
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 Credential="));
    assert_eq!(r.json.as_ref().unwrap()["inputText"], "four words of text");

    let (status, body) = embed(json!({"model": format!("@aws/{cohere}"), "input": ["one", "two"]}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(
        up.last_request().json.as_ref().unwrap()["texts"],
        json!(["one", "two"])
    );

    // What the model cannot take is refused before anything is sent.
    let sent = up.request_count();
    let (status, body) = embed(json!({"model": format!("@aws/{titan}"), "input": ["a", "b"]}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one text a call"),
        "{body}"
    );
    assert_eq!(up.request_count(), sent);
}
