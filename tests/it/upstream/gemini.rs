//! Google Gemini: `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent` (`?alt=sse`: SSE; otherwise a streamed JSON array), and
//! `:batchEmbedContents`.

use serde_json::{json, Value};

use super::{Ctx, Gen, Part, Plan, Reply};

fn error(code: u16, status: &str, message: &str) -> Reply {
    Reply::json(
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

pub(crate) fn error_for_status(code: u16) -> Reply {
    let message = match code {
        429 => "Resource has been exhausted (e.g. check quota).",
        503 => "The model is overloaded. Please try again later.",
        404 => "models/unknown is not found for API version v1beta, or is not supported for generateContent.",
        400 => "Request contains an invalid argument.",
        _ => "An internal error has occurred.",
    };
    error(code, status_name(code), message)
}

pub(crate) fn authenticate(ctx: &Ctx) -> Option<Reply> {
    let key = ctx
        .header("x-goog-api-key")
        .map(str::to_owned)
        .or_else(|| ctx.query_param("key"))
        .filter(|k| !k.trim().is_empty());
    let Some(key) = key else {
        return Some(error(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        ));
    };
    match &ctx.credentials.google {
        Some(expected) if *expected != key => Some(error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        )),
        _ => None,
    }
}

pub(crate) fn generate(ctx: &Ctx, model: &str, stream: bool) -> Reply {
    let Some(body) = ctx.json.as_ref().filter(|j| j.is_object()) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    let Some(contents) = body
        .get("contents")
        .filter(|m| m.as_array().is_some_and(|a| !a.is_empty()))
    else {
        return error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified\n",
        );
    };
    let max_tokens = body["generationConfig"]["maxOutputTokens"].as_u64();
    let tools: Vec<String> = body["tools"]
        .as_array()
        .map(|a| {
            a.iter()
                .flat_map(|t| {
                    t["functionDeclarations"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|f| f["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut input = vec![contents];
    if let Some(s) = body.get("systemInstruction") {
        input.push(s);
    }
    let gen = Gen::new(ctx, &input, max_tokens, &tools);
    let finish = if gen.truncated { "MAX_TOKENS" } else { "STOP" };
    let usage = json!({"promptTokenCount": gen.prompt_tokens,
        "candidatesTokenCount": gen.completion_tokens, "totalTokenCount": gen.total_tokens(),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": gen.prompt_tokens}]});
    let response_id = ctx.id("");
    let response = |parts: Value, finish: Option<&str>, usage: Option<Value>| {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let Some(f) = finish {
            candidate["finishReason"] = json!(f);
        }
        let mut r =
            json!({"candidates": [candidate], "modelVersion": model, "responseId": response_id});
        if let Some(u) = usage.filter(|_| !ctx.knobs.omit_usage) {
            r["usageMetadata"] = u;
        }
        r
    };
    if !stream {
        let parts = match &gen.tool {
            Some((_, name, args, _)) => json!([{"functionCall": {"name": name, "args": args}}]),
            None => json!([{"text": gen.text}]),
        };
        return Reply::json(200, response(parts, Some(finish), Some(usage)));
    }
    let sse = ctx.query_param("alt").as_deref() == Some("sse");
    let running =
        json!({"promptTokenCount": gen.prompt_tokens, "totalTokenCount": gen.prompt_tokens});
    let mut chunks: Vec<(Part, Value)> = Vec::new();
    match &gen.tool {
        // Gemini sends a function call whole, in one chunk.
        Some((_, name, args, _)) => chunks.push((
            Part::Content,
            response(
                json!([{"functionCall": {"name": name, "args": args}}]),
                None,
                Some(running.clone()),
            ),
        )),
        None => {
            for p in &gen.pieces {
                chunks.push((
                    Part::Content,
                    response(json!([{"text": p}]), None, Some(running.clone())),
                ));
            }
        }
    }
    chunks.push((
        Part::Tail,
        response(json!([{"text": ""}]), Some(finish), Some(usage)),
    ));
    let error_event = json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}});
    let mut plan;
    if sse {
        plan = Plan::new("text/event-stream");
        for (part, c) in chunks {
            plan.push(part, format!("data: {c}\r\n\r\n"));
        }
        if let Some(k) = ctx.knobs.error_after {
            plan.error_after(k, format!("data: {error_event}\r\n\r\n").into());
        }
    } else {
        // A JSON array written element by element.
        plan = Plan::new("application/json; charset=UTF-8");
        plan.push(Part::Head, "[");
        let n = chunks.len();
        for (i, (part, c)) in chunks.into_iter().enumerate() {
            let sep = if i + 1 < n { "\r\n," } else { "" };
            plan.push(part, format!("{c}{sep}"));
        }
        plan.push(Part::Tail, "]");
        if let Some(k) = ctx.knobs.error_after {
            plan.error_after(k, format!("{error_event}]").into());
        }
    }
    Reply::Stream(plan)
}

/// `batchEmbedContents`: one vector per request (8 values, or `outputDimensionality`),
/// each request naming the model of the path; Gemini reports no token counts.
pub(crate) fn embed(ctx: &Ctx, model: &str) -> Reply {
    let Some(requests) = ctx
        .json
        .as_ref()
        .and_then(|j| j.get("requests"))
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    else {
        return error(
            400,
            "INVALID_ARGUMENT",
            "* BatchEmbedContentsRequest.requests: requests is not specified\n",
        );
    };
    let mut embeddings = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        if r.get("model").and_then(Value::as_str) != Some(&format!("models/{model}")) {
            return error(
                400,
                "INVALID_ARGUMENT",
                &format!("* BatchEmbedContentsRequest.requests[{i}].model: model must match the request's model"),
            );
        }
        let text = r
            .pointer("/content/parts/0/text")
            .and_then(Value::as_str)
            .unwrap_or("");
        if text.is_empty() {
            return error(
                400,
                "INVALID_ARGUMENT",
                &format!("* BatchEmbedContentsRequest.requests[{i}].content: contents is not specified\n"),
            );
        }
        let n = r
            .get("outputDimensionality")
            .and_then(Value::as_u64)
            .unwrap_or(8);
        let values: Vec<f64> = (0..n).map(|k| ((k + i as u64) % 7) as f64 / 10.0).collect();
        embeddings.push(json!({"values": values}));
    }
    Reply::json(200, json!({"embeddings": embeddings}))
}
