//! `catalog models test @provider/model --workspace WS`: one real call through the
//! gateway, as the workspace would make it; prints the reply, tokens, cost, latency and
//! what answered. How an admin checks a provisioning end to end.

use std::io::Write;
use std::time::Instant;

use clap::Args;
use serde::Serialize;
use serde_json::{json, Value};

use crate::commands::Ctx;
use crate::exit::{CliError, ErrorKind};
use crate::gateway::sse::Splitter;
use crate::gateway::usage::Usage;
use crate::printer::{or_dash, OutputFormat, Tabular};
use crate::types::ModelRef;

#[derive(Debug, Args)]
pub struct TestArgs {
    /// `@provider/model`
    pub model: ModelRef,

    /// What to send (default: a short greeting)
    #[arg(long)]
    pub prompt: Option<String>,

    /// Stream the reply as it is generated
    #[arg(long)]
    pub stream: bool,

    /// Most tokens the reply may have
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: u32,
}

const DEFAULT_PROMPT: &str = "Say hello in five words.";

#[derive(Debug, Serialize)]
struct Outcome {
    model: String,
    provider: String,
    integration: Option<String>,
    service: Option<String>,
    reply: String,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    cost_usd: Option<f64>,
    latency_ms: u64,
    first_token_ms: Option<u64>,
    trace_id: Option<String>,
}

impl Tabular for Outcome {
    fn headers() -> &'static [&'static str] {
        &[]
    }

    fn row(&self) -> Vec<String> {
        Vec::new()
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let n = |v: Option<u64>| v.map_or("-".to_owned(), |x| x.to_string());
        vec![
            ("model", self.model.clone()),
            ("provider", format!("@{}", self.provider)),
            ("integration", or_dash(self.integration.as_deref())),
            ("service", or_dash(self.service.as_deref())),
            ("prompt tokens", n(self.prompt_tokens)),
            ("completion tokens", n(self.completion_tokens)),
            (
                "cost",
                self.cost_usd.map_or("-".to_owned(), |c| format!("${c:.6}")),
            ),
            ("latency", format!("{} ms", self.latency_ms)),
            (
                "first token",
                self.first_token_ms
                    .map_or("-".to_owned(), |t| format!("{t} ms")),
            ),
            ("trace id", or_dash(self.trace_id.as_deref())),
        ]
    }
}

/// What the stream said so far.
#[derive(Default)]
struct Collected {
    text: String,
    usage: Option<Usage>,
    error: Option<String>,
    first: Option<u64>,
}

impl Collected {
    fn chunk(&mut self, chunk: &Value, started: Instant, live: bool) {
        if let Some(e) = chunk.get("error") {
            self.error = Some(
                e.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the stream broke off")
                    .to_owned(),
            );
        }
        if let Some(u) = chunk.get("usage").and_then(Usage::from_openai) {
            self.usage = Some(u);
        }
        let delta = chunk
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !delta.is_empty() {
            self.first
                .get_or_insert_with(|| started.elapsed().as_millis() as u64);
            self.text.push_str(delta);
            if live {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(delta.as_bytes());
                let _ = out.flush();
            }
        }
    }
}

fn refused(status: u16, body: &[u8]) -> anyhow::Error {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = body
        .pointer("/error/message")
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("the gateway refused the call")
        .to_owned();
    let kind = match status {
        400 | 422 => ErrorKind::Usage,
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        503 | 504 | 408 => ErrorKind::Unavailable,
        _ => ErrorKind::Failed,
    };
    CliError::new(kind, format!("the gateway answered {status}: {message}")).into()
}

pub fn run(ctx: &Ctx, args: TestArgs) -> anyhow::Result<()> {
    let ws = crate::commands::providers::workspace(ctx)?;
    let client = ctx.client()?;
    let wanted = args.model.to_string();
    let known = client
        .catalog_models(&ws.id, &[("provider", args.model.provider.as_str())])?
        .into_iter()
        .find(|m| m.id == wanted);
    let embedding = known.as_ref().and_then(|m| m.kind.as_deref()) == Some("embedding");
    let prompt = args.prompt.as_deref().unwrap_or(DEFAULT_PROMPT);
    let (path, body) = if embedding {
        ("/embeddings", json!({"model": wanted, "input": prompt}))
    } else {
        let mut body = json!({
            "model": wanted,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": args.max_tokens,
        });
        if args.stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        ("/chat/completions", body)
    };
    // Over HTTP the gateway takes workspace keys only: the profile's own if it is one of
    // this workspace, else a ten-minute key made for this call and deleted after it.
    let own = ctx.learnt_key_workspace()?.filter(|k| k.id == ws.id);
    let temporary = match (client.is_embedded(), own) {
        (true, _) | (false, Some(_)) => None,
        (false, None) => Some(client.temporary_key(&ws.id)?),
    };
    let key = match (&temporary, client.is_embedded()) {
        (Some(t), _) => Some(t.key.clone()),
        (None, false) => Some(ctx.settings.api_key()?.0),
        (None, true) => None,
    };
    let printer = ctx.printer();
    let live = args.stream && printer.format == OutputFormat::Table;
    let started = Instant::now();
    let mut collected = Collected::default();
    let mut splitter = Splitter::default();
    let mut whole = Vec::new();
    let result = client.call_gateway(path, &body, &ws.id, key.as_deref(), |bytes| {
        if args.stream {
            for event in splitter.push(bytes) {
                if let Ok(chunk) = serde_json::from_str::<Value>(&event.data) {
                    collected.chunk(&chunk, started, live);
                }
            }
        } else {
            whole.extend_from_slice(bytes);
        }
    });
    if let Some(t) = &temporary {
        if let Err(e) = client.drop_temporary_key(t) {
            printer.warn(format!(
                "could not delete the temporary API key `{}` (it expires in ten minutes): {}",
                t.id,
                crate::exit::one_line(&e)
            ));
        }
    }
    let reply = result?;
    let latency_ms = started.elapsed().as_millis() as u64;
    if reply.status >= 400 {
        return Err(refused(reply.status, &whole));
    }
    if live {
        let _ = writeln!(std::io::stdout().lock());
    }
    if let Some(e) = collected.error {
        return Err(CliError::new(ErrorKind::Failed, format!("the stream broke off: {e}")).into());
    }
    if !args.stream {
        let answer: Value = serde_json::from_slice(&whole).unwrap_or(Value::Null);
        collected.usage = answer.get("usage").and_then(Usage::from_openai);
        collected.text = if embedding {
            let n = answer
                .pointer("/data/0/embedding")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            format!("an embedding of {n} dimensions")
        } else {
            answer
                .pointer("/choices/0/message/content")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
    }
    let pricing = known.as_ref().and_then(|m| m.pricing.as_ref());
    let outcome = Outcome {
        model: wanted,
        provider: args.model.provider.clone(),
        integration: reply
            .header("x-catalog-integration")
            .map(str::to_owned)
            .or_else(|| known.as_ref().map(|m| m.integration.clone())),
        service: reply.header("x-portkey-provider").map(str::to_owned),
        reply: collected.text,
        prompt_tokens: collected.usage.map(|u| u.prompt_tokens),
        completion_tokens: collected.usage.map(|u| u.completion_tokens),
        cost_usd: collected.usage.zip(pricing).and_then(|(u, p)| u.cost(p)),
        latency_ms,
        first_token_ms: collected.first,
        trace_id: reply.header("x-portkey-trace-id").map(str::to_owned),
    };
    if printer.format != OutputFormat::Table {
        return printer.data(&outcome);
    }
    if !live {
        printer.raw(&format!("{}\n", outcome.reply));
    }
    printer.one(&outcome)
}
