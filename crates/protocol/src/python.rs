//! Python's `str()` of parsed JSON values, as the Python broker prints them into message texts.

use serde_json::Value;

/// Prints `value` the way Python's `str()` prints the value `json.loads` made of it:
/// `null` → `None`, `true` → `True`, `75.0` → `75.0`, `1e16` → `1e+16`, a string as it is,
/// lists and objects in Python's `repr` form (`['a', 1]`, `{'k': None}`).
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a parsed JSON value.
pub fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                py_float_repr(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => py_str_repr(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> =
                map.iter().map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v))).collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// Python's `repr()` of a float: the shortest text that round-trips, in fixed notation when the
/// decimal exponent is in `-4..16` (always with a fractional part), otherwise `d.ddde±XX`.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    // Python's decpt: value = 0.d1d2d3... × 10^decpt.
    let decpt = exp + 1;
    if (-3..=16).contains(&decpt) {
        let body = if decpt <= 0 {
            format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
        } else if decpt as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(decpt as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(decpt as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mant = if rest.is_empty() { first.to_owned() } else { format!("{first}.{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if !printable(c) => match c as u32 {
                n @ ..=0xff => out.push_str(&format!("\\x{n:02x}")),
                n @ ..=0xffff => out.push_str(&format!("\\u{n:04x}")),
                n => out.push_str(&format!("\\U{n:08x}")),
            },
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Characters from U+0080 up that Python's `str.isprintable()` calls not printable, by range:
/// controls (Cc), spaces other than the space itself (Zs), line and paragraph separators (Zl,
/// Zp), format characters (Cf) and private use (Co), as of Python 3.11's Unicode 14.0. Unassigned
/// code points (Cn), which change with each Unicode version, are left out but for the
/// noncharacters, unassigned in every version (U+FDD0–U+FDEF and the last two of every plane).
const NOT_PRINTABLE: &[(u32, u32)] = &[
    (0x80, 0xa0), (0xad, 0xad), (0x600, 0x605), (0x61c, 0x61c), (0x6dd, 0x6dd), (0x70f, 0x70f),
    (0x890, 0x891), (0x8e2, 0x8e2), (0x1680, 0x1680), (0x180e, 0x180e), (0x2000, 0x200f),
    (0x2028, 0x202f), (0x205f, 0x2064), (0x2066, 0x206f), (0x3000, 0x3000), (0xe000, 0xf8ff),
    (0xfdd0, 0xfdef), (0xfeff, 0xfeff), (0xfff9, 0xfffb), (0x110bd, 0x110bd), (0x110cd, 0x110cd),
    (0x13430, 0x13438), (0x1bca0, 0x1bca3), (0x1d173, 0x1d17a), (0xe0001, 0xe0001),
    (0xe0020, 0xe007f), (0xf0000, 0x10ffff), // planes 15 and 16: private use, noncharacters
];

/// Whether Python's `repr()` shows `c` (U+0080 and up) as itself rather than as an escape.
fn printable(c: char) -> bool {
    let n = c as u32;
    if n & 0xfffe == 0xfffe {
        return false;
    }
    let i = NOT_PRINTABLE.partition_point(|&(_, last)| last < n);
    NOT_PRINTABLE.get(i).is_none_or(|&(first, _)| n < first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_print_like_python() {
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(false)), "False");
        assert_eq!(py_str(&json!(75)), "75");
        assert_eq!(py_str(&json!(-3)), "-3");
        assert_eq!(py_str(&json!(18446744073709551615u64)), "18446744073709551615");
        assert_eq!(py_str(&json!("alta")), "alta");
    }

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (75.0, "75.0"),
            (100.0, "100.0"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (123.456, "123.456"),
            (1e22, "1e+22"),
            (5e-324, "5e-324"),
            (0.0, "0.0"),
        ];
        for (f, want) in cases {
            assert_eq!(py_float_repr(f), want, "repr of {f:e}");
        }
    }

    #[test]
    fn containers_print_in_repr_form() {
        assert_eq!(py_str(&json!([1, "a", null])), "[1, 'a', None]");
        assert_eq!(py_str(&json!({"k": true, "s": "it's"})), "{'k': True, 's': \"it's\"}");
        assert_eq!(py_str(&json!(["a\nb"])), "['a\\nb']");
    }

    /// Inside a list or a dict, what Python cannot print is escaped as Python escapes it (the
    /// expected texts are Python 3.11's); letters, symbols and combining marks of every script
    /// stay as they are.
    #[test]
    fn unprintable_characters_are_escaped_as_python_does() {
        let v = json!(["a\u{a0}b", "\u{200b}\u{2028}", "\u{e0001}x", "\u{fdd0}\u{1fffe}", "\u{85}", "ñ€🪑\u{301}"]);
        assert_eq!(py_str(&v), "['a\\xa0b', '\\u200b\\u2028', '\\U000e0001x', '\\ufdd0\\U0001fffe', '\\x85', 'ñ€🪑\u{301}']");
        assert_eq!(py_str(&json!({"k": "a\u{ad}b"})), r"{'k': 'a\xadb'}");
        // The bounds of the ranges, both sides.
        for (n, shown) in [(0x9f, false), (0xa0, false), (0xa1, true), (0x2010, true), (0x2027, true), (0x2030, true), (0x205e, true), (0x2065, true), (0xf8ff, false), (0xf900, true), (0x10fffd, false)] {
            assert_eq!(printable(char::from_u32(n).unwrap()), shown, "U+{n:04X}");
        }
    }
}
