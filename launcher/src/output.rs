//! Everything the CLI prints: results on stdout, notes, warnings and prompts on stderr,
//! colour only where it helps, aligned tables, and quiet handling of a closed pipe.

use crate::cli::ColorChoice;
use anyhow::Context as _;
use serde::Serialize;
use std::fmt::Write as _;
use std::io::{self, BufRead, IsTerminal, Write};

/// How a piece of text is highlighted when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    #[default]
    Plain,
    Bold,
    Dim,
    Green,
    Yellow,
    Red,
}

impl Style {
    fn ansi(self) -> Option<&'static str> {
        match self {
            Style::Plain => None,
            Style::Bold => Some("1"),
            Style::Dim => Some("2"),
            Style::Green => Some("32"),
            Style::Yellow => Some("33"),
            Style::Red => Some("31"),
        }
    }

    /// `text` wrapped in this style's escape codes, or as is when `color` is off.
    pub fn paint(self, text: &str, color: bool) -> String {
        match self.ansi() {
            Some(code) if color => format!("\x1b[{code}m{text}\x1b[0m"),
            _ => text.to_string(),
        }
    }
}

/// Whether to colour a stream: `--color always/never`, else only a terminal, and never
/// when `NO_COLOR` is set to anything non-empty or `TERM=dumb`.
fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
            is_terminal && !no_color && !dumb
        }
    }
}

/// Writes results to stdout and messages to stderr, honouring `--quiet`, `--verbose`
/// and `--color`.
#[derive(Debug, Clone)]
pub struct Printer {
    quiet: bool,
    verbose: bool,
    color_out: bool,
    color_err: bool,
}

impl Printer {
    pub fn new(quiet: bool, verbose: bool, color: ColorChoice) -> Printer {
        Printer {
            quiet,
            verbose,
            color_out: use_color(color, io::stdout().is_terminal()),
            color_err: use_color(color, io::stderr().is_terminal()),
        }
    }

    /// No colour, normal verbosity: for tests and for rendering to files.
    pub fn plain() -> Printer {
        Printer {
            quiet: false,
            verbose: false,
            color_out: false,
            color_err: false,
        }
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    /// Whether text for stdout may carry colour.
    pub fn color(&self) -> bool {
        self.color_out
    }

    /// `text` styled for stdout.
    pub fn paint(&self, style: Style, text: &str) -> String {
        style.paint(text, self.color_out)
    }

    /// Write a result to stdout. A closed pipe (`gpu-session models | head -1`) ends the
    /// process quietly with status 0; other write failures are errors.
    pub fn out(&self, text: &str) -> anyhow::Result<()> {
        let mut stdout = io::stdout().lock();
        let written = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
        match written {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
            other => other.context("cannot write to standard output"),
        }
    }

    /// Pretty JSON and a newline on stdout.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value).context("cannot encode JSON")?;
        text.push('\n');
        self.out(&text)
    }

    /// A progress or confirmation message on stderr; hidden by `--quiet`.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            write_stderr(message);
        }
    }

    /// Extra detail on stderr, shown only with `--verbose`.
    pub fn detail(&self, message: &str) {
        if self.verbose {
            write_stderr(&Style::Dim.paint(message, self.color_err));
        }
    }

    /// `warning: ...` on stderr, shown even with `--quiet`.
    pub fn warn(&self, message: &str) {
        let label = Style::Yellow.paint("warning:", self.color_err);
        write_stderr(&format!("{label} {message}"));
    }
}

/// Text from elsewhere (an instance's log and phase, an API's error message) as it
/// may be printed: control characters other than newline and tab are dropped, so
/// remote text cannot move the cursor, recolour or retitle the user's terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// One line on stderr. Failures (stderr closed) are ignored: there is nowhere to report them.
fn write_stderr(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Whether standard input is a terminal a person can answer prompts on.
pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// Ask a question on `output` and read one answer line from `input`; an empty answer
/// takes `default`. End of input is an error (nobody is there to answer).
pub fn ask(
    input: &mut impl BufRead,
    output: &mut impl Write,
    question: &str,
    default: Option<&str>,
) -> anyhow::Result<String> {
    match default {
        Some(d) => write!(output, "{question} [{d}]: "),
        None => write!(output, "{question}: "),
    }
    .and_then(|()| output.flush())
    .context("cannot write the prompt")?;
    let mut line = String::new();
    let read = input
        .read_line(&mut line)
        .context("cannot read the answer")?;
    if read == 0 {
        anyhow::bail!("no answer to '{question}' (end of input)");
    }
    let answer = line.trim();
    Ok(match (answer.is_empty(), default) {
        (true, Some(d)) => d.to_string(),
        _ => answer.to_string(),
    })
}

/// A yes/no question whose default is No.
pub fn confirm(
    input: &mut impl BufRead,
    output: &mut impl Write,
    question: &str,
) -> anyhow::Result<bool> {
    let answer = ask(input, output, &format!("{question} [y/N]"), None)?;
    Ok(matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// The yes/no gate before something that cannot be undone (or bills): `true` at once
/// with `--yes`; otherwise ask `question` on the terminal. Without a terminal there is
/// nobody to ask, so it refuses: "not {doing} without confirmation: ...; pass --yes
/// [to {yes_does} non-interactively]".
pub fn confirm_or_refuse(
    yes: bool,
    doing: &str,
    yes_does: Option<&str>,
    question: &str,
) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !stdin_is_terminal() {
        let how = yes_does.map_or_else(String::new, |d| format!(" to {d} non-interactively"));
        anyhow::bail!(
            "not {doing} without confirmation: standard input is not a terminal; pass --yes{how}"
        );
    }
    confirm(&mut io::stdin().lock(), &mut io::stderr(), question)
}

/// Column alignment in a [`Table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One table cell: its text and how it is highlighted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cell {
    pub text: String,
    pub style: Style,
}

impl Cell {
    pub fn styled(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            text: text.into(),
            style,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            style: Style::Plain,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

/// A compact, aligned text table: two spaces between columns, no borders.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<(String, Align)>,
    rows: Vec<Vec<Cell>>,
    indent: usize,
}

impl Table {
    pub fn new(headers: &[(&str, Align)]) -> Table {
        Table {
            headers: headers
                .iter()
                .map(|(h, a)| ((*h).to_string(), *a))
                .collect(),
            rows: Vec::new(),
            indent: 0,
        }
    }

    /// Indent every line by `spaces`.
    pub fn indent(mut self, spaces: usize) -> Table {
        self.indent = spaces;
        self
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    fn widths(&self) -> Vec<usize> {
        self.headers
            .iter()
            .enumerate()
            .map(|(i, (h, _))| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|c| c.text.chars().count())
                    .chain([h.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// The table as text, one line per row plus the header, each ending in a newline.
    /// Widths are measured on the plain text, so colour never breaks the alignment.
    pub fn render(&self, color: bool) -> String {
        let widths = self.widths();
        let header: Vec<Cell> = self
            .headers
            .iter()
            .map(|(h, _)| Cell::styled(h.as_str(), Style::Bold))
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = " ".repeat(self.indent);
            let last = row.len().min(widths.len()).saturating_sub(1);
            for (i, cell) in row.iter().enumerate().take(widths.len()) {
                let pad = widths[i].saturating_sub(cell.text.chars().count());
                let painted = cell.style.paint(&cell.text, color);
                if i > 0 {
                    line.push_str("  ");
                }
                match self.headers[i].1 {
                    Align::Right => {
                        line.push_str(&" ".repeat(pad));
                        line.push_str(&painted);
                    }
                    Align::Left => {
                        line.push_str(&painted);
                        if i != last {
                            line.push_str(&" ".repeat(pad));
                        }
                    }
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

/// Width prose (notes, explanations) is wrapped to.
pub const PROSE_WIDTH: usize = 100;

/// Break `text` into lines of at most `width` characters at spaces (longer words stay whole).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let needed =
            current.chars().count() + usize::from(!current.is_empty()) + word.chars().count();
        if !current.is_empty() && needed > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_drops_control_characters() {
        assert_eq!(
            printable("ok\u{1b}]0;pwned\u{7}\u{1b}[31mred\r\nnext\tcol\u{9b}2J"),
            "ok]0;pwned[31mred\nnext\tcol2J"
        );
    }

    #[test]
    fn tables_align_on_plain_text_even_with_colour() {
        let mut t = Table::new(&[("NAME", Align::Left), ("SIZE", Align::Right)]).indent(2);
        t.row(vec!["a".into(), Cell::styled("10.5", Style::Green)]);
        t.row(vec!["longer".into(), "1".into()]);
        assert_eq!(
            t.render(false),
            "  NAME    SIZE\n  a       10.5\n  longer     1\n"
        );
        let coloured = t.render(true);
        assert!(coloured.contains("\x1b[32m10.5\x1b[0m"), "{coloured:?}");
        assert!(coloured.contains("\x1b[1mNAME\x1b[0m    "), "{coloured:?}");
    }

    #[test]
    fn last_left_column_is_not_padded() {
        let mut t = Table::new(&[("A", Align::Left), ("NOTE", Align::Left)]);
        t.row(vec!["x".into(), "long note".into()]);
        t.row(vec!["y".into(), "n".into()]);
        assert_eq!(t.render(false), "A  NOTE\nx  long note\ny  n\n");
    }

    #[test]
    fn wrapping_keeps_words_whole() {
        assert_eq!(wrap("aa bb cc dd", 5), ["aa bb", "cc dd"]);
        assert_eq!(wrap("averylongword x", 4), ["averylongword", "x"]);
        assert!(wrap("  ", 10).is_empty());
    }

    #[test]
    fn prompts_take_defaults_and_refuse_end_of_input() {
        let mut out = Vec::new();
        let answer = ask(&mut "\n".as_bytes(), &mut out, "Params", Some("7")).unwrap();
        assert_eq!(answer, "7");
        assert_eq!(String::from_utf8(out).unwrap(), "Params [7]: ");
        let answer = ask(
            &mut " 13 \n".as_bytes(),
            &mut Vec::new(),
            "Params",
            Some("7"),
        )
        .unwrap();
        assert_eq!(answer, "13");
        assert!(ask(&mut "".as_bytes(), &mut Vec::new(), "Params", None).is_err());
        assert!(confirm(&mut "yes\n".as_bytes(), &mut Vec::new(), "Remove?").unwrap());
        assert!(!confirm(&mut "\n".as_bytes(), &mut Vec::new(), "Remove?").unwrap());
    }

    #[test]
    fn colour_follows_the_choice() {
        assert!(use_color(ColorChoice::Always, false));
        assert!(!use_color(ColorChoice::Never, true));
        assert!(!use_color(ColorChoice::Auto, false));
    }
}
