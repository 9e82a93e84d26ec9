//! The manual: building it with mdBook and checking that every link in the built
//! HTML (the book's and the site's links into it) resolves, offline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// One link that does not resolve: the page it is on, the link as written, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub page: PathBuf,
    pub link: String,
    pub problem: String,
}

impl std::fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.page.display(),
            self.link,
            self.problem
        )
    }
}

/// Pages the check skips: mdBook's 404 page resolves its links against
/// `<base href="/">`, the deployment's root, which a folder on disk does not know.
const SKIPPED_PAGES: [&str; 1] = ["404.html"];

/// Every `.html` file under `root`, sorted.
fn html_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The values of every `name="..."` (or `name='...'`) attribute in `html`, entities
/// `&amp;` and `&quot;` decoded.
fn attribute_values<'a>(html: &'a str, name: &'a str) -> impl Iterator<Item = String> + 'a {
    let mut rest = html;
    std::iter::from_fn(move || loop {
        let at = rest.find(name)?;
        let before = rest[..at].chars().next_back();
        rest = &rest[at + name.len()..];
        // ` href=` but not `data-href=`.
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let Some(after_eq) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let after_eq = after_eq.trim_start();
        let Some(quote) = after_eq.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let value = &after_eq[1..];
        let end = value.find(quote)?;
        rest = &value[end..];
        return Some(value[..end].replace("&quot;", "\"").replace("&amp;", "&"));
    })
}

/// `%20`-style escapes decoded (mdBook writes anchors and paths in ASCII, but a
/// hand-written link may escape them).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a link leaves the site (a scheme such as `https:` or `mailto:`) and so is
/// not checked: the check is offline.
fn is_external(link: &str) -> bool {
    link.starts_with("//")
        || link.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        })
}

/// `path` with `.` and `..` resolved, or `None` when it climbs above its start.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// Check every `href` and `src` in the HTML under `root`: the file a relative link
/// names must exist under `root` (a folder stands for its `index.html`), and its
/// `#fragment`, if any, must be an `id` (or `name`) in that file.
pub fn broken_links(root: &Path) -> std::io::Result<Vec<BrokenLink>> {
    let pages = html_files(root)?;
    let mut anchors: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut texts = Vec::new();
    for page in &pages {
        let html = std::fs::read_to_string(page)?;
        let relative = page.strip_prefix(root).unwrap_or(page).to_path_buf();
        let ids = attribute_values(&html, "id")
            .chain(attribute_values(&html, "name"))
            .collect();
        anchors.insert(relative.clone(), ids);
        texts.push((relative, html));
    }
    let mut broken = Vec::new();
    for (page, html) in &texts {
        if SKIPPED_PAGES
            .iter()
            .any(|skip| page.file_name().is_some_and(|n| n == *skip))
        {
            continue;
        }
        let links = attribute_values(html, "href").chain(attribute_values(html, "src"));
        for link in links {
            if let Some(problem) = link_problem(root, page, &link, &anchors) {
                broken.push(BrokenLink {
                    page: page.clone(),
                    link,
                    problem,
                });
            }
        }
    }
    Ok(broken)
}

/// Why `link` on `page` (relative to `root`) does not resolve, or `None` when it does.
fn link_problem(
    root: &Path,
    page: &Path,
    link: &str,
    anchors: &BTreeMap<PathBuf, BTreeSet<String>>,
) -> Option<String> {
    if link.is_empty() || is_external(link) {
        return None;
    }
    let (target, fragment) = match link.split_once('#') {
        Some((t, f)) => (t, Some(percent_decode(f))),
        None => (link, None),
    };
    let target = target.split('?').next().unwrap_or_default();
    if target.starts_with('/') {
        return Some("a root-absolute link breaks when the site is served from a subpath".into());
    }
    let file = if target.is_empty() {
        page.to_path_buf()
    } else {
        let joined = page
            .parent()
            .unwrap_or(Path::new(""))
            .join(percent_decode(target));
        let Some(mut file) = normalize(&joined) else {
            return Some("climbs out of the site".into());
        };
        if target.ends_with('/') || root.join(&file).is_dir() {
            file.push("index.html");
        }
        if !root.join(&file).is_file() {
            return Some(format!("no file {}", file.display()));
        }
        file
    };
    let fragment = fragment.filter(|f| !f.is_empty())?;
    match anchors.get(&file) {
        // Only HTML pages have anchors to check.
        None => None,
        Some(ids) if ids.contains(&fragment) => None,
        Some(_) => Some(format!("no id \"{fragment}\" in {}", file.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system's temporary directory for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("book/cli")).unwrap();
        dir
    }

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::write(dir.join(file), text).unwrap();
    }

    #[test]
    fn resolves_files_folders_and_anchors_and_reports_the_rest() {
        let dir = scratch("links");
        write(
            &dir,
            "index.html",
            r##"<a href="book/estimates.html#kv-cache">f</a> <a href='book/'>b</a>
               <a href="https://example.invalid/x">out</a> <a data-href="nowhere.html">d</a>
               <img src="logo.png"> <a href="book/estimates.html#missing">m</a>
               <a href="book/gone.html">g</a> <a href="#top">t</a> <p id="top"></p>"##,
        );
        write(&dir, "logo.png", "");
        write(
            &dir,
            "book/index.html",
            r#"<a href="cli/models.html?x=1&amp;y=2#list">c</a> <a href="../../etc/passwd">up</a>
               <a href="/book/index.html">abs</a> <a href="mailto:someone@example.invalid">mail</a>"#,
        );
        write(&dir, "book/estimates.html", r#"<h2 id="kv-cache">KV</h2>"#);
        write(&dir, "book/cli/models.html", r#"<h2 id="list">L</h2>"#);
        write(
            &dir,
            "book/404.html",
            r#"<base href="/"><a href="nowhere.html">x</a>"#,
        );
        let broken = broken_links(&dir).unwrap();
        let shown: Vec<String> = broken
            .iter()
            .map(|b| format!("{} {}", b.page.display(), b.link))
            .collect();
        assert_eq!(
            shown,
            [
                "book/index.html ../../etc/passwd",
                "book/index.html /book/index.html",
                "index.html book/estimates.html#missing",
                "index.html book/gone.html",
            ]
        );
        assert!(
            broken[2].problem.contains("no id \"missing\""),
            "{}",
            broken[2]
        );
        assert!(
            broken[3].problem.contains("no file book/gone.html"),
            "{}",
            broken[3]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_anchor_on_the_same_page_is_broken() {
        let dir = scratch("self");
        write(
            &dir,
            "index.html",
            r##"<a href="#nope">x</a><a href="#%C3%A9t%C3%A9">y</a><h1 id="été"></h1>"##,
        );
        let broken = broken_links(&dir).unwrap();
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert_eq!(broken[0].link, "#nope");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_attributes_with_either_quote_and_decodes_entities() {
        let html = r#"<a class="x" href="a.html?p=1&amp;q=2">.</a><a href = 'b.html'>.</a><i data-id="no"></i><i id="yes"></i>"#;
        let hrefs: Vec<String> = attribute_values(html, "href").collect();
        assert_eq!(hrefs, ["a.html?p=1&q=2", "b.html"]);
        let ids: Vec<String> = attribute_values(html, "id").collect();
        assert_eq!(ids, ["yes"]);
        assert!(is_external("https://x") && is_external("mailto:a") && is_external("//cdn"));
        assert!(!is_external("book/a.html") && !is_external("#x"));
    }
}
