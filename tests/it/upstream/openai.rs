//! OpenAI chat completions and embeddings (also the body of Azure's answers).

use base64::Engine;
use serde_json::{json, Value};

use super::{embedding_for, sse, unix_now, Ctx, Gen, Part, Plan, Reply};

pub(crate) fn error_body(status: u16, message: &str, kind: &str, code: Option<&str>) -> Reply {
    Reply::json(
        status,
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}

fn missing(param: &str) -> Reply {
    Reply::json(
        400,
        json!({"error": {
            "message": format!("Missing required parameter: '{param}'."),
            "type": "invalid_request_error",
            "param": param,
            "code": "missing_required_parameter",
        }}),
    )
}

pub(crate) fn error_for_status(status: u16) -> Reply {
    let (message, kind, code) = match status {
        400 => ("Invalid request.", "invalid_request_error", None),
        401 => (
            "Incorrect API key provided.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        403 => (
            "You are not allowed to sample from this model",
            "invalid_request_error",
            None,
        ),
        404 => (
            "The model does not exist or you do not have access to it.",
            "invalid_request_error",
            Some("model_not_found"),
        ),
        429 => (
            "Rate limit reached for requests. Please try again later.",
            "requests",
            Some("rate_limit_exceeded"),
        ),
        503 => (
            "The engine is currently overloaded, please try again later.",
            "server_error",
            None,
        ),
        _ => (
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
    };
    error_body(status, message, kind, code)
}

pub(crate) fn authenticate(ctx: &Ctx) -> Option<Reply> {
    let bearer = ctx
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|k| !k.trim().is_empty());
    // Azure's v1 API and some compatible servers take `api-key` on /openai/… paths.
    let key = bearer.or_else(|| {
        ctx.path
            .starts_with("/openai/")
            .then(|| ctx.header("api-key"))
            .flatten()
    });
    let Some(key) = key else {
        return Some(error_body(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
            None,
        ));
    };
    match &ctx.credentials.openai {
        Some(expected) if expected != key => Some(error_body(
            401,
            &format!("Incorrect API key provided: {}.", mask(key)),
            "invalid_request_error",
            Some("invalid_api_key"),
        )),
        _ => None,
    }
}

pub(crate) fn mask(key: &str) -> String {
    let head: String = key.chars().take(3).collect();
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}*****{tail}")
}

/// Chat completions; `azure_model` is the deployment's model when Azure asks.
pub(crate) fn chat(ctx: &Ctx, azure_model: Option<&str>) -> Reply {
    let Some(body) = ctx.json.as_ref().filter(|j| j.is_object()) else {
        return error_body(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
            "invalid_request_error",
            None,
        );
    };
    let model = match azure_model {
        Some(m) => m.to_owned(),
        None => match body.get("model").and_then(Value::as_str) {
            Some(m) => m.to_owned(),
            None => return missing("model"),
        },
    };
    let Some(messages) = body
        .get("messages")
        .filter(|m| m.as_array().is_some_and(|a| !a.is_empty()))
    else {
        return missing("messages");
    };
    let max_tokens = body
        .get("max_completion_tokens")
        .or(body.get("max_tokens"))
        .and_then(Value::as_u64);
    let tools: Vec<String> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut input = vec![messages];
    if let Some(t) = body.get("tools") {
        input.push(t);
    }
    let gen = Gen::new(ctx, &input, max_tokens, &tools);
    let finish = if gen.tool.is_some() {
        "tool_calls"
    } else if gen.truncated {
        "length"
    } else {
        "stop"
    };
    let id = ctx.id("chatcmpl-");
    let created = unix_now();
    let usage = json!({
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "total_tokens": gen.total_tokens(),
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    });
    let azure = azure_model.is_some();
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    if !stream {
        let message = match &gen.tool {
            Some((call_id, name, args, _)) => json!({
                "role": "assistant", "content": null, "refusal": null, "annotations": [],
                "tool_calls": [{"id": call_id, "type": "function",
                    "function": {"name": name, "arguments": args.to_string()}}],
            }),
            None => {
                json!({"role": "assistant", "content": gen.text, "refusal": null, "annotations": []})
            }
        };
        let mut choice =
            json!({"index": 0, "message": message, "logprobs": null, "finish_reason": finish});
        let mut out = json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [], "usage": usage, "service_tier": "default",
            "system_fingerprint": "fp_fake",
        });
        if azure {
            choice["content_filter_results"] = filter_results();
            out["prompt_filter_results"] =
                json!([{"prompt_index": 0, "content_filter_results": filter_results()}]);
        }
        out["choices"] = json!([choice]);
        if ctx.knobs.omit_usage {
            out.as_object_mut().unwrap().remove("usage");
        }
        return Reply::json(200, out).with_header("x-request-id", &ctx.id("req_"));
    }

    let include_usage = body["stream_options"]["include_usage"].as_bool() == Some(true);
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "service_tier": "default", "system_fingerprint": "fp_fake", "choices": choices,
        });
        if include_usage {
            c["usage"] = usage.unwrap_or(Value::Null);
        }
        sse(None, &c.to_string())
    };
    let choice = |delta: Value, finish: Option<&str>| {
        let mut c = json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish});
        if azure {
            c["content_filter_results"] = json!({});
        }
        json!([c])
    };
    let mut plan = Plan::new("text/event-stream; charset=utf-8");
    plan.headers
        .push(("x-request-id".to_owned(), ctx.id("req_")));
    if azure {
        // Azure opens with a chunk that has no choices, only the prompt filter results.
        let first = json!({"choices": [], "created": 0, "id": "", "model": "", "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filter_results()}]});
        plan.push(Part::Head, sse(None, &first.to_string()));
    }
    match &gen.tool {
        Some((call_id, name, _, pieces)) => {
            plan.push(
                Part::Head,
                chunk(
                    choice(
                        json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0,
                            "id": call_id, "type": "function",
                            "function": {"name": name, "arguments": ""}}], "refusal": null}),
                        None,
                    ),
                    None,
                ),
            );
            for p in pieces {
                plan.push(
                    Part::Content,
                    chunk(
                        choice(
                            json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}),
                            None,
                        ),
                        None,
                    ),
                );
            }
        }
        None => {
            plan.push(
                Part::Head,
                chunk(
                    choice(
                        json!({"role": "assistant", "content": "", "refusal": null}),
                        None,
                    ),
                    None,
                ),
            );
            for p in &gen.pieces {
                plan.push(
                    Part::Content,
                    chunk(choice(json!({"content": p}), None), None),
                );
            }
        }
    }
    plan.push(Part::Tail, chunk(choice(json!({}), Some(finish)), None));
    if include_usage && !ctx.knobs.omit_usage {
        plan.push(Part::Tail, chunk(json!([]), Some(usage)));
    }
    plan.push(Part::Tail, "data: [DONE]\n\n");
    if let Some(k) = ctx.knobs.error_after {
        let err = json!({"error": {"message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error", "param": null, "code": null}});
        plan.error_after(k, sse(None, &err.to_string()));
    }
    Reply::Stream(plan)
}

fn filter_results() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe})
}

/// Embeddings; `azure_model` is the deployment's model when Azure asks.
pub(crate) fn embeddings(ctx: &Ctx, azure_model: Option<&str>) -> Reply {
    let Some(body) = ctx.json.as_ref().filter(|j| j.is_object()) else {
        return error_body(
            400,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
        );
    };
    let model = match azure_model {
        Some(m) => m.to_owned(),
        None => match body.get("model").and_then(Value::as_str) {
            Some(m) => m.to_owned(),
            None => return missing("model"),
        },
    };
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => {
            a.iter().map(|s| s.as_str().unwrap().to_owned()).collect()
        }
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_number) => {
            vec![Value::Array(a.clone()).to_string()]
        }
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_array) => {
            a.iter().map(Value::to_string).collect()
        }
        Some(_) => {
            return error_body(
                400,
                "'input' : input must be a string, an array of strings or of token arrays",
                "invalid_request_error",
                None,
            )
        }
        None => return missing("input"),
    };
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .map(|d| d as usize)
        .unwrap_or(ctx.knobs.embedding_dims);
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let v = embedding_for(text, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let prompt_tokens = ctx.knobs.prompt_tokens.unwrap_or_else(|| {
        inputs
            .iter()
            .map(|s| (s.chars().count() as u64).div_ceil(4).max(1))
            .sum()
    });
    let mut out = json!({"object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}});
    if ctx.knobs.omit_usage {
        out.as_object_mut().unwrap().remove("usage");
    }
    Reply::json(200, out).with_header("x-request-id", &ctx.id("req_"))
}
