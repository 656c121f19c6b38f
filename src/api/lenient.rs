//! Lenient decoders for the loosely typed values the contract warns about
//! (booleans as `1`/`"true"`, numbers as strings).

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Reads `true`, `1`, `"true"`, `"1"` as true and `false`, `0`, `"false"`, `"0"` as false.
pub fn flex_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Reads a number that may arrive as a string.
pub fn flex_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// serde helper for optional booleans encoded loosely.
pub fn opt_flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => flex_bool(&v)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("expected a boolean, got {v}"))),
    }
}

/// serde helper for optional numbers encoded loosely.
pub fn opt_flex_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => flex_f64(&v)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("expected a number, got {v}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn booleans_arrive_loosely() {
        for t in [json!(true), json!(1), json!("true"), json!("1")] {
            assert_eq!(flex_bool(&t), Some(true), "{t}");
        }
        for f in [json!(false), json!(0), json!("false"), json!("0")] {
            assert_eq!(flex_bool(&f), Some(false), "{f}");
        }
        assert_eq!(flex_bool(&json!("maybe")), None);
    }

    #[test]
    fn numbers_arrive_as_strings() {
        assert_eq!(flex_f64(&json!("10.5")), Some(10.5));
        assert_eq!(flex_f64(&json!(10)), Some(10.0));
        assert_eq!(flex_f64(&json!([])), None);
    }
}
