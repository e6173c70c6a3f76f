//! `wasm-shrink`: the command line of the release build step in `lib.rs`.

use std::process::ExitCode;

const HELP: &str = "\
wasm-shrink: shortens the names a wasm-bindgen module and its JS glue share, and drops exports
the page does not use, with the glue's classes that only they serve. Run on wasm-bindgen's
output before wasm-opt (scripts/minify-dist does), so that wasm-opt then removes the code only
the dropped exports kept.

Usage: wasm-shrink [--drop-export TEXT]... MODULE.wasm GLUE.js

Both files are rewritten in place, or left untouched on an error.

  --drop-export TEXT   drop every export whose name contains TEXT (repeatable)
  -h, --help           this text
";

fn main() -> ExitCode {
    let mut options = furniture_wasm_shrink::Options::default();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--drop-export" => match args.next() {
                Some(text) if !text.is_empty() => options.drop_exports.push(text),
                _ => return usage("--drop-export needs a non-empty TEXT"),
            },
            s if s.starts_with('-') => return usage(&format!("unknown option {s}")),
            _ => files.push(arg),
        }
    }
    let [module_path, glue_path] = files.as_slice() else {
        return usage("give the module and its glue");
    };
    match run(module_path, glue_path, &options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasm-shrink: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("wasm-shrink: {problem}\n\n{HELP}");
    ExitCode::from(2)
}

fn run(module_path: &str, glue_path: &str, options: &furniture_wasm_shrink::Options) -> Result<(), String> {
    let module = std::fs::read(module_path).map_err(|e| format!("{module_path}: {e}"))?;
    let glue = std::fs::read_to_string(glue_path).map_err(|e| format!("{glue_path}: {e}"))?;
    let shrunk = furniture_wasm_shrink::shrink(&module, &glue, options).map_err(|e| format!("{module_path}: {e}"))?;
    let r = &shrunk.report;
    for text in &options.drop_exports {
        if !r.exports_dropped.iter().any(|name| name.contains(text.as_str())) {
            println!("wasm-shrink: no export contains {text:?} to drop (left out when linked, see scripts/wasm-link)");
        }
    }
    std::fs::write(module_path, &shrunk.wasm).map_err(|e| format!("{module_path}: {e}"))?;
    std::fs::write(glue_path, &shrunk.js).map_err(|e| format!("{glue_path}: {e}"))?;
    println!(
        "wasm-shrink: {} of {} imports renamed ({} modules), {} exports renamed, {} dropped, {} glue classes with them; module {} -> {} bytes, glue {} -> {} bytes",
        r.imports_renamed,
        r.imports_renamed + r.imports_kept.len(),
        r.modules_renamed,
        r.exports_renamed,
        r.exports_dropped.len(),
        r.classes_dropped.len(),
        module.len(),
        shrunk.wasm.len(),
        glue.len(),
        shrunk.js.len()
    );
    if !r.imports_kept.is_empty() {
        println!("wasm-shrink: imports kept as they were: {}", r.imports_kept.join(", "));
    }
    Ok(())
}
