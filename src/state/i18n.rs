//! The dashboard's languages: Spanish (the default, like the data) and English.

/// A language of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Lang {
    #[default]
    Es,
    En,
}

impl Lang {
    /// From `?lang=`: `es` or `en` (and `es-ES`, `en-GB`, ...); anything else is Spanish.
    pub fn parse(s: &str) -> Lang {
        if s.trim().to_ascii_lowercase().starts_with("en") { Lang::En } else { Lang::Es }
    }

    /// The `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// Picks the text of this language.
    pub fn t(self, es: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Es => es,
            Lang::En => en,
        }
    }

    /// `n` with the singular or plural word: `1 pantalla`, `3 screens`.
    pub fn count(self, n: u64, es: (&str, &str), en: (&str, &str)) -> String {
        self.count_shown(n, &n.to_string(), es, en)
    }

    /// As [`Lang::count`], with `n` already formatted for display (`1.234 muebles`).
    pub fn count_shown(self, n: u64, shown: &str, es: (&str, &str), en: (&str, &str)) -> String {
        let (one, many) = if self == Lang::Es { es } else { en };
        format!("{shown} {}", if n == 1 { one } else { many })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_and_plurals() {
        assert_eq!(Lang::parse("en"), Lang::En);
        assert_eq!(Lang::parse("EN-gb"), Lang::En);
        assert_eq!(Lang::parse("fr"), Lang::Es);
        assert_eq!(Lang::En.count(1, ("pantalla", "pantallas"), ("screen", "screens")), "1 screen");
        assert_eq!(Lang::Es.count(3, ("pantalla", "pantallas"), ("screen", "screens")), "3 pantallas");
    }
}
