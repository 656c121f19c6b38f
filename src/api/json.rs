//! The JSON encoding of the wire: numbers as real clients decode them.
//!
//! Budgets, thresholds, prices and usage are `f64` in memory, but clients such as
//! Terraform's provider decode `credit_limit` as an integer and fail on `1000.0`. Every
//! integral value is therefore written as a JSON integer; a fraction is written only where
//! one exists. Server responses and the CLI's JSON output both encode through here.

use std::io;

use serde::Serialize;

/// Writes whole floats as integers.
#[derive(Debug, Clone, Copy, Default)]
struct WholeNumbers;

/// Whole numbers up to 2^53 are exact in an `f64`, so they are written exactly.
const EXACT: f64 = 9_007_199_254_740_992.0;

impl serde_json::ser::Formatter for WholeNumbers {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        if value.is_finite() && value.fract() == 0.0 && value.abs() <= EXACT {
            write!(writer, "{}", value as i64)
        } else {
            serde_json::ser::CompactFormatter.write_f64(writer, value)
        }
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }
}

/// Pretty-printed, for people.
#[derive(Debug, Default)]
struct PrettyWholeNumbers<'a> {
    pretty: serde_json::ser::PrettyFormatter<'a>,
}

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $name<W: ?Sized + io::Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            self.pretty.$name(writer $(, $arg)*)
        })*
    };
}

impl serde_json::ser::Formatter for PrettyWholeNumbers<'_> {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        WholeNumbers.write_f64(writer, value)
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        WholeNumbers.write_f32(writer, value)
    }

    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        begin_object_value();
        end_object_value();
    }
}

/// Compact JSON with integral numbers as integers.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        WholeNumbers,
    ))?;
    Ok(out)
}

/// Indented JSON with integral numbers as integers.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(256);
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        PrettyWholeNumbers::default(),
    ))?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// Writes an absent or empty list as `null`: the contract's "no limits" (one official SDK
/// rejects `[]` where it expects a list of limits or `null`).
pub fn empty_as_null<T: Serialize, S: serde::Serializer>(
    value: &Option<Vec<T>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(items) if !items.is_empty() => items.serialize(serializer),
        _ => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn whole_numbers_are_integers_and_fractions_stay() {
        let v = json!({"credit_limit": 1000.0, "alert": 10.5, "n": 3, "neg": -2.0, "tiny": 1e-7, "big": 1e300});
        let text = String::from_utf8(super::to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"credit_limit":1000,"alert":10.5,"n":3,"neg":-2,"tiny":1e-7,"big":1e+300}"#
        );
        let pretty = super::to_string_pretty(&v).unwrap();
        assert!(pretty.contains("\"credit_limit\": 1000,\n"), "{pretty}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&pretty).unwrap()["alert"],
            10.5
        );
    }
}
