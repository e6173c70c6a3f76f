//! `wasm-shrink`: the command line of the release build step in `lib.rs`.

use std::process::ExitCode;

const HELP: &str = "\
wasm-shrink: shortens the names a wasm-bindgen module and its JS glue share, and drops exports
the page does not use, with the glue's classes that only they serve. Run on wasm-bindgen's
output before wasm-opt (scripts/minify-dist does), so that wasm-opt then removes the code only
the dropped exports kept.

Usage: wasm-shrink [--drop-export TEXT]... MODULE.wasm GLUE.js
       wasm-shrink --gzip FILE...

Both files are rewritten in place, or left untouched on an error.

  --drop-export TEXT   drop every export whose name contains TEXT (repeatable)
  --gzip FILE...       write each FILE gzip'd beside it, FILE.gz, as small as zopfli makes
                       it (a gzip any browser reads, some 4 % smaller than gzip -9's)
  -h, --help           this text
";

fn main() -> ExitCode {
    let mut options = furniture_wasm_shrink::Options::default();
    let mut files = Vec::new();
    if std::env::args().nth(1).as_deref() == Some("--gzip") {
        let files: Vec<String> = std::env::args().skip(2).collect();
        if files.is_empty() {
            return usage("--gzip needs the files to compress");
        }
        for file in &files {
            if let Err(e) = gzip(file) {
                eprintln!("wasm-shrink: {file}: {e}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
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

/// Writes `file.gz` beside `file` (through a temporary name: never a half-written `.gz`).
fn gzip(file: &str) -> std::io::Result<()> {
    let data = std::fs::read(file)?;
    let mut out = Vec::with_capacity(data.len() / 2);
    zopfli::compress(zopfli::Options::default(), zopfli::Format::Gzip, data.as_slice(), &mut out)?;
    let part = format!("{file}.gz.part");
    std::fs::write(&part, &out)?;
    std::fs::rename(&part, format!("{file}.gz"))?;
    println!("wasm-shrink: {file}: {} -> {} bytes gzip'd", data.len(), out.len());
    Ok(())
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

#[cfg(test)]
mod tests {
    /// What `--gzip` writes is a gzip file that gives back the very bytes, smaller than they are.
    #[test]
    fn a_gzipped_file_reads_back_the_same() {
        let dir = std::env::temp_dir().join(format!("wasm-shrink-gzip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("glue.js");
        let text: String = (0..2_000).map(|i| format!("export function f{i}(x) {{ return x + {i}; }}\n")).collect();
        std::fs::write(&file, &text).unwrap();
        super::gzip(file.to_str().unwrap()).unwrap();
        let gz = std::fs::read(dir.join("glue.js.gz")).unwrap();
        assert_eq!(gz[..2], [0x1f, 0x8b], "a gzip header");
        assert!(gz.len() < text.len() / 4, "{} bytes of {}", gz.len(), text.len());
        assert!(!dir.join("glue.js.gz.part").exists());
        let back = std::process::Command::new("gzip").arg("-dc").arg(dir.join("glue.js.gz")).output().unwrap();
        assert!(back.status.success());
        assert_eq!(back.stdout, text.as_bytes());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
