//! The queries of a `conditional` gateway config, as Portkey's gateway reads them: each
//! key is a field of the request (`metadata.<key>` from `x-portkey-metadata`,
//! `params.<path>` from the request body) or a logical operator (`$and`, `$or` over a
//! list of queries); a field's value is the value it must equal, or an object of
//! comparisons (`$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$in`, `$nin`, `$regex`), all of
//! which must hold. Every key of a query must hold for the query to match.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// What a query is asked about.
pub struct Request<'a> {
    /// `x-portkey-metadata`.
    pub metadata: &'a BTreeMap<String, String>,
    /// The request body.
    pub params: &'a Map<String, Value>,
}

/// The most a `$regex` may compile to: a pattern is checked, and compiled per request,
/// in bounded time and memory.
const REGEX_SIZE: usize = 64 * 1024;

fn regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE)
        .dfa_size_limit(REGEX_SIZE)
        .build()
}

const COMPARISONS: &[&str] = &[
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex",
];

/// Checks a query's shape: its fields, operators and patterns; the error is the place
/// (under `at`) and what is wrong there.
pub fn check(query: &Map<String, Value>, at: &str) -> Result<(), (String, String)> {
    for (key, value) in query {
        let here = format!("{at}.{key}");
        match key.as_str() {
            "$and" | "$or" => {
                let items = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                    (here.clone(), "must be a non-empty list of queries".to_owned())
                })?;
                for (i, item) in items.iter().enumerate() {
                    let q = item.as_object().ok_or_else(|| {
                        (format!("{here}[{i}]"), "must be a query (an object)".to_owned())
                    })?;
                    check(q, &format!("{here}[{i}]"))?;
                }
            }
            op if op.starts_with('$') => {
                return Err((
                    here,
                    format!("`{op}` is not a logical operator; use `$and` or `$or`, or name a field such as `metadata.plan`"),
                ))
            }
            field => {
                if !(field.starts_with("metadata.") || field.starts_with("params."))
                    || field.ends_with('.')
                {
                    return Err((
                        here,
                        format!("a query names `metadata.<key>` or `params.<field>`, not `{field}`"),
                    ));
                }
                if let Some(o) = value.as_object() {
                    let ops = o.keys().filter(|k| k.starts_with('$')).count();
                    if o.is_empty() || (ops > 0 && ops < o.len()) {
                        return Err((
                            here,
                            "must be a value to equal, or an object of comparisons only (`{\"$gt\": 2}`)".to_owned(),
                        ));
                    }
                }
                if let Some(ops) = comparisons(value) {
                    for (op, operand) in ops {
                        check_comparison(op, operand, &format!("{here}.{op}"))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// A field's comparisons, when its value is an object of operators (else it is the value
/// to equal).
fn comparisons(value: &Value) -> Option<&Map<String, Value>> {
    value
        .as_object()
        .filter(|o| !o.is_empty() && o.keys().all(|k| k.starts_with('$')))
}

fn check_comparison(op: &str, operand: &Value, at: &str) -> Result<(), (String, String)> {
    let problem = match op {
        _ if !COMPARISONS.contains(&op) => format!(
            "`{op}` is not a comparison; use one of {}",
            COMPARISONS.join(", ")
        ),
        "$in" | "$nin" if !operand.is_array() => "must be a list of values".to_owned(),
        "$gt" | "$gte" | "$lt" | "$lte" if !(operand.is_number() || operand.is_string()) => {
            "must be a number or a text".to_owned()
        }
        "$regex" => match operand.as_str().map(regex) {
            Some(Ok(_)) => return Ok(()),
            Some(Err(e)) => format!("is not a regular expression: {e}"),
            None => "must be a regular expression, as text".to_owned(),
        },
        _ => return Ok(()),
    };
    Err((at.to_owned(), problem))
}

/// Whether `request` matches `query` (checked with [`check`] first: an unknown operator
/// matches nothing).
pub fn matches(query: &Map<String, Value>, request: &Request<'_>) -> bool {
    query.iter().all(|(key, value)| match key.as_str() {
        "$and" => value.as_array().is_some_and(|qs| {
            qs.iter()
                .all(|q| q.as_object().is_some_and(|q| matches(q, request)))
        }),
        "$or" => value.as_array().is_some_and(|qs| {
            qs.iter()
                .any(|q| q.as_object().is_some_and(|q| matches(q, request)))
        }),
        field => {
            let actual = field_value(field, request);
            match comparisons(value) {
                Some(ops) => ops
                    .iter()
                    .all(|(op, operand)| compare(op, actual.as_ref(), operand)),
                None => actual.as_ref().is_some_and(|a| equal(a, value)),
            }
        }
    })
}

/// The value of `metadata.<key>` or `params.<a.b.c>` in the request, if it has one.
fn field_value(field: &str, request: &Request<'_>) -> Option<Value> {
    if let Some(key) = field.strip_prefix("metadata.") {
        return request.metadata.get(key).map(|v| Value::String(v.clone()));
    }
    let path = field.strip_prefix("params.")?;
    let mut parts = path.split('.');
    let mut at = request.params.get(parts.next()?)?;
    for part in parts {
        at = match at {
            Value::Object(o) => o.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at.clone())
}

/// A value as a number, as Portkey's router reads one for an ordering (`parseFloat`):
/// a number, or a text that is one (metadata values are text).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Equality: numbers by value (`1` is `1.0`), a text that is a number equal to the
/// number it spells (metadata values are text: `"3"` equals `3`), anything else exactly.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::Number(_))
        | (Value::Number(_), Value::String(_)) => {
            matches!((number(a), number(b)), (Some(x), Some(y)) if x == y)
        }
        _ => a == b,
    }
}

fn compare(op: &str, actual: Option<&Value>, operand: &Value) -> bool {
    use std::cmp::Ordering::*;
    // Numbers when both read as numbers, else texts in order.
    let order = || match (number(actual?), number(operand)) {
        (Some(a), Some(b)) => a.partial_cmp(&b),
        _ => match (actual?, operand) {
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            _ => None,
        },
    };
    let listed = || {
        actual.is_some_and(|a| {
            operand
                .as_array()
                .is_some_and(|l| l.iter().any(|v| equal(a, v)))
        })
    };
    match op {
        "$eq" => actual.is_some_and(|a| equal(a, operand)),
        "$ne" => !actual.is_some_and(|a| equal(a, operand)),
        "$gt" => order() == Some(Greater),
        "$gte" => matches!(order(), Some(Greater | Equal)),
        "$lt" => order() == Some(Less),
        "$lte" => matches!(order(), Some(Less | Equal)),
        "$in" => listed(),
        "$nin" => !listed(),
        "$regex" => match (actual, operand.as_str()) {
            (Some(Value::String(a)), Some(p)) => regex(p).is_ok_and(|r| r.is_match(a)),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(
        metadata: &[(&str, &str)],
        params: Value,
    ) -> (BTreeMap<String, String>, Map<String, Value>) {
        (
            metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            params.as_object().cloned().unwrap_or_default(),
        )
    }

    fn q(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn fields_operators_and_logic_match_as_portkey_reads_them() {
        let (m, p) = request(
            &[("plan", "paid"), ("region", "eu-west"), ("tier", "3")],
            json!({"model": "fastest", "temperature": 0.9, "user": {"tier": 3}}),
        );
        let r = Request {
            metadata: &m,
            params: &p,
        };
        for (query, expected) in [
            (json!({"metadata.plan": "paid"}), true),
            (json!({"metadata.plan": {"$eq": "free"}}), false),
            (json!({"metadata.plan": {"$ne": "free"}}), true),
            (json!({"metadata.missing": {"$ne": "x"}}), true),
            (json!({"params.temperature": {"$gt": 0.7}}), true),
            (json!({"params.temperature": {"$gte": 0.9, "$lt": 1}}), true),
            (json!({"params.user.tier": {"$lte": 2}}), false),
            (
                json!({"params.model": {"$in": ["fastest", "cheapest"]}}),
                true,
            ),
            (json!({"params.model": {"$nin": ["fastest"]}}), false),
            (json!({"metadata.region": {"$regex": "^eu-"}}), true),
            (
                json!({"$or": [{"metadata.plan": "free"}, {"params.model": "fastest"}]}),
                true,
            ),
            (
                json!({"$and": [{"metadata.plan": "paid"}, {"params.model": "smartest"}]}),
                false,
            ),
            (
                json!({"metadata.plan": "paid", "params.model": "smartest"}),
                false,
            ),
            // Metadata values are text; a number equals the text that spells it.
            (json!({"metadata.plan": 1}), false),
            (json!({"metadata.tier": 3}), true),
            (json!({"metadata.tier": {"$gt": 2}}), true),
            (json!({"metadata.tier": {"$gt": "10"}}), false),
            (json!({"params.temperature": {"$eq": 0.90}}), true),
            (json!({"params.user.tier": {"$in": [3.0, 4]}}), true),
        ] {
            assert_eq!(matches(&q(query.clone()), &r), expected, "{query}");
        }
    }

    #[test]
    fn bad_queries_are_named_where_they_are() {
        for (query, needle) in [
            (json!({"$not": []}), "`$not` is not a logical operator"),
            (
                json!({"plan": "paid"}),
                "`metadata.<key>` or `params.<field>`",
            ),
            (
                json!({"metadata.plan": {"$like": "p%"}}),
                "`$like` is not a comparison",
            ),
            (json!({"metadata.plan": {"$in": "paid"}}), "must be a list"),
            (
                json!({"metadata.plan": {"$regex": "("}}),
                "not a regular expression",
            ),
            (json!({"$or": []}), "non-empty list"),
            (json!({"metadata.plan": {}}), "object of comparisons only"),
            (
                json!({"metadata.plan": {"$eq": "a", "foo": 1}}),
                "object of comparisons only",
            ),
            (json!({"params.t": {"$gt": [1]}}), "a number or a text"),
            (
                json!({"params.t": {"$regex": "\\w{2000}"}}),
                "not a regular expression",
            ),
        ] {
            let (at, e) =
                check(&q(query.clone()), "config.strategy.conditions[0].query").unwrap_err();
            assert!(e.contains(needle), "{query}: {e}");
            assert!(
                at.starts_with("config.strategy.conditions[0].query"),
                "{at}"
            );
        }
    }
}
