//! CEL evaluation of attribute rules over JSON values (crate `cel`, the maintained successor
//! of `cel-interpreter`).
//!
//! Variables are given as JSON (the same activation `cel-python` reads in the interop test):
//! JSON integers become CEL `int`, other numbers `double`, objects maps with string keys.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use cel::objects::{Key, Map};
use cel::{Context, Program, Value};
use serde_json::Value as Json;

use crate::spec::MAX_EXPR_BYTES;

/// A compiled CEL expression.
pub struct Compiled {
    program: Program,
    reads_readings: bool,
    variables: Vec<String>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled").finish_non_exhaustive()
    }
}

impl Compiled {
    /// Whether the expression reads the variable `name`.
    pub fn reads(&self, name: &str) -> bool {
        self.variables.iter().any(|v| v == name)
    }

    /// Whether the expression reads the variable `readings`.
    pub fn reads_readings(&self) -> bool {
        self.reads_readings
    }
}

/// Parses `expr` (at most [`MAX_EXPR_BYTES`]).
pub fn compile(expr: &str) -> Result<Compiled, String> {
    if expr.len() > MAX_EXPR_BYTES {
        return Err(format!(
            "CEL expression is {} bytes, more than {MAX_EXPR_BYTES}",
            expr.len()
        ));
    }
    let program =
        Program::compile(expr).map_err(|e| format!("CEL expression does not parse: {e}"))?;
    let refs = program.references();
    let reads_readings = refs.has_variable("readings");
    let variables = refs.variables().into_iter().map(str::to_owned).collect();
    Ok(Compiled {
        program,
        reads_readings,
        variables,
    })
}

/// Programs compiled from the same text are the same: specifications made from one template
/// repeat their rules, and parsing CEL costs more than checking a signature.
static COMPILED: LazyLock<Mutex<HashMap<String, Arc<Compiled>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// How many distinct expressions [`compile_shared`] keeps.
const COMPILED_KEPT: usize = 4096;

/// [`compile`], shared by expression text (failures are not kept).
pub fn compile_shared(expr: &str) -> Result<Arc<Compiled>, String> {
    if let Some(c) = COMPILED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(expr)
    {
        return Ok(c.clone());
    }
    let c = Arc::new(compile(expr)?);
    let mut kept = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    if kept.len() >= COMPILED_KEPT {
        kept.clear();
    }
    kept.insert(expr.to_owned(), c.clone());
    Ok(c)
}

/// A JSON value as a CEL value.
pub fn json_to_cel(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(Arc::new(s.clone())),
        Json::Array(a) => Value::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Json::Object(o) => {
            let map: HashMap<Key, Value> = o
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// Variables bound once for several rules (binding a list of 100 readings costs more than
/// evaluating a rule over it).
pub struct Activation {
    ctx: Context<'static, 'static>,
}

impl std::fmt::Debug for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activation").finish_non_exhaustive()
    }
}

impl Activation {
    /// Binds the variables of `vars` for which `needed(name)` holds.
    pub fn new(vars: &BTreeMap<String, Json>, needed: impl Fn(&str) -> bool) -> Self {
        let mut ctx = Context::default();
        for (name, v) in vars {
            if needed(name) {
                ctx.add_variable_from_value(name.as_str(), json_to_cel(v));
            }
        }
        Activation { ctx }
    }
}

/// Evaluates `compiled` in `activation`; `Ok(b)` for a boolean result, `Err` with the reason
/// for an evaluation error or a non-boolean result.
pub fn evaluate_in(compiled: &Compiled, activation: &Activation) -> Result<bool, String> {
    match compiled.program.execute(&activation.ctx) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("evaluated to {other:?}, not a bool")),
        Err(e) => Err(format!("evaluation error: {e}")),
    }
}

/// Evaluates `compiled` with `vars` (binding only the variables it reads); see [`evaluate_in`].
pub fn evaluate(compiled: &Compiled, vars: &BTreeMap<String, Json>) -> Result<bool, String> {
    let activation = Activation::new(vars, |n| compiled.reads(n));
    evaluate_in(compiled, &activation)
}

/// Evaluates `expr` with `vars` and returns the result as JSON (for the interop test and
/// debugging): bools, numbers, strings, lists and maps; errors as `Err`.
pub fn evaluate_to_json(expr: &str, vars: &BTreeMap<String, Json>) -> Result<Json, String> {
    let compiled = compile(expr)?;
    let mut ctx = Context::default();
    for (name, v) in vars {
        ctx.add_variable_from_value(name.as_str(), json_to_cel(v));
    }
    let v = compiled
        .program
        .execute(&ctx)
        .map_err(|e| format!("evaluation error: {e}"))?;
    cel_to_json(&v)
}

fn cel_to_json(v: &Value) -> Result<Json, String> {
    Ok(match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Value::String(s) => Json::String(s.as_ref().clone()),
        Value::List(l) => Json::Array(l.iter().map(cel_to_json).collect::<Result<_, _>>()?),
        Value::Map(m) => {
            let mut o = serde_json::Map::new();
            for (k, v) in m.map.iter() {
                let key = match k {
                    Key::String(s) => s.as_ref().clone(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                o.insert(key, cel_to_json(v)?);
            }
            Json::Object(o)
        }
        other => return Err(format!("result {other:?} has no JSON form")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torque_range_over_readings() {
        let vars = BTreeMap::from([(
            "readings".to_owned(),
            serde_json::json!([{"type": "Torque", "value": 22.5}, {"type": "Torque", "value": 20.0}]),
        )]);
        let c =
            compile("readings.all(r, r.type != 'Torque' || (r.value >= 20.0 && r.value <= 25.0))")
                .expect("compiles");
        assert!(c.reads_readings());
        assert_eq!(evaluate(&c, &vars), Ok(true));
        let c =
            compile("readings.exists(r, r.value > 22.0 && r.value < 23.0) && size(readings) == 2")
                .expect("compiles");
        assert_eq!(evaluate(&c, &vars), Ok(true));
        let c = compile("readings.map(r, r.value)").expect("compiles");
        assert!(evaluate(&c, &vars).is_err());
        assert!(compile("readings.all(r, ").is_err());
    }
}
