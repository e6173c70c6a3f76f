//! A step of the dashboard's release build (`scripts/minify-dist`), run on wasm-bindgen's output
//! before wasm-opt.
//!
//! wasm-bindgen names every import of the module after its Rust binding plus a 16-digit hash
//! (`__wbg_appendChild_8204974b7328bf98`), and every export after its Rust path; each name is
//! written twice, in the module and in its JS glue, and the hashes do not compress. This step
//! gives each a name of one to three letters in both files, and drops exports the page never
//! uses, so that wasm-opt removes the code they keep alive. The JS minifier cannot do either: it
//! does not rename object keys, nor see into the module.
//!
//! A class of the glue that reaches only exports the module does not have goes too, dropped here
//! or never linked (`scripts/wasm-link`; wasm-bindgen writes a class for every exported Rust
//! type, used or not, even when the type's methods were not linked), with its `Symbol.dispose`
//! line and its finalization registry, when nothing else in the glue names it.
//!
//! A name is renamed only where the glue's use of it is unambiguous, and left as it is otherwise:
//! - an import module, when its name occurs once in the glue, as a quoted key;
//! - an import of such a module with a name wasm-bindgen made (`__wbg_…`, `__wbindgen_…`), when
//!   that name occurs once in the glue, as a key of an object literal (the imports object);
//! - an export, when its name is distinctive (12 characters or more, with an underscore), never
//!   occurs in quotes, and is reached as a property (`wasm.name`); other occurrences are the
//!   glue's own JS functions of the same name, which it keeps.

pub mod wasm;

use std::collections::{HashMap, HashSet};

use wasm::{Malformed, Section, EXPORT, IMPORT};

#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Exports whose name contains one of these are dropped from the module.
    pub drop_exports: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub modules_renamed: usize,
    pub imports_renamed: usize,
    /// Imports left as they were: the glue does not use them in a way this step recognises.
    pub imports_kept: Vec<String>,
    pub exports_renamed: usize,
    pub exports_dropped: Vec<String>,
    /// Classes of the glue taken out: every export they reach is dropped or missing.
    pub classes_dropped: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Shrunk {
    pub wasm: Vec<u8>,
    pub js: String,
    pub report: Report,
}

/// The `n`th short name: a..z, A..Z, then two letters, and so on (letters only: valid JS
/// identifiers and object keys).
pub fn short_name(mut n: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut name = String::new();
    loop {
        name.push(LETTERS[n % LETTERS.len()] as char);
        n /= LETTERS.len();
        if n == 0 {
            return name;
        }
        n -= 1;
    }
}

/// Hands out short names not already taken in one namespace.
struct Names {
    next: usize,
    taken: HashSet<String>,
}

impl Names {
    fn new<'a>(existing: impl IntoIterator<Item = &'a str>) -> Self {
        Names { next: 0, taken: existing.into_iter().map(str::to_owned).collect() }
    }

    fn fresh(&mut self) -> String {
        loop {
            let name = short_name(self.next);
            self.next += 1;
            if self.taken.insert(name.clone()) {
                return name;
            }
        }
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Where `name` occurs in `js` as a whole identifier (not inside a longer one).
fn occurrences(js: &str, name: &str) -> Vec<usize> {
    let bytes = js.as_bytes();
    js.match_indices(name)
        .map(|(at, _)| at)
        .filter(|&at| {
            let before = at.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(at + name.len()).copied();
            !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
        })
        .collect()
}

fn before(js: &str, at: usize) -> Option<u8> {
    js.as_bytes()[..at].iter().rev().copied().find(|b| !b.is_ascii_whitespace())
}

fn after(js: &str, at: usize) -> Option<u8> {
    js.as_bytes()[at..].iter().copied().find(|b| !b.is_ascii_whitespace())
}

fn is_quote(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b'`')
}

/// Replacements in the glue: (start, end, new text), applied together at the end.
#[derive(Default)]
struct Edits(Vec<(usize, usize, String)>);

impl Edits {
    fn apply(mut self, js: &str) -> String {
        self.0.sort_by_key(|e| e.0);
        let mut out = String::with_capacity(js.len());
        let mut at = 0;
        for (start, end, text) in self.0 {
            debug_assert!(start >= at, "overlapping edits");
            out.push_str(&js[at..start]);
            out.push_str(&text);
            at = end;
        }
        out.push_str(&js[at..]);
        out
    }
}

/// Where the code starting at `at` ends, if a string or comment starts there; else None.
fn skip_literal(bytes: &[u8], at: usize) -> Option<usize> {
    let rest = &bytes[at..];
    let find = |from: usize, pat: &[u8]| rest[from..].windows(pat.len()).position(|w| w == pat).map(|p| at + from + p + pat.len());
    match rest {
        [b'/', b'/', ..] => Some(find(2, b"\n").unwrap_or(bytes.len())),
        [b'/', b'*', ..] => Some(find(2, b"*/").unwrap_or(bytes.len())),
        [q, ..] if is_quote(*q) => {
            let mut i = 1;
            while i < rest.len() {
                match rest[i] {
                    b'\\' => i += 2,
                    c if c == *q => return Some(at + i + 1),
                    _ => i += 1,
                }
            }
            Some(bytes.len())
        }
        _ => None,
    }
}

/// The end (just past it) of the code from `from` that closes at depth zero: the bracket
/// matching the one at `from`, or with `until = Some(b';')` the statement's semicolon. Strings
/// and comments are skipped; None if the glue ends first.
fn code_end(js: &str, from: usize, until: Option<u8>) -> Option<usize> {
    let bytes = js.as_bytes();
    let mut depth = 0usize;
    let mut i = from;
    while i < bytes.len() {
        if let Some(next) = skip_literal(bytes, i) {
            i = next;
            continue;
        }
        match bytes[i] {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 && until.is_none() {
                    return Some(i + 1);
                }
            }
            c if depth == 0 && Some(c) == until => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// `end`, and the line break right after it if there is one.
fn with_newline(js: &str, end: usize) -> usize {
    if js.as_bytes().get(end) == Some(&b'\n') {
        end + 1
    } else {
        end
    }
}

/// The glue's classes that reach the module only through exports that are `gone` (dropped, or
/// not in the module), each with the ranges that go with it: the class, its `Symbol.dispose`
/// line, its finalization registry. A class named anywhere else in the glue is kept.
fn dead_classes(js: &str, gone: impl Fn(&str) -> bool) -> Vec<(String, Vec<(usize, usize)>)> {
    let mut dead = Vec::new();
    for (start, _) in js.match_indices("export class ") {
        let name_at = start + "export class ".len();
        let name: String = js[name_at..].bytes().take_while(|&b| is_ident(b)).map(char::from).collect();
        let Some(open) = js[name_at..].find('{').map(|i| name_at + i) else { continue };
        let Some(end) = code_end(js, open, None) else { continue };
        let body = &js[open..end];
        let uses: Vec<&str> = body
            .match_indices("wasm.")
            .map(|(at, _)| {
                let rest = &body[at + "wasm.".len()..];
                &rest[..rest.bytes().take_while(|&b| is_ident(b)).count()]
            })
            .collect();
        if uses.is_empty() || !uses.iter().all(|u| gone(u)) {
            continue;
        }
        let mut ranges = vec![(start, with_newline(js, end))];
        let dispose = format!("if (Symbol.dispose) {name}.prototype[Symbol.dispose] = {name}.prototype.free;");
        if let [(at, _)] = js.match_indices(&dispose).collect::<Vec<_>>().as_slice() {
            ranges.push((*at, with_newline(js, at + dispose.len())));
        }
        let registry = format!("const {name}Finalization = ");
        if let [(at, _)] = js.match_indices(&registry).collect::<Vec<_>>().as_slice() {
            match code_end(js, *at, Some(b';')) {
                Some(end) => ranges.push((*at, with_newline(js, end))),
                None => continue,
            }
        }
        let inside = |at: usize| ranges.iter().any(|&(s, e)| s <= at && at < e);
        let names_elsewhere = occurrences(js, &name).into_iter().chain(occurrences(js, &format!("{name}Finalization"))).any(|at| !inside(at));
        if !names_elsewhere {
            dead.push((name, ranges));
        }
    }
    dead
}

/// The one place the glue names an import module: a quoted key of the imports object.
fn module_key(js: &str, module: &str) -> Option<(usize, usize)> {
    let found: Vec<(usize, usize)> = [b'"', b'\'']
        .iter()
        .flat_map(|&q| {
            let quoted = format!("{}{module}{}", q as char, q as char);
            js.match_indices(&quoted).map(|(at, s)| (at, at + s.len())).collect::<Vec<_>>()
        })
        .collect();
    match found.as_slice() {
        [(start, end)] if after(js, *end) == Some(b':') => Some((*start, *end)),
        _ => None,
    }
}

/// The one place the glue names an import: a key of the imports object (`name: function …`).
fn import_key(js: &str, field: &str) -> Option<usize> {
    match occurrences(js, field).as_slice() {
        [at] if after(js, at + field.len()) == Some(b':')
            && matches!(before(js, *at), Some(b'{' | b',')) =>
        {
            Some(*at)
        }
        _ => None,
    }
}

/// The places the glue reaches an export (`wasm.name`), or None if it might reach it otherwise.
fn export_uses(js: &str, name: &str) -> Option<Vec<usize>> {
    if name.len() < 12 || !name.contains('_') {
        return None;
    }
    let found = occurrences(js, name);
    let bytes = js.as_bytes();
    if found.iter().any(|&at| at > 0 && is_quote(bytes[at - 1])) {
        return None;
    }
    Some(found.into_iter().filter(|&at| at > 0 && bytes[at - 1] == b'.').collect())
}

pub fn shrink(module: &[u8], js: &str, options: &Options) -> Result<Shrunk, Malformed> {
    let mut sections: Vec<Section> = wasm::parse(module)?;
    let mut edits = Edits::default();
    let mut report = Report::default();

    if let Some(i) = sections.iter().position(|s| s.id == IMPORT) {
        let mut imports = wasm::read_imports(&sections, i)?;
        let mut modules: Vec<String> = imports.iter().map(|i| i.module.clone()).collect();
        modules.sort();
        modules.dedup();
        let mut module_names = Names::new(modules.iter().map(String::as_str));
        // The modules the glue itself provides, by their new names.
        let mut glue_modules: HashSet<String> = HashSet::new();
        for module in &modules {
            let Some((start, end)) = module_key(js, module) else { continue };
            let new = module_names.fresh();
            edits.0.push((start, end, format!("\"{new}\"")));
            report.modules_renamed += 1;
            for import in imports.iter_mut().filter(|i| &i.module == module) {
                import.module = new.clone();
            }
            glue_modules.insert(new);
        }
        // Only wasm-bindgen's own names, in the modules the glue provides: an import from any
        // other module (a JS snippet, `env`) keeps the name that module exports.
        let mut import_names = Names::new(imports.iter().map(|i| i.field.as_str()));
        let mut renamed: HashMap<(String, String), String> = HashMap::new();
        for import in &mut imports {
            let generated = import.field.starts_with("__wbg_") || import.field.starts_with("__wbindgen_");
            if !generated || !glue_modules.contains(&import.module) {
                report.imports_kept.push(import.field.clone());
                continue;
            }
            let key = (import.module.clone(), import.field.clone());
            if let Some(new) = renamed.get(&key) {
                // The same import twice: one key in the glue, one new name.
                import.field = new.clone();
                continue;
            }
            match import_key(js, &import.field) {
                Some(at) => {
                    let new = import_names.fresh();
                    edits.0.push((at, at + import.field.len(), new.clone()));
                    import.field = new.clone();
                    renamed.insert(key, new);
                    report.imports_renamed += 1;
                }
                None => report.imports_kept.push(import.field.clone()),
            }
        }
        sections[i].body = wasm::imports_body(&imports);
    }

    // The module's exports after the drop, by the names the glue knows them by.
    let mut kept_exports: HashSet<String> = HashSet::new();
    if let Some(i) = sections.iter().position(|s| s.id == EXPORT) {
        let mut exports = wasm::read_exports(&sections, i)?;
        // Dropped names stay taken: the glue still names them (in code it never runs).
        let mut names = Names::new(exports.iter().map(|e| e.name.as_str()));
        exports.retain(|e| {
            let drop = options.drop_exports.iter().any(|d| e.name.contains(d.as_str()));
            if drop {
                report.exports_dropped.push(e.name.clone());
            }
            !drop
        });
        kept_exports.extend(exports.iter().map(|e| e.name.clone()));
        for export in &mut exports {
            let Some(uses) = export_uses(js, &export.name) else { continue };
            let new = names.fresh();
            for at in uses {
                edits.0.push((at, at + export.name.len(), new.clone()));
            }
            export.name = new;
            report.exports_renamed += 1;
        }
        sections[i].body = wasm::exports_body(&exports);
    }

    for (name, ranges) in dead_classes(js, |u| !kept_exports.contains(u)) {
        // What goes takes any edit inside it with it.
        edits.0.retain(|&(start, _, _)| !ranges.iter().any(|&(s, e)| s <= start && start < e));
        edits.0.extend(ranges.into_iter().map(|(s, e)| (s, e, String::new())));
        report.classes_dropped.push(name);
    }

    Ok(Shrunk { wasm: wasm::write(&sections), js: edits.apply(js), report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm::{Export, Import};

    const FN: &[u8] = &[0x00, 0x00];

    fn module(imports: &[(&str, &str)], exports: &[&str]) -> Vec<u8> {
        let imports: Vec<Import> = imports
            .iter()
            .map(|(m, f)| Import { module: m.to_string(), field: f.to_string(), desc: FN.to_vec() })
            .collect();
        let exports: Vec<Export> =
            exports.iter().enumerate().map(|(i, n)| Export { name: n.to_string(), kind: 0, index: i as u32 }).collect();
        wasm::write(&[
            Section { id: 1, body: vec![1, 0x60, 0, 0] },
            Section { id: IMPORT, body: wasm::imports_body(&imports) },
            Section { id: EXPORT, body: wasm::exports_body(&exports) },
            Section { id: 0, body: b"\x09producers\x00".to_vec() },
        ])
    }

    fn read(shrunk: &Shrunk) -> (Vec<Import>, Vec<Export>, Vec<Section>) {
        let sections = wasm::parse(&shrunk.wasm).unwrap();
        let i = sections.iter().position(|s| s.id == IMPORT).unwrap();
        let e = sections.iter().position(|s| s.id == EXPORT).unwrap();
        (wasm::read_imports(&sections, i).unwrap(), wasm::read_exports(&sections, e).unwrap(), sections)
    }

    const GLUE: &str = r#"
let wasm;
function wasm_bindgen_convert_closures_invoke_true_(a, b) {
    wasm.wasm_bindgen_convert_closures_invoke_true_(a, b);
}
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_appendChild_8204974b7328bf98: function(arg0, arg1) {
            const ptr = passStringToWasm0(arg1, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            return makeMutClosure(arg0, ptr, wasm_bindgen_convert_closures_invoke_true_);
        },
        __wbg_log_0123456789abcdef:function(arg0) { console.log(arg0); },
    };
    return { __proto__: null, "./app_bg.js": import0 };
}
const Finalization = new FinalizationRegistry(ptr => wasm.__wbg_intounderlyingsink_free(ptr >>> 0, 1));
function start() { wasm.__wbindgen_start(); return wasm.memory; }
"#;

    fn glue_module() -> Vec<u8> {
        module(
            &[("./app_bg.js", "__wbg_appendChild_8204974b7328bf98"), ("./app_bg.js", "__wbg_log_0123456789abcdef")],
            &[
                "memory",
                "wasm_bindgen_convert_closures_invoke_true_",
                "__wbindgen_malloc",
                "__wbindgen_realloc",
                "__wbindgen_start",
                "__wbg_intounderlyingsink_free",
            ],
        )
    }

    #[test]
    fn short_names_are_distinct_letters_only() {
        let names: Vec<String> = (0..52 * 53 + 10).map(short_name).collect();
        assert_eq!(&names[..3], ["a", "b", "c"]);
        assert_eq!(names[51], "Z");
        assert_eq!(names[52], "aa");
        assert_eq!(names[52 * 53], "aaa");
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_alphabetic())));
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
    }

    #[test]
    fn imports_and_their_module_get_the_same_short_names_in_module_and_glue() {
        let shrunk = shrink(&glue_module(), GLUE, &Options::default()).unwrap();
        let (imports, _, _) = read(&shrunk);
        assert_eq!(imports.iter().map(|i| (i.module.as_str(), i.field.as_str())).collect::<Vec<_>>(), [("a", "a"), ("a", "b")]);
        assert!(shrunk.js.contains("\n        a: function(arg0, arg1) {"), "{}", shrunk.js);
        assert!(shrunk.js.contains("\n        b:function(arg0)"));
        assert!(shrunk.js.contains(r#""a": import0"#));
        assert!(!shrunk.js.contains("__wbg_appendChild") && !shrunk.js.contains("./app_bg.js"));
        assert_eq!(shrunk.report.imports_renamed, 2);
        assert_eq!(shrunk.report.modules_renamed, 1);
    }

    #[test]
    fn exports_reached_as_properties_are_renamed_and_the_glues_own_functions_kept() {
        let shrunk = shrink(&glue_module(), GLUE, &Options::default()).unwrap();
        let (_, exports, _) = read(&shrunk);
        let names: Vec<&str> = exports.iter().map(|e| e.name.as_str()).collect();
        // `memory` is not distinctive enough to rename; the others are.
        assert_eq!(names, ["memory", "a", "b", "c", "d", "e"]);
        assert_eq!(exports.iter().map(|e| e.index).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
        assert!(shrunk.js.contains("function wasm_bindgen_convert_closures_invoke_true_(a, b) {\n    wasm.a(a, b);"));
        assert!(shrunk.js.contains("makeMutClosure(arg0, ptr, wasm_bindgen_convert_closures_invoke_true_)"));
        assert!(shrunk.js.contains("passStringToWasm0(arg1, wasm.b, wasm.c)"));
        assert!(shrunk.js.contains("wasm.d(); return wasm.memory;"));
        assert_eq!(shrunk.report.exports_renamed, 5);
    }

    #[test]
    fn dropped_exports_leave_the_module_and_nothing_else_changes_for_them() {
        let options = Options { drop_exports: vec!["intounderlying".into()] };
        let shrunk = shrink(&glue_module(), GLUE, &options).unwrap();
        let (_, exports, sections) = read(&shrunk);
        assert!(exports.iter().all(|e| !e.name.contains("intounderlying")));
        assert_eq!(exports.len(), 5);
        assert_eq!(shrunk.report.exports_dropped, ["__wbg_intounderlyingsink_free"]);
        // The glue's (unused) reference to it is left as it was.
        assert!(shrunk.js.contains("ptr => wasm.__wbg_intounderlyingsink_free(ptr >>> 0, 1)"));
        // Other sections are copied as they were.
        assert_eq!(sections[0], Section { id: 1, body: vec![1, 0x60, 0, 0] });
        assert_eq!(sections[3], Section { id: 0, body: b"\x09producers\x00".to_vec() });
    }

    const CLASSES: &str = r#"export class IntoSink {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        IntoSinkFinalization.unregister(this);
        return ptr;
    }
    /**
     * @param {any} chunk (a brace in a comment: {)
     * @returns {Promise<any>}
     */
    write(chunk) {
        const s = "a } in a string";
        return wasm.intosink_write(this.__wbg_ptr, chunk);
    }
    free() { wasm.__wbg_intosink_free(this.__wbg_ptr, 0); }
}
if (Symbol.dispose) IntoSink.prototype[Symbol.dispose] = IntoSink.prototype.free;

export class Kept {
    free() { wasm.__wbg_kept_free(this.__wbg_ptr, 0); wasm.intosink_write(0, 0); }
}
const IntoSinkFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_intosink_free(ptr, 1));
function start() { wasm.__wbindgen_start(); }
"#;

    #[test]
    fn a_class_that_reaches_only_dropped_exports_goes_with_its_registry() {
        let module = module(&[], &["intosink_write", "__wbg_intosink_free", "__wbg_kept_free", "__wbindgen_start"]);
        let shrunk = shrink(&module, CLASSES, &Options { drop_exports: vec!["intosink".into()] }).unwrap();
        assert_eq!(shrunk.report.classes_dropped, ["IntoSink"]);
        assert!(!shrunk.js.contains("IntoSink"), "{}", shrunk.js);
        // The class that also reaches a kept export stays, renamed where it reaches it.
        assert!(shrunk.js.starts_with("\nexport class Kept {\n    free() { wasm.a(this.__wbg_ptr, 0); wasm.intosink_write(0, 0); }\n}\n"), "{}", shrunk.js);
        assert!(shrunk.js.ends_with("}\nfunction start() { wasm.b(); }\n"), "{}", shrunk.js);
        // Nothing dropped, nothing taken out.
        let kept = shrink(&module, CLASSES, &Options::default()).unwrap();
        assert!(kept.report.classes_dropped.is_empty());
        assert!(kept.js.contains("export class IntoSink {") && kept.js.contains("const IntoSinkFinalization"));
    }

    #[test]
    fn a_class_whose_exports_were_never_linked_goes() {
        // Linked without the class's methods and its `free` (scripts/wasm-link): nothing to drop.
        let module = module(&[], &["__wbg_kept_free", "__wbindgen_start"]);
        let shrunk = shrink(&module, CLASSES, &Options::default()).unwrap();
        assert_eq!(shrunk.report.classes_dropped, ["IntoSink"]);
        assert!(shrunk.report.exports_dropped.is_empty());
        assert!(!shrunk.js.contains("IntoSink"), "{}", shrunk.js);
        // `Kept` also reaches `intosink_write`, missing too, but its own `free` is there.
        assert!(shrunk.js.contains("export class Kept {"), "{}", shrunk.js);
    }

    #[test]
    fn a_class_named_elsewhere_in_the_glue_stays() {
        let glue = format!("{CLASSES}function wrap(ptr) {{ return IntoSink.__wrap(ptr); }}\n");
        let module = module(&[], &["intosink_write", "__wbg_intosink_free", "__wbg_kept_free", "__wbindgen_start"]);
        let shrunk = shrink(&module, &glue, &Options { drop_exports: vec!["intosink".into()] }).unwrap();
        assert!(shrunk.report.classes_dropped.is_empty());
        assert!(shrunk.js.contains("export class IntoSink {"));
    }

    #[test]
    fn code_ends_where_its_brackets_close_whatever_strings_and_comments_hold() {
        let js = "{ '}' \"}\" `}` /* } */ // }\n { } } tail";
        assert_eq!(code_end(js, 0, None), Some(js.len() - " tail".len()));
        assert_eq!(code_end("const x = f({ a: 1; }); y;", 0, Some(b';')), Some(23));
        assert_eq!(code_end("{ never closed", 0, None), None);
    }

    #[test]
    fn names_used_in_any_other_way_are_left_as_they_are() {
        let glue = r#"
const imports = { "./app_bg.js": { __wbg_twice_0123456789abcdef: f, __wbg_once_0123456789abcdef: g } };
const again = __wbg_twice_0123456789abcdef;
const quoted = wasm["__wbindgen_quoted_export"];
wasm.__wbindgen_quoted_export();
wasm.__wbindgen_property_export();
"#;
        let module = module(
            &[("./app_bg.js", "__wbg_twice_0123456789abcdef"), ("./app_bg.js", "__wbg_once_0123456789abcdef"), ("env", "other")],
            &["__wbindgen_quoted_export", "__wbindgen_property_export"],
        );
        let shrunk = shrink(&module, glue, &Options::default()).unwrap();
        let (imports, exports, _) = read(&shrunk);
        let fields: Vec<(&str, &str)> = imports.iter().map(|i| (i.module.as_str(), i.field.as_str())).collect();
        // "env" is not in the glue at all; the import used twice keeps its name.
        assert_eq!(fields, [("a", "__wbg_twice_0123456789abcdef"), ("a", "a"), ("env", "other")]);
        assert_eq!(shrunk.report.imports_kept, ["__wbg_twice_0123456789abcdef", "other"]);
        assert_eq!(exports.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["__wbindgen_quoted_export", "a"]);
        assert!(shrunk.js.contains(r#"wasm["__wbindgen_quoted_export"]"#));
        assert!(shrunk.js.contains("wasm.__wbindgen_quoted_export();\nwasm.a();"));
        assert!(shrunk.js.contains(r#"{ "a": { __wbg_twice_0123456789abcdef: f, a: g } }"#));
    }

    #[test]
    fn a_name_inside_a_longer_identifier_is_not_an_occurrence() {
        assert_eq!(occurrences("x.abc_def; abc_defg; _abc_def; abc_def$; (abc_def)", "abc_def"), [2, 42]);
    }

    #[test]
    fn a_short_name_already_taken_is_not_handed_out_again() {
        let module = module(&[("m", "a"), ("m", "__wbg_long_name_1234")], &[]);
        let shrunk = shrink(&module, r#"x = { "m": { a: f, __wbg_long_name_1234: g } }"#, &Options::default()).unwrap();
        let (imports, _, _) = read(&shrunk);
        // "a" is not a name wasm-bindgen made, so it stays, and the long name does not take it.
        let fields: Vec<&str> = imports.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["a", "b"]);
        assert_eq!(shrunk.js, r#"x = { "a": { a: f, b: g } }"#);
    }

    #[test]
    fn an_import_from_a_module_the_glue_does_not_provide_keeps_its_name() {
        // A snippet module's export whose name happens to be a key in the glue, once.
        let glue = r#"
const settings = { __wbg_fromsnippet_0123456789abcdef: 1 };
return { "./app_bg.js": { __wbg_log_0123456789abcdef: f } };
"#;
        let module = module(
            &[("./snippets/x.js", "__wbg_fromsnippet_0123456789abcdef"), ("./app_bg.js", "__wbg_log_0123456789abcdef")],
            &[],
        );
        let shrunk = shrink(&module, glue, &Options::default()).unwrap();
        let (imports, _, _) = read(&shrunk);
        let fields: Vec<(&str, &str)> = imports.iter().map(|i| (i.module.as_str(), i.field.as_str())).collect();
        assert_eq!(fields, [("./snippets/x.js", "__wbg_fromsnippet_0123456789abcdef"), ("a", "a")]);
        assert!(shrunk.js.contains("const settings = { __wbg_fromsnippet_0123456789abcdef: 1 };"));
        assert!(shrunk.js.contains(r#"return { "a": { a: f } };"#));
    }

    #[test]
    fn the_same_import_twice_gets_one_name_and_one_edit() {
        let glue = r#"return { "./app_bg.js": { __wbg_log_0123456789abcdef: f } };"#;
        let module = module(&[("./app_bg.js", "__wbg_log_0123456789abcdef"), ("./app_bg.js", "__wbg_log_0123456789abcdef")], &[]);
        let shrunk = shrink(&module, glue, &Options::default()).unwrap();
        let (imports, _, _) = read(&shrunk);
        assert!(imports.iter().all(|i| i.module == "a" && i.field == "a"));
        assert_eq!(shrunk.js, r#"return { "a": { a: f } };"#);
    }

    #[test]
    fn a_dropped_exports_name_is_not_handed_to_another() {
        // The glue still names the dropped export "a" (in code it never runs): no renamed export
        // may take that name.
        let glue = "wasm.a(); wasm.__wbindgen_free_one(); wasm.__wbindgen_print_it();";
        let module = module(&[], &["a", "__wbindgen_free_one", "__wbindgen_print_it"]);
        let shrunk = shrink(&module, glue, &Options { drop_exports: vec!["a".into()] }).unwrap();
        let (_, exports, _) = read(&shrunk);
        assert_eq!(exports.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(shrunk.js, "wasm.a(); wasm.b(); wasm.c();");
    }
}
