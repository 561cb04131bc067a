//! Numbers of any size, kept exact.
//!
//! `serde_json::Value` (without the workspace-wide `arbitrary_precision` feature, which
//! would change how every crate of the workspace parses numbers) holds only i64, u64 and
//! f64. A spec may hold more (`maximum: 18446744073709551616`, `minimum: 1e400`, 40 digits
//! of `multipleOf`). Such a number is read as a *marked string*: [`MARK`] followed by the
//! number's text exactly as written. The schema converter treats a marked string as a
//! number ([`is_number`]), and [`to_text`] writes it back as the bare number, so the
//! emitted JSON Schema carries it unchanged. [`plain`] gives a `Value` without marks (the
//! nearest f64) for callers that need one.
//!
//! The mark starts with a private-use character that no spec has a reason to contain, and
//! a string is only read as a number when the rest is a valid JSON number.

use std::borrow::Cow;

use serde_json::{Number, Value};

pub(crate) const MARK: &str = "\u{10FFFD}#";

/// The exact text of a marked number.
pub(crate) fn big(v: &Value) -> Option<&str> {
    let text = v.as_str()?.strip_prefix(MARK)?;
    is_json_number(text).then_some(text)
}

/// A number, marked or not.
pub(crate) fn is_number(v: &Value) -> bool {
    v.is_number() || big(v).is_some()
}

/// The nearest f64 of a number (±inf for marked numbers beyond f64).
pub(crate) fn approx(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| big(v).and_then(|t| t.parse::<f64>().ok()))
}

/// A non-negative integer (as JSON Schema's `maxLength` and the like want), kept exact.
pub(crate) fn non_negative_int(v: &Value) -> Option<Value> {
    if let Some(n) = v.as_u64() {
        return Some(Value::from(n));
    }
    if let Some(t) = big(v) {
        return t.bytes().all(|b| b.is_ascii_digit()).then(|| v.clone());
    }
    v.as_f64()
        .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 9.0e15)
        .map(|f| Value::from(f as u64))
}

/// Plain text of a scalar for messages and names (`info.version` and the like).
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.strip_prefix(MARK).unwrap_or(s).to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Serialize as JSON, writing marked numbers as the numbers they are.
pub(crate) fn to_text(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write(x, out);
            }
            out.push('}');
        }
        Value::String(s) => match big(v) {
            Some(text) => out.push_str(text),
            None => write_string(s, out),
        },
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

/// The same value without marks: a marked number becomes the nearest f64, or its text as
/// a string when it is beyond f64.
pub(crate) fn plain(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(plain).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), plain(x))).collect()),
        Value::String(_) => match big(v) {
            Some(text) => text
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(text.to_string())),
            None => v.clone(),
        },
        other => other.clone(),
    }
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
pub(crate) fn is_json_number(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Whether serde_json would not keep this number token's value: an integer outside
/// i64/u64, a float beyond f64's range or below its precision, or more significant digits
/// than an f64 carries (15 always survive a round trip).
fn needs_mark(token: &str) -> bool {
    let is_integer = !token.contains(['.', 'e', 'E']);
    if is_integer {
        return token.parse::<i64>().is_err() && token.parse::<u64>().is_err();
    }
    let Ok(f) = token.parse::<f64>() else {
        return true;
    };
    let mantissa: String = token
        .split(['e', 'E'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let significant = mantissa.trim_start_matches('0').trim_end_matches('0').len();
    !f.is_finite()
        || (f == 0.0 && significant > 0)
        || (f != 0.0 && f.abs() < f64::MIN_POSITIVE)
        || significant > 15
}

/// JSON text with every number serde_json would not keep exactly turned into a marked
/// string. Borrowed unchanged when there is none (the common case).
pub(crate) fn protect_json(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let token = std::str::from_utf8(&bytes[start..i]).unwrap_or("");
                if is_json_number(token) && needs_mark(token) {
                    let o = out.get_or_insert_with(|| Vec::with_capacity(bytes.len() + 64));
                    o.extend_from_slice(&bytes[copied..start]);
                    o.push(b'"');
                    o.extend_from_slice(MARK.as_bytes());
                    o.extend_from_slice(token.as_bytes());
                    o.push(b'"');
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(bytes),
        Some(mut o) => {
            o.extend_from_slice(&bytes[copied.min(bytes.len())..]);
            Cow::Owned(o)
        }
    }
}
