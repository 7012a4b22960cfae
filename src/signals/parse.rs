//! Reading Prometheus' query API answers (pure): the JSON of
//! `/api/v1/query` and `/api/v1/query_range`, or a file holding one.
//!
//! Accepted shapes: a whole answer (`{"status": "success", "data": {...}}`),
//! its `data` object (`{"resultType": ..., "result": [...]}`), a bare
//! `result` array, or a JSON array of answers. `matrix` results give every
//! sample; `vector` results one sample per series. Sample values are
//! Prometheus' strings (`"0.93"`, `"NaN"`, `"+Inf"`) or plain numbers;
//! samples that are not finite, and native histograms, are skipped.
//! Nothing in the input can make this panic (property-tested).

use std::collections::BTreeMap;

use serde_json::Value;

/// One series as Prometheus returned it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawSeries {
    /// Its labels, `__name__` included when the query kept it.
    pub labels: BTreeMap<String, String>,
    /// `(unix seconds, value)`, in the order given (Prometheus sorts by time).
    pub points: Vec<(f64, f64)>,
}

impl RawSeries {
    /// The metric name, when the answer kept it.
    pub fn name(&self) -> Option<&str> {
        self.labels.get("__name__").map(String::as_str)
    }
}

/// An answer that holds no usable series.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// Prometheus answered with an error.
    #[error("Prometheus refused the query ({error_type}): {error}")]
    Refused {
        /// `bad_data`, `timeout`, `execution`, ...
        error_type: String,
        /// Its message.
        error: String,
    },
    /// JSON, but not a query answer.
    #[error("not a Prometheus query answer: {0}")]
    Shape(String),
}

/// Most series read from one answer; more are ignored.
pub const MAX_SERIES: usize = 10_000;
/// Most samples read from one answer; more are ignored.
pub const MAX_SAMPLES: usize = 2_000_000;

/// Parses a query answer (or a file holding one or several).
pub fn parse(bytes: &[u8]) -> Result<Vec<RawSeries>, ParseError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| ParseError::Json(e.to_string()))?;
    let mut out = Vec::new();
    let mut samples = 0usize;
    collect(&v, &mut out, &mut samples, 0)?;
    Ok(out)
}

fn collect(v: &Value, out: &mut Vec<RawSeries>, samples: &mut usize, depth: u8) -> Result<(), ParseError> {
    if depth > 3 {
        return Err(ParseError::Shape("nested too deeply".into()));
    }
    match v {
        Value::Object(o) if o.contains_key("status") => {
            if o.get("status").and_then(Value::as_str) != Some("success") {
                return Err(ParseError::Refused {
                    error_type: o.get("errorType").and_then(Value::as_str).unwrap_or("unknown").to_owned(),
                    error: crate::util::truncate(o.get("error").and_then(Value::as_str).unwrap_or("(no message)"), 300)
                        .into_owned(),
                });
            }
            let data = o.get("data").ok_or_else(|| ParseError::Shape("a success answer without `data`".into()))?;
            collect(data, out, samples, depth + 1)
        }
        Value::Object(o) if o.contains_key("result") => {
            match o.get("resultType").and_then(Value::as_str) {
                None | Some("matrix" | "vector") => {}
                Some(other) => return Err(ParseError::Shape(format!("result type `{other}` holds no series"))),
            }
            let result = o
                .get("result")
                .and_then(Value::as_array)
                .ok_or_else(|| ParseError::Shape("`result` is not a list".into()))?;
            for r in result {
                series(r, out, samples);
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                if item.get("metric").is_some() {
                    series(item, out, samples);
                } else {
                    collect(item, out, samples, depth + 1)?;
                }
            }
            Ok(())
        }
        _ => Err(ParseError::Shape("expected an object with `status`, `data` or `result`".into())),
    }
}

fn series(r: &Value, out: &mut Vec<RawSeries>, samples: &mut usize) {
    if out.len() >= MAX_SERIES {
        return;
    }
    let labels: BTreeMap<String, String> = r
        .get("metric")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
        .unwrap_or_default();
    let mut points = Vec::new();
    let mut push = |p: &Value| {
        if *samples >= MAX_SAMPLES {
            return;
        }
        if let Some(pt) = sample(p) {
            *samples += 1;
            points.push(pt);
        }
    };
    if let Some(values) = r.get("values").and_then(Value::as_array) {
        values.iter().for_each(&mut push);
    }
    if let Some(value) = r.get("value") {
        push(value);
    }
    out.push(RawSeries { labels, points });
}

fn sample(p: &Value) -> Option<(f64, f64)> {
    let pair = p.as_array()?;
    let [t, v] = pair.as_slice() else { return None };
    let t = number(t)?;
    let v = number(v)?;
    (t.is_finite() && v.is_finite()).then_some((t, v))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_matrix_vector_and_bare_shapes() {
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"vllm:num_requests_waiting","pod":"p"},"values":[[1700000000,"3"],[1700000015.5,"NaN"],[1700000030,"4"]]},
            {"metric":{},"values":[[1,"+Inf"]]}]}}"#;
        let s = parse(matrix).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name(), Some("vllm:num_requests_waiting"));
        assert_eq!(s[0].points, vec![(1_700_000_000.0, 3.0), (1_700_000_030.0, 4.0)]);
        assert!(s[1].points.is_empty());
        let vector = br#"{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[5,"1.5"]}]}"#;
        assert_eq!(parse(vector).unwrap()[0].points, vec![(5.0, 1.5)]);
        let bare = br#"[{"metric":{"pod":"a"},"values":[[5, 2]]}]"#;
        assert_eq!(parse(bare).unwrap()[0].points, vec![(5.0, 2.0)]);
        let several = br#"[{"status":"success","data":{"resultType":"vector","result":[]}},
                           {"data":{"result":[{"metric":{},"value":[1,"1"]}]},"status":"success"}]"#;
        assert_eq!(parse(several).unwrap().len(), 1);
    }

    #[test]
    fn errors_say_what_was_wrong() {
        let refused = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#;
        assert_eq!(
            parse(refused).unwrap_err().to_string(),
            "Prometheus refused the query (bad_data): parse error at char 3"
        );
        assert!(matches!(parse(b"<html>"), Err(ParseError::Json(_))));
        assert!(matches!(parse(br#"{"a":1}"#), Err(ParseError::Shape(_))));
        assert!(matches!(parse(br#"{"resultType":"scalar","result":[1,"2"]}"#), Err(ParseError::Shape(_))));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "[a-zA-Z0-9_:.+-]{0,8}".prop_map(Value::String),
            prop_oneof![Just("NaN"), Just("+Inf"), Just("1e308"), Just("success"), Just("matrix")]
                .prop_map(|s| Value::String(s.into())),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("status".to_owned()),
                        Just("data".to_owned()),
                        Just("result".to_owned()),
                        Just("resultType".to_owned()),
                        Just("metric".to_owned()),
                        Just("values".to_owned()),
                        Just("value".to_owned()),
                        "[a-z]{1,4}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_any_json(v in json_value()) {
            let bytes = serde_json::to_vec(&v).unwrap();
            if let Ok(series) = parse(&bytes) {
                for s in series {
                    prop_assert!(s.points.iter().all(|(t, v)| t.is_finite() && v.is_finite()));
                }
            }
        }

        #[test]
        fn never_panics_on_any_bytes(b in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&b);
        }
    }
}
