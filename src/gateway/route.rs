//! Running a gateway config (`x-portkey-config`): a tree whose leaves call one provider
//! and whose inner nodes pick among their targets — `single`, `loadbalance` by weight,
//! `fallback` on status codes — with retries and timeouts, as Portkey's gateway does.
//!
//! A governance refusal of one target (a disallowed model, an expired provider) is that
//! target's answer with its status, so a fallback moves past it; an error raised inside
//! the gateway itself (`x-portkey-gateway-exception`) stops the route.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Map, Value};

use super::error::GatewayError;
use super::resolve::Named;
use super::Answer;
use crate::api::gateway_config::{GatewayConfig, Retry, StrategyMode};

/// Statuses retried when a `retry` names none (Portkey's default set).
pub const RETRIED_BY_DEFAULT: &[u16] = &[429, 500, 502, 503, 504];

/// The longest the gateway waits in total because of `retry-after` headers.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// What a leaf inherits from the nodes above it.
#[derive(Debug, Clone, Default)]
pub struct Inherited {
    pub override_params: Map<String, Value>,
    pub retry: Option<Retry>,
    pub request_timeout: Option<u64>,
    pub custom_host: Option<String>,
}

impl Inherited {
    /// The values of `node` over those of its parent: override params merged (the child
    /// wins), `retry` replaced, timeout and host inherited when absent.
    fn under(&self, node: &GatewayConfig) -> Inherited {
        let mut override_params = self.override_params.clone();
        override_params.extend(node.override_params.clone());
        Inherited {
            override_params,
            retry: node.retry.clone().or_else(|| self.retry.clone()),
            request_timeout: node.request_timeout.or(self.request_timeout),
            custom_host: node
                .custom_host
                .clone()
                .or_else(|| self.custom_host.clone()),
        }
    }
}

/// One call to make: the provider, the parameters over the caller's, and how to retry.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub named: Named,
    pub params: Inherited,
    /// `config.targets[1].targets[0]`: where in the config the leaf is.
    pub path: String,
}

/// The result of a route: the answer (or refusal) and how it was reached.
pub struct Routed {
    pub outcome: Result<Answer, GatewayError>,
    pub retries: u32,
    pub path: String,
}

impl Routed {
    pub fn status(&self) -> u16 {
        match &self.outcome {
            Ok(Answer::Whole(r, _)) => r.status().as_u16(),
            Ok(Answer::Stream(r)) => r.status().as_u16(),
            Err(e) => e.status.as_u16(),
        }
    }

    fn is_exception(&self) -> bool {
        matches!(&self.outcome, Err(e) if e.exception)
    }

    fn retry_after(&self) -> Option<Duration> {
        let Ok(Answer::Whole(r, _)) = &self.outcome else {
            return None;
        };
        let h = r.headers();
        let number = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        number("retry-after-ms")
            .or_else(|| number("x-ms-retry-after-ms"))
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .or_else(|| number("retry-after").map(Duration::from_secs_f64))
    }
}

/// The leaf's provider: `provider: "@slug"`, else `virtual_key`, else a model
/// `@slug/model` in its override params, else the request's own.
fn leaf_named(
    node: &GatewayConfig,
    params: &Inherited,
    request: Option<&Named>,
    body_model: Option<&str>,
    path: &str,
) -> Result<Named, GatewayError> {
    let override_model = params.override_params.get("model").and_then(Value::as_str);
    let model_prefixed = override_model
        .or(body_model)
        .and_then(|m| m.strip_prefix('@'))
        .and_then(|m| m.split_once('/'));
    let bare_model = match model_prefixed {
        Some((_, m)) => Some(m.to_owned()),
        None => override_model
            .or(body_model)
            .map(str::to_owned)
            .or_else(|| request.and_then(|r| r.model.clone())),
    };
    let slug = match (&node.provider, &node.virtual_key) {
        (Some(p), _) => match p.strip_prefix('@') {
            Some(slug) => slug.split('/').next().unwrap_or(slug).to_owned(),
            None => {
                return Err(GatewayError::invalid(format!(
                    "`{path}.provider` `{p}` names a service, not an AI provider of the catalog: write `@PROVIDER` (an AI provider's slug)"
                )))
            }
        },
        (None, Some(vk)) => vk.clone(),
        (None, None) => match (model_prefixed, request) {
            (Some((slug, _)), _) => slug.to_owned(),
            (None, Some(r)) => r.slug.clone(),
            (None, None) => {
                return Err(GatewayError::invalid(format!(
                    "`{path}` names no AI provider: give it `provider: \"@PROVIDER\"`, or send `model: \"@PROVIDER/MODEL\"`"
                )))
            }
        },
    };
    Ok(Named {
        slug,
        model: bare_model,
    })
}

/// Every provider slug a config names (`provider: "@x"`, `virtual_key`, a model
/// `@x/...` in `override_params`), so unknown ones are refused before anything is called.
pub fn named_slugs(config: &GatewayConfig) -> Vec<String> {
    let mut slugs: Vec<String> = Vec::new();
    for node in config.nodes() {
        let from_provider = node
            .provider
            .as_deref()
            .and_then(|p| p.strip_prefix('@'))
            .map(|p| p.split('/').next().unwrap_or(p));
        let from_model = node
            .override_params
            .get("model")
            .and_then(Value::as_str)
            .and_then(|m| m.strip_prefix('@'))
            .and_then(|m| m.split_once('/'))
            .map(|(slug, _)| slug);
        for slug in [from_provider, node.virtual_key.as_deref(), from_model]
            .into_iter()
            .flatten()
        {
            if !slugs.iter().any(|s| s == slug) {
                slugs.push(slug.to_owned());
            }
        }
    }
    slugs
}

/// A weighted choice among `weights`; `None` when every weight is 0.
pub fn pick(weights: &[f64], roll: f64) -> Option<usize> {
    let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if total <= 0.0 {
        return None;
    }
    let mut at = roll * total;
    for (i, w) in weights.iter().enumerate() {
        if *w <= 0.0 {
            continue;
        }
        if at < *w {
            return Some(i);
        }
        at -= w;
    }
    weights.iter().rposition(|w| *w > 0.0)
}

/// Runs config nodes; `call` makes one attempt at a leaf.
pub struct Router<'a, F> {
    pub request: Option<&'a Named>,
    pub body_model: Option<&'a str>,
    /// What `conditional` strategies ask about: the metadata and the body.
    pub asked: crate::domain::conditions::Request<'a>,
    pub call: F,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl<'a, F, Fut> Router<'a, F>
where
    F: Fn(Leaf) -> Fut + Sync,
    Fut: Future<Output = Result<Answer, GatewayError>> + Send,
{
    pub fn run<'b>(
        &'b self,
        node: &'b GatewayConfig,
        inherited: Inherited,
        path: String,
    ) -> BoxFuture<'b, Routed> {
        Box::pin(async move {
            let params = inherited.under(node);
            if node.targets.is_empty() {
                return self.leaf(node, params, path).await;
            }
            let mode = node
                .strategy
                .as_ref()
                .map_or(StrategyMode::Single, |s| s.mode);
            let child = |i: usize| format!("{path}.targets[{i}]");
            match mode {
                StrategyMode::Single => self.run(&node.targets[0], params, child(0)).await,
                StrategyMode::Loadbalance => {
                    let weights: Vec<f64> = node.targets.iter().map(|t| t.weight).collect();
                    match pick(&weights, rand::random::<f64>()) {
                        Some(i) => self.run(&node.targets[i], params, child(i)).await,
                        None => Routed {
                            outcome: Err(GatewayError::invalid(format!(
                                "every target of `{path}` has weight 0: give one a weight above 0"
                            ))),
                            retries: 0,
                            path,
                        },
                    }
                }
                StrategyMode::Fallback => {
                    let codes = node
                        .strategy
                        .as_ref()
                        .map(|s| s.on_status_codes.clone())
                        .unwrap_or_default();
                    let mut last = None;
                    for (i, target) in node.targets.iter().enumerate() {
                        let routed = self.run(target, params.clone(), child(i)).await;
                        let status = routed.status();
                        let move_on = !routed.is_exception()
                            && if codes.is_empty() {
                                !(200..300).contains(&status)
                            } else {
                                codes.contains(&status)
                            };
                        if !move_on {
                            return routed;
                        }
                        last = Some(routed);
                    }
                    last.unwrap_or_else(|| Routed {
                        outcome: Err(GatewayError::invalid(format!("`{path}` has no targets"))),
                        retries: 0,
                        path,
                    })
                }
                StrategyMode::Conditional => {
                    // The first condition whose query matches names the target; else the
                    // default. (Configs are checked when read: queries, names.)
                    let strategy = node.strategy.as_ref();
                    let chosen = strategy.and_then(|s| {
                        s.conditions
                            .iter()
                            .find(|c| crate::domain::conditions::matches(&c.query, &self.asked))
                            .map(|c| c.then.as_str())
                            .or(s.default.as_deref())
                    });
                    let found = chosen.and_then(|name| {
                        node.targets
                            .iter()
                            .position(|t| t.name.as_deref() == Some(name))
                    });
                    match found {
                        Some(i) => self.run(&node.targets[i], params, child(i)).await,
                        None => Routed {
                            outcome: Err(GatewayError::invalid(match chosen {
                                None => format!(
                                    "no condition of `{path}.strategy` matches this request and it has no `default`: add a `default` target, or send the metadata a condition asks for"
                                ),
                                Some(name) => format!(
                                    "`{path}.strategy` picks target `{name}`, which no target of `{path}` is named"
                                ),
                            })),
                            retries: 0,
                            path,
                        },
                    }
                }
            }
        })
    }

    async fn leaf(&self, node: &GatewayConfig, params: Inherited, path: String) -> Routed {
        let named = match leaf_named(node, &params, self.request, self.body_model, &path) {
            Ok(n) => n,
            Err(e) => {
                return Routed {
                    outcome: Err(e),
                    retries: 0,
                    path,
                }
            }
        };
        let retry = params.retry.clone();
        let leaf = Leaf {
            named,
            params,
            path: path.clone(),
        };
        let attempts = retry.as_ref().map_or(0, |r| u32::from(r.attempts));
        let codes: Vec<u16> = retry
            .as_ref()
            .map(|r| r.on_status_codes.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| RETRIED_BY_DEFAULT.to_vec());
        let honour_retry_after = retry
            .as_ref()
            .and_then(|r| r.use_retry_after_headers)
            .unwrap_or(false);
        let mut waited = Duration::ZERO;
        let mut retries = 0;
        loop {
            let routed = Routed {
                outcome: (self.call)(leaf.clone()).await,
                retries,
                path: path.clone(),
            };
            let status = routed.status();
            if retries >= attempts || routed.is_exception() || !codes.contains(&status) {
                return routed;
            }
            let backoff = Duration::from_millis(100 * 2u64.pow(retries.min(6)));
            let wait = match routed.retry_after() {
                Some(after) if honour_retry_after => after,
                _ => backoff,
            };
            if waited + wait > MAX_RETRY_WAIT {
                return routed;
            }
            waited += wait;
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_pick_in_proportion_and_skip_zero() {
        assert_eq!(pick(&[1.0, 3.0], 0.0), Some(0));
        assert_eq!(pick(&[1.0, 3.0], 0.24), Some(0));
        assert_eq!(pick(&[1.0, 3.0], 0.26), Some(1));
        assert_eq!(pick(&[0.0, 2.0], 0.0), Some(1));
        assert_eq!(pick(&[0.0, 0.0], 0.5), None);
        assert_eq!(pick(&[1.0, 1.0], 0.999_999), Some(1));
    }

    #[test]
    fn children_win_over_parents() {
        let parent = GatewayConfig::parse(&serde_json::json!({
            "override_params": {"temperature": 0.1, "max_tokens": 10},
            "request_timeout": 500,
            "strategy": {"mode": "single"},
            "targets": [{"provider": "@a", "override_params": {"max_tokens": 20}}]
        }))
        .unwrap();
        let top = Inherited::default().under(&parent);
        let leaf = top.under(&parent.targets[0]);
        assert_eq!(leaf.override_params["max_tokens"], 20);
        assert_eq!(leaf.override_params["temperature"], 0.1);
        assert_eq!(leaf.request_timeout, Some(500));
    }

    #[test]
    fn a_leaf_names_its_provider_in_portkeys_order() {
        let node = GatewayConfig::parse(
            &serde_json::json!({"virtual_key": "vk", "override_params": {"model": "@p/m"}}),
        )
        .unwrap();
        let params = Inherited::default().under(&node);
        let n = leaf_named(&node, &params, None, Some("x"), "config").unwrap();
        assert_eq!((n.slug.as_str(), n.model.as_deref()), ("vk", Some("m")));
        let node = GatewayConfig::parse(&serde_json::json!({"override_params": {"model": "@p/m"}}))
            .unwrap();
        let params = Inherited::default().under(&node);
        let n = leaf_named(&node, &params, None, None, "config").unwrap();
        assert_eq!(n.slug, "p");
        let node = GatewayConfig::parse(&serde_json::json!({"provider": "openai"})).unwrap();
        assert!(leaf_named(&node, &Inherited::default(), None, None, "config").is_err());
    }
}
