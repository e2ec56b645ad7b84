//! Small HTML helpers: escaping and the page layout every view shares.

use std::fmt::Write as _;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A whole page: head with the shared stylesheet, a navigation bar, `body` and the module
/// scripts named in `scripts` (served under `/ui/assets/`).
pub fn page(title: &str, body: &str, scripts: &[&str]) -> String {
    let mut s = String::with_capacity(body.len() + 1024);
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><link rel=\"stylesheet\" href=\"/ui/assets/style.css\"></head><body>\
<nav><a class=\"brand\" href=\"/ui/\">Shinrai</a> <a href=\"/ui/\">Explorer</a> \
<a href=\"/ui/chain\">Supply chain</a> <a href=\"/ui/device\">Devices</a> \
<a href=\"/ui/monitor\">Monitoring</a></nav><main>",
        esc(title)
    );
    s.push_str(body);
    s.push_str("</main>");
    for sc in scripts {
        let _ = write!(
            s,
            "<script type=\"module\" src=\"/ui/assets/{}\"></script>",
            esc(sc)
        );
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
