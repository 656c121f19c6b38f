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

/// Reads a whole number that may arrive as a float with no fraction (`10.0`): JSON and
/// JSON Schema count both as integers.
pub fn whole_i64(value: &Value) -> Option<i64> {
    let n = value.as_number()?;
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
            .map(|f| f as i64)
    })
}

/// serde helper for whole numbers that may arrive as `10.0`.
pub fn flex_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    whole_i64(&v)
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, got {v}")))
}

/// serde helper for optional whole numbers that may arrive as `10.0`.
pub fn opt_flex_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => whole_i64(&v)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, got {v}"))),
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

    #[test]
    fn whole_numbers_arrive_as_floats() {
        assert_eq!(whole_i64(&json!(10)), Some(10));
        assert_eq!(whole_i64(&json!(-521.0)), Some(-521));
        assert_eq!(whole_i64(&json!(10.5)), None);
        assert_eq!(whole_i64(&json!(1e300)), None);
        assert_eq!(whole_i64(&json!("10")), None);
    }
}
