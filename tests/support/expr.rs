//! GitHub Actions expressions (`${{ }}`), as the test runners need them: literals, context
//! lookups (`github.event.pull_request.number`, `steps.gate.outputs.report-path`), `!`, `==`,
//! `!=`, `<`, `>`, `&&`, `||`, parentheses, and the functions the workflows call.
//!
//! The semantics follow GitHub's documentation: `&&` and `||` return an operand, not a boolean
//! (`vars.X || 'default'`); `==` compares strings case-insensitively and coerces mixed types to
//! numbers; a missing property is null; null prints as the empty string. A context name the
//! caller did not provide is a panic, so a typo in a workflow shows up in the test.

use serde_json::Value;

/// The job's status, for `success()`, `failure()` and `cancelled()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Status {
    /// A step (or a needed job) before this one failed.
    pub failed: bool,
    pub cancelled: bool,
}

/// Replaces each `${{ expr }}` in `text` with the expression's value as text.
pub fn interpolate(text: &str, context: &Value) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .map(|e| start + e)
            .unwrap_or_else(|| panic!("unclosed expression in {text:?}"));
        let value = evaluate(&rest[start + 3..end], context, Status::default());
        out.push_str(&to_text(&value));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// An `if:` condition: `${{ }}` optional, and `success() && (...)` implied unless the
/// condition calls a status function itself, as GitHub does.
pub fn condition(text: &str, context: &Value, status: Status) -> bool {
    let mut expr = text.trim();
    if let Some(inner) = expr.strip_prefix("${{").and_then(|e| e.strip_suffix("}}")) {
        expr = inner.trim();
    }
    let calls_status = ["success(", "failure(", "always(", "cancelled("]
        .iter()
        .any(|f| expr.contains(f));
    let full = if calls_status {
        expr.to_string()
    } else {
        format!("success() && ({expr})")
    };
    truthy(&evaluate(&full, context, status))
}

/// Evaluates one expression (without `${{ }}`).
pub fn evaluate(expr: &str, context: &Value, status: Status) -> Value {
    let tokens = tokenize(expr);
    let mut parser = Parser {
        tokens,
        at: 0,
        context,
        status,
        source: expr,
    };
    let value = parser.or();
    assert!(
        parser.at == parser.tokens.len(),
        "trailing tokens in expression {expr:?}"
    );
    value
}

/// GitHub's truthiness: false, 0, NaN, '' and null are false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// A value as `${{ }}` prints it.
pub fn to_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => serde_json::to_string_pretty(other).unwrap(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Num(f64),
    Ident(String),
    Op(&'static str),
}

fn tokenize(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            // '' inside a string is a quote.
            let mut s = String::new();
            i += 1;
            loop {
                assert!(i < chars.len(), "unclosed string in {expr:?}");
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        s.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(chars[i]);
                i += 1;
            }
            tokens.push(Token::Str(s));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            tokens.push(Token::Num(text.parse().unwrap_or(f64::NAN)));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-')
            {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["&&", "||", "==", "!=", "<=", ">="]
                .into_iter()
                .find(|op| *op == two);
            if let Some(op) = op {
                tokens.push(Token::Op(op));
                i += 2;
                continue;
            }
            let op = ["!", "<", ">", "(", ")", "[", "]", ".", ","]
                .into_iter()
                .find(|op| op.starts_with(c))
                .unwrap_or_else(|| panic!("unexpected {c:?} in expression {expr:?}"));
            tokens.push(Token::Op(op));
            i += 1;
        }
    }
    tokens
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    context: &'a Value,
    status: Status,
    source: &'a str,
}

impl Parser<'_> {
    fn peek_op(&self, op: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Op(o)) if *o == op)
    }

    fn expect(&mut self, op: &str) {
        assert!(self.peek_op(op), "expected {op} in {:?}", self.source);
        self.at += 1;
    }

    fn or(&mut self) -> Value {
        let mut value = self.and();
        while self.peek_op("||") {
            self.at += 1;
            let rhs = self.and();
            if !truthy(&value) {
                value = rhs;
            }
        }
        value
    }

    fn and(&mut self) -> Value {
        let mut value = self.comparison();
        while self.peek_op("&&") {
            self.at += 1;
            let rhs = self.comparison();
            if truthy(&value) {
                value = rhs;
            }
        }
        value
    }

    fn comparison(&mut self) -> Value {
        let lhs = self.unary();
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.peek_op(op) {
                self.at += 1;
                let rhs = self.unary();
                let result = match op {
                    "==" => equal(&lhs, &rhs),
                    "!=" => !equal(&lhs, &rhs),
                    _ => {
                        let (a, b) = (number(&lhs), number(&rhs));
                        match op {
                            "<" => a < b,
                            ">" => a > b,
                            "<=" => a <= b,
                            _ => a >= b,
                        }
                    }
                };
                return Value::Bool(result);
            }
        }
        lhs
    }

    fn unary(&mut self) -> Value {
        if self.peek_op("!") {
            self.at += 1;
            return Value::Bool(!truthy(&self.unary()));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Value {
        let mut value = self.primary();
        loop {
            if self.peek_op(".") {
                self.at += 1;
                let Some(Token::Ident(name)) = self.tokens.get(self.at).cloned() else {
                    panic!("expected a property name in {:?}", self.source);
                };
                self.at += 1;
                value = property(&value, &name);
            } else if self.peek_op("[") {
                self.at += 1;
                let key = self.or();
                self.expect("]");
                value = match (&value, &key) {
                    (Value::Array(items), Value::Number(n)) => n
                        .as_u64()
                        .and_then(|i| items.get(i as usize).cloned())
                        .unwrap_or(Value::Null),
                    _ => property(&value, &to_text(&key)),
                };
            } else {
                return value;
            }
        }
    }

    fn primary(&mut self) -> Value {
        let token = self
            .tokens
            .get(self.at)
            .cloned()
            .unwrap_or_else(|| panic!("expression {:?} ends early", self.source));
        self.at += 1;
        match token {
            Token::Str(s) => Value::String(s),
            Token::Num(n) => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
            Token::Op("(") => {
                let value = self.or();
                self.expect(")");
                value
            }
            Token::Ident(name) if self.peek_op("(") => {
                self.at += 1;
                let mut args = Vec::new();
                while !self.peek_op(")") {
                    args.push(self.or());
                    if self.peek_op(",") {
                        self.at += 1;
                    }
                }
                self.at += 1;
                self.call(&name, &args)
            }
            Token::Ident(name) => match name.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => self
                    .context
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| panic!("no context `{name}` in {:?}", self.source)),
            },
            Token::Op(op) => panic!("unexpected {op} in {:?}", self.source),
        }
    }

    fn call(&self, name: &str, args: &[Value]) -> Value {
        let text = |i: usize| args.get(i).map(to_text).unwrap_or_default().to_lowercase();
        match name.to_lowercase().as_str() {
            "success" => Value::Bool(!self.status.failed && !self.status.cancelled),
            "failure" => Value::Bool(self.status.failed),
            "cancelled" => Value::Bool(self.status.cancelled),
            "always" => Value::Bool(true),
            "contains" => Value::Bool(match &args[0] {
                Value::Array(items) => items.iter().any(|item| equal(item, &args[1])),
                _ => text(0).contains(&text(1)),
            }),
            "startswith" => Value::Bool(text(0).starts_with(&text(1))),
            "endswith" => Value::Bool(text(0).ends_with(&text(1))),
            "tojson" => Value::String(serde_json::to_string_pretty(&args[0]).unwrap()),
            "fromjson" => serde_json::from_str(&to_text(&args[0])).unwrap(),
            other => panic!("the test runner does not know the function {other}()"),
        }
    }
}

/// `value.name`: exact key first, then case-insensitively (contexts are case-insensitive).
fn property(value: &Value, name: &str) -> Value {
    let Value::Object(map) = value else {
        return Value::Null;
    };
    map.get(name)
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .cloned()
        .unwrap_or(Value::Null)
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if s.trim().is_empty() => 0.0,
        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => {
            std::ptr::eq(a, b)
        }
        _ => number(a) == number(b),
    }
}
