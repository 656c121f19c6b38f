//! Bedrock Converse: `POST /model/{modelId}/converse` and `/converse-stream`.

use serde_json::{json, Value};

use super::{eventstream, Ctx, Gen, Part, Plan, Reply};

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=…` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigV4 {
    pub access_key_id: String,
    /// `YYYYMMDD` of the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl SigV4 {
    /// Parses the header; `None` unless it has the full shape (scope ending in
    /// `aws4_request`, a 64-hex-digit signature).
    pub fn parse(header: &str) -> Option<SigV4> {
        let rest = header.strip_prefix("AWS4-HMAC-SHA256 ")?;
        let mut credential = None;
        let mut signed = None;
        let mut signature = None;
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed = Some(v),
                "Signature" => signature = Some(v),
                _ => return None,
            }
        }
        let scope: Vec<&str> = credential?.split('/').collect();
        let [akid, date, region, service, "aws4_request"] = scope[..] else {
            return None;
        };
        let signature = signature?;
        let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
        let sig_ok = signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit());
        if akid.is_empty() || region.is_empty() || !date_ok || !sig_ok {
            return None;
        }
        Some(SigV4 {
            access_key_id: akid.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers: signed?.split(';').map(str::to_owned).collect(),
            signature: signature.to_owned(),
        })
    }
}

fn error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::json(status, json!({"message": message})).with_header(
        "x-amzn-errortype",
        &format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
    )
}

pub(crate) fn error_for_status(status: u16) -> Reply {
    let (kind, message) = match status {
        400 => ("ValidationException", "Malformed input request."),
        403 => (
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
        404 => (
            "ResourceNotFoundException",
            "Could not resolve the foundation model.",
        ),
        408 => ("ModelTimeoutException", "Model timed out."),
        424 => ("ModelErrorException", "The model returned an error."),
        429 => (
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        503 => ("ServiceUnavailableException", "Service unavailable."),
        _ => ("InternalServerException", "Internal server error."),
    };
    error(status, kind, message)
}

pub(crate) fn authenticate(ctx: &Ctx) -> Option<Reply> {
    let Some(header) = ctx.header("authorization") else {
        return Some(error(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let Some(sig) = SigV4::parse(header) else {
        return Some(error(
            403,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters, and a credential scope AKID/DATE/REGION/SERVICE/aws4_request.",
        ));
    };
    let Some(amz_date) = ctx.header("x-amz-date") else {
        return Some(error(
            403,
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    let shape_ok = amz_date.len() == 16
        && amz_date.as_bytes()[8] == b'T'
        && amz_date.ends_with('Z')
        && amz_date[..8].bytes().all(|b| b.is_ascii_digit());
    if !shape_ok || amz_date[..8] != sig.date {
        return Some(error(
            403,
            "InvalidSignatureException",
            "Credential should be scoped to a valid date matching X-Amz-Date (YYYYMMDDTHHMMSSZ).",
        ));
    }
    if sig.service != "bedrock" {
        return Some(error(
            403,
            "InvalidSignatureException",
            &format!(
                "Credential should be scoped to correct service: 'bedrock', not '{}'.",
                sig.service
            ),
        ));
    }
    for needed in ["host", "x-amz-date"] {
        if !sig.signed_headers.iter().any(|h| h == needed) {
            return Some(error(
                403,
                "InvalidSignatureException",
                &format!("'{needed}' must be a signed header."),
            ));
        }
    }
    if let Some(region) = &ctx.credentials.aws_region {
        if *region != sig.region {
            return Some(error(
                403,
                "InvalidSignatureException",
                &format!(
                    "Credential should be scoped to a valid region, not '{}'.",
                    sig.region
                ),
            ));
        }
    }
    if let Some(akid) = &ctx.credentials.aws_access_key_id {
        if *akid != sig.access_key_id {
            return Some(error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ));
        }
    }
    None
}

pub(crate) fn converse(ctx: &Ctx, _model: &str, stream: bool) -> Reply {
    let Some(body) = ctx.json.as_ref().filter(|j| j.is_object()) else {
        return error(
            400,
            "ValidationException",
            "Malformed input request, please reformat your input and try again.",
        );
    };
    let Some(messages) = body
        .get("messages")
        .filter(|m| m.as_array().is_some_and(|a| !a.is_empty()))
    else {
        return error(
            400,
            "ValidationException",
            "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
        );
    };
    let max_tokens = body["inferenceConfig"]["maxTokens"].as_u64();
    let tools: Vec<String> = body["toolConfig"]["tools"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["toolSpec"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut input = vec![messages];
    if let Some(s) = body.get("system") {
        input.push(s);
    }
    let gen = Gen::new(ctx, &input, max_tokens, &tools);
    let stop = if gen.tool.is_some() {
        "tool_use"
    } else if gen.truncated {
        "max_tokens"
    } else {
        "end_turn"
    };
    let usage = json!({"inputTokens": gen.prompt_tokens, "outputTokens": gen.completion_tokens,
        "totalTokens": gen.total_tokens()});
    let latency_ms = ctx.received.elapsed().as_millis() as u64;
    let request_id = ctx.id("");
    if !stream {
        let content = match &gen.tool {
            Some((id, name, args, _)) => {
                json!([{"toolUse": {"toolUseId": id, "name": name, "input": args}}])
            }
            None => json!([{"text": gen.text}]),
        };
        let mut out = json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop, "usage": usage, "metrics": {"latencyMs": latency_ms},
        });
        if ctx.knobs.omit_usage {
            out.as_object_mut().unwrap().remove("usage");
        }
        return Reply::json(200, out).with_header("x-amzn-requestid", &request_id);
    }
    let mut plan = Plan::new("application/vnd.amazon.eventstream");
    plan.headers
        .push(("x-amzn-requestid".to_owned(), request_id));
    // The real service pads payloads with a `p` field; parsers must ignore it.
    plan.push(
        Part::Head,
        eventstream::event(
            "messageStart",
            &json!({"p": "abcdefgh", "role": "assistant"}),
        ),
    );
    if let Some((id, name, _, _)) = &gen.tool {
        plan.push(
            Part::Head,
            eventstream::event(
                "contentBlockStart",
                &json!({"contentBlockIndex": 0, "p": "abcd",
                    "start": {"toolUse": {"toolUseId": id, "name": name}}}),
            ),
        );
    }
    for p in gen.stream_pieces() {
        let delta = if gen.tool.is_some() {
            json!({"toolUse": {"input": p}})
        } else {
            json!({"text": p})
        };
        plan.push(
            Part::Content,
            eventstream::event(
                "contentBlockDelta",
                &json!({"contentBlockIndex": 0, "delta": delta, "p": "abcdef"}),
            ),
        );
    }
    plan.push(
        Part::Tail,
        eventstream::event(
            "contentBlockStop",
            &json!({"contentBlockIndex": 0, "p": "ab"}),
        ),
    );
    plan.push(
        Part::Tail,
        eventstream::event("messageStop", &json!({"p": "abc", "stopReason": stop})),
    );
    let mut metadata = json!({"usage": usage, "metrics": {"latencyMs": latency_ms}, "p": "abcd"});
    if ctx.knobs.omit_usage {
        metadata.as_object_mut().unwrap().remove("usage");
    }
    plan.push(Part::Tail, eventstream::event("metadata", &metadata));
    if let Some(k) = ctx.knobs.error_after {
        plan.error_after(
            k,
            eventstream::exception(
                "modelStreamErrorException",
                &json!({"message": "The model stream was interrupted: Overloaded",
                    "originalStatusCode": 529}),
            )
            .into(),
        );
    }
    Reply::Stream(plan)
}

/// `InvokeModel` of an embedding model: Amazon Titan (`inputText`, one text, its token
/// count reported) and Cohere Embed (`texts`, no count in the body).
pub(crate) fn invoke(ctx: &Ctx, model: &str) -> Reply {
    let Some(body) = ctx.json.as_ref().filter(|j| j.is_object()) else {
        return error(
            400,
            "ValidationException",
            "Malformed input request, please reformat your input and try again.",
        );
    };
    let vector = |n: u64, seed: usize| -> Vec<f64> {
        (0..n)
            .map(|k| ((k as usize + seed) % 5) as f64 / 10.0)
            .collect()
    };
    if model.contains("titan-embed") {
        let Some(text) = body.get("inputText").and_then(Value::as_str) else {
            return error(
                400,
                "ValidationException",
                "Malformed input request: #: required key [inputText] not found, please reformat your input and try again.",
            );
        };
        let n = body.get("dimensions").and_then(Value::as_u64).unwrap_or(8);
        return Reply::json(
            200,
            json!({
                "embedding": vector(n, 0),
                "inputTextTokenCount": text.split_whitespace().count(),
            }),
        );
    }
    if model.contains("cohere.embed") {
        let Some(texts) = body.get("texts").and_then(Value::as_array) else {
            return error(
                400,
                "ValidationException",
                "Malformed input request: #: required key [texts] not found, please reformat your input and try again.",
            );
        };
        let embeddings: Vec<Vec<f64>> = (0..texts.len()).map(|i| vector(8, i)).collect();
        return Reply::json(
            200,
            json!({
                "id": "emb-fake-0001",
                "response_type": "embeddings_floats",
                "embeddings": embeddings,
                "texts": texts,
            }),
        );
    }
    error(
        400,
        "ValidationException",
        "The provided model identifier is invalid.",
    )
}
