//! Just enough of the WebAssembly binary format to read and rewrite a module's imports, exports
//! and custom sections; every other section is copied byte for byte.

use std::fmt;

const HEADER: &[u8] = b"\0asm\x01\0\0\0";
pub const IMPORT: u8 = 2;
pub const EXPORT: u8 = 7;

/// What is wrong with a module, and where (a byte offset into it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a WebAssembly module this tool reads: {} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for Malformed {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub id: u8,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub module: String,
    pub field: String,
    /// The import's kind and type, kept as they are.
    pub desc: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    pub kind: u8,
    pub index: u32,
}

/// A cursor over a byte slice that knows its offset in the whole module, for error messages.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Self {
        Reader { bytes, at: 0, base }
    }

    fn fail<T>(&self, what: &'static str) -> Result<T, Malformed> {
        Err(Malformed { offset: self.base + self.at, what })
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn byte(&mut self) -> Result<u8, Malformed> {
        match self.bytes.get(self.at) {
            Some(&b) => {
                self.at += 1;
                Ok(b)
            }
            None => self.fail("unexpected end"),
        }
    }

    /// An unsigned LEB128 number of up to 64 bits (memory64 limits are the widest).
    fn leb(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.fail("number too long")
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        let at = self.at;
        let v = self.leb()?;
        u32::try_from(v).map_err(|_| Malformed { offset: self.base + at, what: "number too large" })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.bytes.len() - self.at < n {
            return self.fail("unexpected end");
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn name(&mut self) -> Result<String, Malformed> {
        let n = self.u32()? as usize;
        let at = self.at;
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec()).map_err(|_| Malformed { offset: self.base + at, what: "name not UTF-8" })
    }

    /// Table and memory limits: a flag byte (bit 0: a maximum follows), then the bounds.
    fn limits(&mut self) -> Result<(), Malformed> {
        let flags = self.byte()?;
        if flags > 7 {
            return self.fail("unknown limits");
        }
        self.leb()?;
        if flags & 1 == 1 {
            self.leb()?;
        }
        Ok(())
    }

    /// A value or reference type in its one-byte form (numbers, vectors, funcref, externref).
    fn simple_type(&mut self) -> Result<(), Malformed> {
        match self.byte()? {
            0x7f | 0x7e | 0x7d | 0x7c | 0x7b | 0x70 | 0x6f => Ok(()),
            _ => {
                self.at -= 1;
                self.fail("a type this tool does not read")
            }
        }
    }
}

pub fn write_leb(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn write_name(out: &mut Vec<u8>, name: &str) {
    write_leb(out, name.len() as u64);
    out.extend_from_slice(name.as_bytes());
}

pub fn parse(module: &[u8]) -> Result<Vec<Section>, Malformed> {
    if !module.starts_with(HEADER) {
        return Err(Malformed { offset: 0, what: "no WebAssembly version 1 header" });
    }
    let mut r = Reader::new(&module[HEADER.len()..], HEADER.len());
    let mut sections = Vec::new();
    while !r.done() {
        let id = r.byte()?;
        let len = r.u32()? as usize;
        let body = r.take(len)?.to_vec();
        sections.push(Section { id, body });
    }
    Ok(sections)
}

pub fn write(sections: &[Section]) -> Vec<u8> {
    let mut out = HEADER.to_vec();
    for s in sections {
        out.push(s.id);
        write_leb(&mut out, s.body.len() as u64);
        out.extend_from_slice(&s.body);
    }
    out
}

/// Where a section's body starts in the module, for error offsets.
fn body_offset(sections: &[Section], index: usize) -> usize {
    // Each section: its id, its length in LEB128, its body.
    let head = |s: &Section| {
        let mut len = Vec::new();
        write_leb(&mut len, s.body.len() as u64);
        1 + len.len()
    };
    HEADER.len() + sections[..index].iter().map(|s| head(s) + s.body.len()).sum::<usize>() + head(&sections[index])
}

pub fn read_imports(sections: &[Section], index: usize) -> Result<Vec<Import>, Malformed> {
    let mut r = Reader::new(&sections[index].body, body_offset(sections, index));
    let count = r.u32()?;
    // Not `with_capacity(count)`: the count is the module's word, and may be absurd.
    let mut imports = Vec::new();
    for _ in 0..count {
        let module = r.name()?;
        let field = r.name()?;
        let start = r.at;
        match r.byte()? {
            0x00 => {
                r.u32()?;
            }
            0x01 => {
                r.simple_type()?;
                r.limits()?;
            }
            0x02 => r.limits()?,
            0x03 => {
                r.simple_type()?;
                r.byte()?;
            }
            0x04 => {
                r.byte()?;
                r.u32()?;
            }
            _ => {
                r.at -= 1;
                return r.fail("unknown import kind");
            }
        }
        imports.push(Import { module, field, desc: r.bytes[start..r.at].to_vec() });
    }
    if !r.done() {
        return r.fail("bytes after the last import");
    }
    Ok(imports)
}

pub fn imports_body(imports: &[Import]) -> Vec<u8> {
    let mut out = Vec::new();
    write_leb(&mut out, imports.len() as u64);
    for i in imports {
        write_name(&mut out, &i.module);
        write_name(&mut out, &i.field);
        out.extend_from_slice(&i.desc);
    }
    out
}

pub fn read_exports(sections: &[Section], index: usize) -> Result<Vec<Export>, Malformed> {
    let mut r = Reader::new(&sections[index].body, body_offset(sections, index));
    let count = r.u32()?;
    let mut exports = Vec::new();
    for _ in 0..count {
        let name = r.name()?;
        let kind = r.byte()?;
        let index = r.u32()?;
        exports.push(Export { name, kind, index });
    }
    if !r.done() {
        return r.fail("bytes after the last export");
    }
    Ok(exports)
}

pub fn exports_body(exports: &[Export]) -> Vec<u8> {
    let mut out = Vec::new();
    write_leb(&mut out, exports.len() as u64);
    for e in exports {
        write_name(&mut out, &e.name);
        out.push(e.kind);
        write_leb(&mut out, u64::from(e.index));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_through_leb128() {
        for n in [0u64, 1, 127, 128, 300, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut bytes = Vec::new();
            write_leb(&mut bytes, n);
            let mut r = Reader::new(&bytes, 0);
            assert_eq!(r.leb().unwrap(), n);
            assert!(r.done());
        }
    }

    #[test]
    fn a_truncated_module_is_an_error_with_its_offset() {
        let mut module = HEADER.to_vec();
        module.extend_from_slice(&[IMPORT, 10, 1]);
        let err = parse(&module).unwrap_err();
        assert_eq!(err, Malformed { offset: 10, what: "unexpected end" });
        assert_eq!(parse(b"\0asm\x02\0\0\0").unwrap_err().offset, 0);
    }

    #[test]
    fn every_import_kind_is_read_and_written_back_the_same() {
        let imports = vec![
            Import { module: "m".into(), field: "f".into(), desc: vec![0x00, 0x85, 0x01] },
            Import { module: "m".into(), field: "table".into(), desc: vec![0x01, 0x6f, 0x01, 0x80, 0x08, 0x80, 0x80, 0x04] },
            Import { module: "m".into(), field: "memory".into(), desc: vec![0x02, 0x00, 0x11] },
            Import { module: "m".into(), field: "global".into(), desc: vec![0x03, 0x7f, 0x01] },
            Import { module: "m".into(), field: "tag".into(), desc: vec![0x04, 0x00, 0x02] },
        ];
        let sections = vec![Section { id: IMPORT, body: imports_body(&imports) }];
        let again = parse(&write(&sections)).unwrap();
        assert_eq!(read_imports(&again, 0).unwrap(), imports);
    }

    #[test]
    fn an_absurd_count_is_an_error_not_an_allocation() {
        let mut body = Vec::new();
        write_leb(&mut body, u64::from(u32::MAX));
        let sections = vec![Section { id: 1, body: vec![0] }, Section { id: IMPORT, body: body.clone() }, Section { id: EXPORT, body }];
        let err = read_imports(&sections, 1).unwrap_err();
        // header 8, the first section 3 bytes, this one's id and length 2, the count 5
        assert_eq!(err, Malformed { offset: 8 + 3 + 2 + 5, what: "unexpected end" });
        assert_eq!(read_exports(&sections, 2).unwrap_err().offset, 8 + 3 + 7 + 2 + 5);
    }

    #[test]
    fn an_import_of_a_kind_it_does_not_know_is_refused() {
        let mut body = Vec::new();
        write_leb(&mut body, 1);
        write_name(&mut body, "m");
        write_name(&mut body, "f");
        body.push(0x09);
        let sections = vec![Section { id: IMPORT, body }];
        let err = read_imports(&sections, 0).unwrap_err();
        assert_eq!(err.what, "unknown import kind");
        // header 8, section id and length 2, count 1, two names of 2 bytes each
        assert_eq!(err.offset, 8 + 2 + 1 + 4);
    }
}
