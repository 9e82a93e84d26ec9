//! The manual quotes core's numbers only through docs/src/generated/, which these tests
//! keep equal to what core computes now (insta-style: `cargo xtask book-tables`, or this
//! test with `GPU_SESSION_UPDATE_BOOK=1`, rewrites them; review the diff like a snapshot).

#[allow(dead_code)]
mod book;

use std::path::{Path, PathBuf};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("docs")
        .join("src")
}

/// The first line where `old` and `new` differ, for the failure message.
fn first_difference(old: &str, new: &str) -> String {
    let (mut a, mut b) = (old.lines(), new.lines());
    for n in 1.. {
        match (a.next(), b.next()) {
            (None, None) => break,
            (x, y) if x == y => continue,
            (x, y) => {
                return format!(
                    "line {n}:\n  checked in: {}\n  core now:   {}",
                    x.unwrap_or("(end of file)"),
                    y.unwrap_or("(end of file)")
                )
            }
        }
    }
    "only in line endings".into()
}

#[test]
fn the_generated_tables_of_the_manual_match_core() {
    let dir = docs().join("generated");
    let update = std::env::var_os("GPU_SESSION_UPDATE_BOOK").is_some();
    let mut stale = Vec::new();
    for (name, text) in book::tables::all() {
        let path = dir.join(&name);
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        if checked_in == text {
            continue;
        }
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else {
            stale.push(format!("{name}: {}", first_difference(&checked_in, &text)));
        }
    }
    assert!(
        stale.is_empty(),
        "docs/src/generated/ is out of date; run `cargo xtask book-tables` and review the diff:\n{}",
        stale.join("\n")
    );
}

/// Every `{{#include PATH}}` of every chapter names a file that exists (mdBook only warns
/// about a missing one), and an include of an insta snapshot skips exactly its header.
#[test]
fn every_include_names_a_file() {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(docs()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let chapter = std::fs::read_to_string(&path).unwrap();
        for (at, _) in chapter.match_indices("{{#include ") {
            // `\{{#include` is an escaped, literal one.
            if chapter[..at].ends_with('\\') {
                continue;
            }
            let rest = &chapter[at + "{{#include ".len()..];
            let target = rest.split("}}").next().unwrap_or_default();
            let (file, lines) = target.split_once(':').unwrap_or((target, ""));
            let file = docs().join(file.trim());
            let Ok(text) = std::fs::read_to_string(&file) else {
                missing.push(format!("{}: {}", path.display(), file.display()));
                continue;
            };
            if file.extension().is_some_and(|e| e == "snap") {
                // insta's header is the lines up to the second `---`.
                let header = text.lines().position(|l| l == "---").and_then(|first| {
                    text.lines()
                        .skip(first + 1)
                        .position(|l| l == "---")
                        .map(|n| first + n + 2)
                });
                assert_eq!(
                    lines,
                    format!("{}:", header.unwrap_or(0) + 1),
                    "{}: include {} from the line after its header",
                    path.display(),
                    file.display()
                );
            }
        }
    }
    assert!(missing.is_empty(), "includes of missing files: {missing:?}");
}

/// Every generated file is included by some chapter, so nothing generated goes unread.
#[test]
fn every_generated_table_is_included_in_a_chapter() {
    let mut chapters = String::new();
    for entry in std::fs::read_dir(docs()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            chapters.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    for (name, _) in book::tables::all() {
        let include = format!("{{{{#include generated/{name}}}}}");
        assert!(chapters.contains(&include), "no chapter has {include}");
    }
}

/// Every constant-like name in "How the numbers are computed" (`UPPER_SNAKE`, bare in a
/// formula or as `module::NAME`) is one the generated tables list, so a renamed or
/// removed constant cannot linger in the prose.
#[test]
fn the_estimates_chapter_names_only_listed_constants() {
    let chapter = std::fs::read_to_string(docs().join("estimates.md")).unwrap();
    let listed: Vec<String> = book::tables::constant_groups()
        .into_iter()
        .flat_map(|(_, list)| list.into_iter().map(|c| c.name.to_owned()))
        .collect();
    let unknown = unlisted_constants(&chapter, &listed);
    assert!(
        unknown.is_empty(),
        "estimates.md names constants the generated tables do not list: {unknown:?}"
    );
    // The check itself: a made-up name and a wrong module are both caught.
    assert_eq!(
        unlisted_constants(
            "`serving::NOT_A_CONSTANT` and recommend::CUDA_CONTEXT_MIB",
            &listed
        ),
        ["serving::NOT_A_CONSTANT", "recommend::CUDA_CONTEXT_MIB"]
    );
}

/// The constant-like words of `text` that `listed` (full `module::NAME`s) lacks.
fn unlisted_constants(text: &str, listed: &[String]) -> Vec<String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    text.split(|c: char| !is_name_char(c))
        .map(|word| word.trim_matches(':'))
        .filter(|word| {
            let name = word.rsplit("::").next().unwrap_or(word);
            name.len() > 3
                && name.contains('_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .filter(|word| {
            !listed
                .iter()
                .any(|l| l == word || (!word.contains("::") && l.rsplit("::").next() == Some(word)))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_listed_constant_says_where_it_comes_from() {
    for (_, list) in book::tables::constant_groups() {
        for c in list {
            let short = c.name.rsplit("::").next().unwrap();
            assert!(
                book::tables::doc_comment(c.file, short).len() > 10,
                "{}",
                c.name
            );
        }
    }
}
