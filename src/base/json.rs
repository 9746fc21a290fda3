//! A JSON value for request bodies, settings.json and responses.
//!
//! Parsing uses nanoserde's tokenizer; this module adds the dynamic value the typed derive lacks
//! (so a handler can tell "omitted" from "null" and name the field that is wrong) and rejects
//! trailing garbage. No HTTP types here.

use nanoserde::{DeJson, DeJsonErr, DeJsonState, DeJsonTok, SerJson, SerJsonState};
use std::str::Chars;

/// Deepest nesting accepted, so a hostile body cannot overflow a small thread stack.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    /// Keys in document order; a repeated key keeps its last value on lookup.
    Obj(Vec<(String, Json)>),
}

/// Parses one JSON document. The error names the line and column (1-based).
pub fn parse(text: &str) -> Result<Json, String> {
    if let Some(offset) = text.find('\0') {
        return Err(format!("invalid JSON: NUL character at byte {offset}"));
    }
    let mut state = DeJsonState::default();
    let mut chars = text.chars();
    state.next(&mut chars);
    let parsed = state
        .next_tok(&mut chars)
        .and_then(|()| read_value(&mut state, &mut chars, 0));
    let value = parsed.map_err(|err| describe(&err, state.cur))?;
    if state.tok != DeJsonTok::Eof {
        return Err(format!(
            "invalid JSON at line {}, column {}: unexpected text after the value",
            state.line + 1,
            state.col
        ));
    }
    Ok(value)
}

/// The tokenizer reports the position of its one-character lookahead; when that is a line
/// break, the offending token ended the previous line.
fn describe(err: &DeJsonErr, lookahead: char) -> String {
    let detail = plain_words(format!("{:?}", err.msg).trim());
    let detail = detail.as_str();
    if lookahead == '\n' {
        format!("invalid JSON at the end of line {}: {detail}", err.line)
    } else {
        format!(
            "invalid JSON at line {}, column {}: {detail}",
            err.line + 1,
            err.col.max(1)
        )
    }
}

/// The tokenizer's "Unexpected token Str expected , or }" in words a person editing a file uses.
fn plain_words(detail: &str) -> String {
    let Some(rest) = detail.strip_prefix("Unexpected token ") else {
        return detail.to_owned();
    };
    let (found, expected) = rest.split_once(" expected ").unwrap_or((rest, ""));
    let found = match found.split(['(', ' ']).next().unwrap_or(found) {
        "Str" => "text in quotes",
        "U64" | "I64" | "F64" => "a number",
        "Colon" => "':'",
        "Comma" => "','",
        "CurlyOpen" => "'{'",
        "CurlyClose" => "'}'",
        "BlockOpen" => "'['",
        "BlockClose" => "']'",
        "Bool" => "true or false",
        "Null" => "null",
        "Eof" => "the end of the file",
        _ => "something",
    };
    let expected = match expected.trim() {
        ", or }" => {
            "a ',' or a closing '}' (is a comma missing at the end of the line before?)".to_owned()
        }
        ", or ]" => "a ',' or a closing ']' (is a comma missing?)".to_owned(),
        "" => "something else".to_owned(),
        other => other.to_owned(),
    };
    format!("found {found} where {expected} should be")
}

fn read_value(s: &mut DeJsonState, i: &mut Chars, depth: usize) -> Result<Json, DeJsonErr> {
    if depth > MAX_DEPTH {
        return Err(s.err_parse("nesting deeper than 32 levels"));
    }
    let value = match s.tok.clone() {
        DeJsonTok::Null => Json::Null,
        DeJsonTok::Bool(b) => Json::Bool(b),
        DeJsonTok::U64(n) => Json::Num(n as f64),
        DeJsonTok::I64(n) => Json::Num(n as f64),
        DeJsonTok::F64(n) if n.is_finite() => Json::Num(n),
        // `1e999` reads as infinity, which JSON cannot write back.
        DeJsonTok::F64(_) => return Err(s.err_parse("number (too large for a 64-bit float)")),
        DeJsonTok::Str => Json::Str(s.as_string()?),
        DeJsonTok::BlockOpen => {
            s.next_tok(i)?;
            let mut items = Vec::new();
            while s.tok != DeJsonTok::BlockClose {
                items.push(read_value(s, i, depth + 1)?);
                s.eat_comma_block(i)?;
            }
            Json::Arr(items)
        }
        DeJsonTok::CurlyOpen => {
            s.next_tok(i)?;
            let mut fields = Vec::new();
            while s.tok != DeJsonTok::CurlyClose {
                let key = s.as_string()?;
                s.next_colon(i)?;
                fields.push((key, read_value(s, i, depth + 1)?));
                s.eat_comma_curly(i)?;
            }
            Json::Obj(fields)
        }
        _ => return Err(s.err_token("a value")),
    };
    s.next_tok(i)?;
    Ok(value)
}

impl Json {
    pub fn str(text: impl Into<String>) -> Json {
        Json::Str(text.into())
    }

    pub fn obj<const N: usize>(fields: [(&str, Json); N]) -> Json {
        Json::Obj(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    pub fn opt_str(text: Option<impl Into<String>>) -> Json {
        text.map_or(Json::Null, |t| Json::Str(t.into()))
    }

    /// The value of `key` in an object; `None` when absent or when `self` is not an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }

    /// A whole, non-negative number that fits in `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) if *n >= 0.0 && n.fract() == 0.0 && *n <= 9.0e15 => Some(*n as u64),
            _ => None,
        }
    }

    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) if n.is_finite() => {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    out.push_str(&(*n as i64).to_string());
                } else if n.fract() == 0.0 {
                    // All digits (`1e31` as 1 and 31 zeros) would read back as an integer
                    // too large for 64 bits, which the reader refuses.
                    out.push_str(&format!("{n:e}"));
                } else {
                    out.push_str(&n.to_string());
                }
            }
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => write_str(s, out),
            Json::Arr(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (n, (key, value)) in fields.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    write_str(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_str(text: &str, out: &mut String) {
    let mut state = SerJsonState::new(std::mem::take(out));
    text.ser_json(0, &mut state);
    *out = state.out;
}

impl DeJson for Json {
    fn de_json(s: &mut DeJsonState, i: &mut Chars) -> Result<Self, DeJsonErr> {
        read_value(s, i, 0)
    }
}

impl From<&str> for Json {
    fn from(text: &str) -> Json {
        Json::Str(text.to_owned())
    }
}

impl From<String> for Json {
    fn from(text: String) -> Json {
        Json::Str(text)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}

impl From<u64> for Json {
    fn from(n: u64) -> Json {
        Json::Num(n as f64)
    }
}

impl From<Vec<Json>> for Json {
    fn from(items: Vec<Json>) -> Json {
        Json::Arr(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_values() {
        let v = parse(r#"{"a": [1, -2, 3.5, "x\u00e9\n"], "b": {"c": null, "d": true}}"#).unwrap();
        assert_eq!(
            v.get("a").unwrap(),
            &Json::Arr(vec![
                Json::Num(1.0),
                Json::Num(-2.0),
                Json::Num(3.5),
                Json::str("xé\n"),
            ])
        );
        assert_eq!(v.get("b").unwrap().get("c"), Some(&Json::Null));
        assert_eq!(v.get("b").unwrap().get("d"), Some(&Json::Bool(true)));
    }

    #[test]
    fn rejects_garbage_with_position() {
        let err = parse("{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(parse("{} x").is_err());
        assert!(parse("{}\0").is_err());
        assert!(parse("").is_err());
        assert!(parse("[").is_err());
        assert!(parse(&"[".repeat(100)).unwrap_err().contains("nesting"));
    }

    #[test]
    fn refuses_numbers_beyond_f64() {
        assert!(parse("[1, 1e999]").unwrap_err().contains("too large"));
        assert!(parse("-1.5e400").unwrap_err().contains("too large"));
        assert_eq!(parse("1.7e308").unwrap(), Json::Num(1.7e308));
        assert_eq!(parse("1e-400").unwrap(), Json::Num(0.0));
    }

    #[test]
    fn round_trips_strings_with_escapes() {
        let v = Json::obj([("k\"", Json::str("a\"b\\c\u{1}d"))]);
        let text = v.to_json_string();
        assert_eq!(text, r#"{"k\"":"a\"b\\c\u0001d"}"#);
        assert_eq!(parse(&text).unwrap(), v);
    }

    #[test]
    fn writes_whole_numbers_without_fraction() {
        assert_eq!(Json::Num(5.0).to_json_string(), "5");
        assert_eq!(
            Json::Num(1716000000.123456).to_json_string(),
            "1716000000.123456"
        );
    }

    #[test]
    fn writes_huge_whole_numbers_so_they_read_back() {
        for (n, text) in [
            (1e31, "1e31"),
            (-2e20, "-2e20"),
            (18446744073709551615.0, "1.8446744073709552e19"),
        ] {
            assert_eq!(Json::Num(n).to_json_string(), text);
            assert_eq!(parse(text).unwrap(), Json::Num(n));
        }
    }
}
