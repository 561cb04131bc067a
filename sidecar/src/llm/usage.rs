//! Usage of all of a loop's model calls, summed into the one answer (every number of
//! the provider's `usage` object, nested details included).

use serde_json::Value;

/// Adds `more` into `total` field by field (numbers summed, objects merged).
pub fn add(total: &mut Option<Value>, more: Option<&Value>) {
    let Some(more @ Value::Object(_)) = more else {
        return;
    };
    match total {
        None => *total = Some(more.clone()),
        Some(t) => merge(t, more),
    }
}

fn merge(total: &mut Value, more: &Value) {
    match (total, more) {
        (Value::Object(t), Value::Object(m)) => {
            for (k, v) in m {
                match t.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t @ Value::Number(_), Value::Number(m)) => {
            let sum = match (t.as_u64(), m.as_u64()) {
                (Some(a), Some(b)) => Value::from(a.saturating_add(b)),
                _ => Value::from(t.as_f64().unwrap_or(0.0) + m.as_f64().unwrap_or(0.0)),
            };
            *t = sum;
        }
        (t @ Value::Null, m) => *t = m.clone(),
        _ => {}
    }
}

/// A random id with a prefix (`mcp_…`, `mcpl_…`).
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    if getrandom::getrandom(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    format!("{prefix}{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_is_summed_field_by_field() {
        let mut total = None;
        add(
            &mut total,
            Some(
                &json!({"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4, "prompt_tokens_details": {"cached_tokens": 1}}),
            ),
        );
        add(
            &mut total,
            Some(
                &json!({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7, "prompt_tokens_details": {"cached_tokens": 2}}),
            ),
        );
        add(&mut total, None);
        assert_eq!(
            total,
            Some(
                json!({"prompt_tokens": 8, "completion_tokens": 3, "total_tokens": 11, "prompt_tokens_details": {"cached_tokens": 3}})
            )
        );
    }
}
