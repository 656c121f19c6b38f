//! Anthropic Messages: `POST /v1/messages`, JSON and named SSE events.

use serde_json::{json, Value};

use super::{sse, Ctx, Gen, Part, Plan, Reply};

pub(crate) fn error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

pub(crate) fn error_for_status(status: u16) -> Reply {
    let (kind, message) = match status {
        400 => ("invalid_request_error", "Invalid request."),
        401 => ("authentication_error", "invalid x-api-key"),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => (
            "not_found_error",
            "The requested resource could not be found.",
        ),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        429 => (
            "rate_limit_error",
            "This request would exceed your organization's rate limit. Please try again later.",
        ),
        529 => ("overloaded_error", "Overloaded"),
        _ => ("api_error", "Internal server error"),
    };
    error(status, kind, message)
}

pub(crate) fn authenticate(ctx: &Ctx) -> Option<Reply> {
    let Some(key) = ctx.header("x-api-key").filter(|k| !k.trim().is_empty()) else {
        return Some(error(
            401,
            "authentication_error",
            "x-api-key header is required",
        ));
    };
    if ctx
        .credentials
        .anthropic
        .as_deref()
        .is_some_and(|expected| expected != key)
    {
        return Some(error(401, "authentication_error", "invalid x-api-key"));
    }
    if ctx
        .header("anthropic-version")
        .is_none_or(|v| v.trim().is_empty())
    {
        return Some(error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ));
    }
    None
}

pub(crate) fn messages(ctx: &Ctx) -> Reply {
    let Some(body) = ctx.json.as_ref().filter(|j| j.is_object()) else {
        return error(
            400,
            "invalid_request_error",
            "The request body is not valid JSON.",
        );
    };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return error(400, "invalid_request_error", "model: Field required");
    };
    let Some(max_tokens) = body.get("max_tokens").and_then(Value::as_u64) else {
        return error(400, "invalid_request_error", "max_tokens: Field required");
    };
    let Some(messages) = body
        .get("messages")
        .filter(|m| m.as_array().is_some_and(|a| !a.is_empty()))
    else {
        return error(400, "invalid_request_error", "messages: Field required");
    };
    let tools: Vec<String> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut input = vec![messages];
    for extra in ["system", "tools"] {
        if let Some(v) = body.get(extra) {
            input.push(v);
        }
    }
    let gen = Gen::new(ctx, &input, Some(max_tokens), &tools);
    let stop = if gen.tool.is_some() {
        "tool_use"
    } else if gen.truncated {
        "max_tokens"
    } else {
        "end_turn"
    };
    let id = ctx.id("msg_");
    let request_id = ctx.id("req_");
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    if !stream {
        let content = match &gen.tool {
            Some((call_id, name, args, _)) => {
                json!([{"type": "tool_use", "id": call_id, "name": name, "input": args}])
            }
            None => json!([{"type": "text", "text": gen.text}]),
        };
        let mut out = json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": gen.prompt_tokens, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": gen.completion_tokens},
        });
        if ctx.knobs.omit_usage {
            out.as_object_mut().unwrap().remove("usage");
        }
        return Reply::json(200, out).with_header("request-id", &request_id);
    }

    let event = |name: &str, data: Value| sse(Some(name), &data.to_string());
    let mut plan = Plan::new("text/event-stream; charset=utf-8");
    plan.headers.push(("request-id".to_owned(), request_id));
    let mut message = json!({
        "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": gen.prompt_tokens, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "output_tokens": 1},
    });
    if ctx.knobs.omit_usage {
        message.as_object_mut().unwrap().remove("usage");
    }
    plan.push(
        Part::Head,
        event(
            "message_start",
            json!({"type": "message_start", "message": message}),
        ),
    );
    let block = match &gen.tool {
        Some((call_id, name, _, _)) => {
            json!({"type": "tool_use", "id": call_id, "name": name, "input": {}})
        }
        None => json!({"type": "text", "text": ""}),
    };
    plan.push(
        Part::Head,
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": block}),
        ),
    );
    plan.push(Part::Head, event("ping", json!({"type": "ping"})));
    for p in gen.stream_pieces() {
        let delta = if gen.tool.is_some() {
            json!({"type": "input_json_delta", "partial_json": p})
        } else {
            json!({"type": "text_delta", "text": p})
        };
        plan.push(
            Part::Content,
            event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": delta}),
            ),
        );
    }
    plan.push(
        Part::Tail,
        event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
    );
    let mut delta = json!({"type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": null},
        "usage": {"output_tokens": gen.completion_tokens}});
    if ctx.knobs.omit_usage {
        delta.as_object_mut().unwrap().remove("usage");
    }
    plan.push(Part::Tail, event("message_delta", delta));
    plan.push(
        Part::Tail,
        event("message_stop", json!({"type": "message_stop"})),
    );
    if let Some(k) = ctx.knobs.error_after {
        plan.error_after(
            k,
            event(
                "error",
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ),
        );
    }
    Reply::Stream(plan)
}
