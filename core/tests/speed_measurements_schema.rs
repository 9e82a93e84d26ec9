//! The table of published speed measurements (fixtures/speed-measurements.yaml, schema and
//! selection rules in speed-measurements.md) is well-formed: every field named as the schema
//! says, ids unique, provenance present, every model a built-in or a Hugging Face repository,
//! Lambda instance types shaped like Lambda's names and matching the GPU count, and every
//! figure a positive finite number. The speed model's accuracy test reads the same file.

use std::collections::HashSet;

use gpu_session_core::registry::builtin;
use gpu_session_core::yaml;
use serde::Deserialize;

const TABLE: &str = include_str!("fixtures/speed-measurements.yaml");

const ENGINES: &[&str] = &["sglang", "vllm", "trtllm"];
const QUANTIZATIONS: &[&str] = &["bf16", "fp8", "int4-awq", "mxfp4", "nvfp4"];
const KV_DTYPES: &[&str] = &["bf16", "fp8"];
const STATISTICS: &[&str] = &["median", "mean"];
/// Hosts a source may not point at: package registries are not provenance for a measurement.
const REGISTRY_HOSTS: &[&str] = &["pypi.org", "crates.io", "npmjs.com", "npmjs.org"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    id: String,
    source: String,
    quote: String,
    engine: String,
    engine_version: Option<String>,
    model: String,
    hf_repo: Option<String>,
    quantization: String,
    kv_dtype: Option<String>,
    gpu: String,
    gpu_count: u32,
    lambda_instance_type: Option<String>,
    tp: u32,
    /// Null where the source does not give the expert-parallel size.
    ep: Option<u32>,
    dp_attention: bool,
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    concurrency: Option<u32>,
    request_rate: Option<f64>,
    num_prompts: Option<u32>,
    dataset: Option<String>,
    measured: Measured,
    notes: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Measured {
    ttft_ms: Option<f64>,
    tpot_ms: Option<f64>,
    itl_ms: Option<f64>,
    output_tokens_per_s: Option<f64>,
    total_tokens_per_s: Option<f64>,
    requests_per_s: Option<f64>,
    statistic: Option<String>,
}

impl Measured {
    fn figures(&self) -> [(&'static str, Option<f64>); 6] {
        [
            ("ttft_ms", self.ttft_ms),
            ("tpot_ms", self.tpot_ms),
            ("itl_ms", self.itl_ms),
            ("output_tokens_per_s", self.output_tokens_per_s),
            ("total_tokens_per_s", self.total_tokens_per_s),
            ("requests_per_s", self.requests_per_s),
        ]
    }

    fn has_latency(&self) -> bool {
        self.ttft_ms.is_some() || self.tpot_ms.is_some() || self.itl_ms.is_some()
    }
}

fn parse(text: &str) -> Result<Vec<Row>, String> {
    let de = yaml::deserializer(text);
    serde_path_to_error::deserialize(de).map_err(|e| format!("{}: {}", e.path(), e.inner()))
}

fn is_kebab_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

fn is_hf_repo(repo: &str) -> bool {
    let mut parts = repo.split('/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(owner), Some(name), None)
        if !owner.is_empty() && !name.is_empty() && !repo.contains(char::is_whitespace))
}

/// `gpu_<N>x_<name>` as Lambda spells instance types; the GPU count it names, if it has that shape.
fn lambda_type_gpu_count(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("gpu_")?;
    let (count, tail) = rest.split_once("x_")?;
    let well_formed = !tail.is_empty()
        && tail
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    well_formed.then(|| count.parse().ok()).flatten()
}

fn one_of(field: &str, value: &str, allowed: &[&str], problems: &mut Vec<String>) {
    if !allowed.contains(&value) {
        problems.push(format!("{field} {value:?} is not one of {allowed:?}"));
    }
}

fn non_empty(field: &str, value: Option<&str>, problems: &mut Vec<String>) {
    if value.is_none_or(|v| v.trim().is_empty()) {
        problems.push(format!("{field} is missing or empty"));
    }
}

fn check_identity(row: &Row, problems: &mut Vec<String>) {
    if !is_kebab_id(&row.id) {
        problems.push(format!("id {:?} is not short kebab-case", row.id));
    }
    non_empty("source", Some(&row.source), problems);
    non_empty("quote", Some(&row.quote), problems);
    non_empty("gpu", Some(&row.gpu), problems);
    if let Some(version) = &row.engine_version {
        non_empty("engine_version", Some(version), problems);
    }
    if let Some(host) = REGISTRY_HOSTS.iter().find(|h| row.source.contains(*h)) {
        problems.push(format!("source names a package registry ({host})"));
    }
    one_of("engine", &row.engine, ENGINES, problems);
    one_of("quantization", &row.quantization, QUANTIZATIONS, problems);
    if let Some(kv) = &row.kv_dtype {
        one_of("kv_dtype", kv, KV_DTYPES, problems);
    }
    match &row.hf_repo {
        Some(repo) if !is_hf_repo(repo) => {
            problems.push(format!("hf_repo {repo:?} is not owner/name"));
        }
        None if builtin(&row.model).is_none() => problems.push(format!(
            "model {:?} is not a built-in id and the row has no hf_repo",
            row.model
        )),
        _ => {}
    }
}

fn check_deployment(row: &Row, problems: &mut Vec<String>) {
    let ep = row.ep.unwrap_or(1);
    for (field, value) in [("gpu_count", row.gpu_count), ("tp", row.tp), ("ep", ep)] {
        if value == 0 {
            problems.push(format!("{field} is 0"));
        }
    }
    if row.tp > row.gpu_count || ep > row.gpu_count {
        problems.push(format!(
            "tp {} / ep {ep} exceed gpu_count {}",
            row.tp, row.gpu_count
        ));
    }
    if let Some(name) = &row.lambda_instance_type {
        match lambda_type_gpu_count(name) {
            None => problems.push(format!(
                "lambda_instance_type {name:?} is not shaped like gpu_<N>x_<name>"
            )),
            Some(n) if n != row.gpu_count => problems.push(format!(
                "lambda_instance_type {name:?} has {n} GPUs, gpu_count is {}",
                row.gpu_count
            )),
            Some(_) => {}
        }
    }
}

fn check_workload(row: &Row, problems: &mut Vec<String>) {
    let counts = [
        ("input_tokens", row.input_tokens),
        ("output_tokens", row.output_tokens),
        ("concurrency", row.concurrency),
        ("num_prompts", row.num_prompts),
    ];
    for (field, value) in counts {
        if value == Some(0) {
            problems.push(format!("{field} is 0"));
        }
    }
    if let Some(rate) = row.request_rate {
        if !(rate.is_finite() && rate > 0.0) {
            problems.push(format!(
                "request_rate {rate} is not a positive finite number"
            ));
        }
    }
    if row.concurrency.is_none() && row.request_rate.is_none() && row.num_prompts.is_none() {
        problems.push("no concurrency, request_rate or num_prompts: the load is unknown".into());
    }
    if row.dp_attention && row.tp < 2 {
        problems.push("dp_attention with tp 1".into());
    }
    non_empty("dataset", row.dataset.as_deref(), problems);
}

fn check_measured(row: &Row, problems: &mut Vec<String>) {
    let m = &row.measured;
    let mut any = false;
    for (field, value) in m.figures() {
        if let Some(v) = value {
            any = true;
            if !(v.is_finite() && v > 0.0) {
                problems.push(format!(
                    "measured.{field} {v} is not a positive finite number"
                ));
            }
        }
    }
    if !any {
        problems.push("measured has no figure at all".into());
    }
    match &m.statistic {
        Some(s) => one_of("measured.statistic", s, STATISTICS, problems),
        None if m.has_latency() => non_empty(
            "notes (a latency without statistic must say why)",
            row.notes.as_deref(),
            problems,
        ),
        None => {}
    }
}

/// Every problem of the table, as "row id: problem"; empty when the table is well-formed.
fn problems(rows: &[Row]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    for row in rows {
        let mut problems = Vec::new();
        if !seen.insert(row.id.as_str()) {
            problems.push("id is not unique".to_string());
        }
        check_identity(row, &mut problems);
        check_deployment(row, &mut problems);
        check_workload(row, &mut problems);
        check_measured(row, &mut problems);
        all.extend(problems.into_iter().map(|p| format!("{}: {p}", row.id)));
    }
    all
}

#[test]
fn the_published_measurements_table_is_well_formed() {
    let rows = parse(TABLE).unwrap_or_else(|e| panic!("speed-measurements.yaml: {e}"));
    assert!(rows.len() >= 15, "only {} rows", rows.len());
    let found = problems(&rows);
    assert!(
        found.is_empty(),
        "speed-measurements.yaml:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_table_covers_engines_gpus_and_load_levels() {
    let rows = parse(TABLE).expect("parses");
    for engine in ["sglang", "vllm"] {
        assert!(rows.iter().any(|r| r.engine == engine), "no {engine} row");
    }
    for gpu in ["H100 SXM", "B200"] {
        assert!(rows.iter().any(|r| r.gpu == gpu), "no {gpu} row");
    }
    let concurrency = |r: &Row| r.concurrency.unwrap_or(0);
    assert!(
        rows.iter().any(|r| concurrency(r) == 1),
        "no single-request row"
    );
    assert!(
        rows.iter().any(|r| concurrency(r) >= 64),
        "no high-concurrency row"
    );
    assert!(rows.iter().any(|r| r.measured.tpot_ms.is_some()));
    assert!(rows
        .iter()
        .any(|r| r.measured.output_tokens_per_s.is_some()));
}

/// One good row, in YAML, to mutate in the tests below.
const GOOD_ROW: &str = r#"
- id: example-row
  source: "A benchmark page, its publisher, 2026; https://github.com/owner/repo/blob/abc/README.md"
  quote: "Median TPOT (ms): 11.7"
  engine: sglang
  engine_version: "0.5.9"
  model: llama-3.1-8b
  hf_repo: null
  quantization: bf16
  kv_dtype: bf16
  gpu: H100 SXM
  gpu_count: 1
  lambda_instance_type: gpu_1x_h100_sxm5
  tp: 1
  ep: 1
  dp_attention: false
  input_tokens: 1000
  output_tokens: 1000
  concurrency: 16
  request_rate: null
  num_prompts: 80
  dataset: random
  measured:
    ttft_ms: 120.5
    tpot_ms: 11.7
    itl_ms: null
    output_tokens_per_s: null
    total_tokens_per_s: null
    requests_per_s: null
    statistic: median
  notes: null
"#;

fn problems_after(from: &str, to: &str) -> Vec<String> {
    assert!(
        GOOD_ROW.contains(from),
        "{from:?} is not in the example row"
    );
    let text = GOOD_ROW.replacen(from, to, 1);
    problems(&parse(&text).expect("mutated row still parses"))
}

#[test]
fn the_example_row_is_good() {
    assert_eq!(problems(&parse(GOOD_ROW).unwrap()), Vec::<String>::new());
}

#[test]
fn each_broken_field_is_named() {
    let cases = [
        (
            "model: llama-3.1-8b",
            "model: my-model",
            "not a built-in id",
        ),
        ("engine: sglang", "engine: tgi", "engine \"tgi\""),
        ("quantization: bf16", "quantization: q4_k_m", "quantization"),
        ("kv_dtype: bf16", "kv_dtype: fp16", "kv_dtype"),
        (
            "gpu_1x_h100_sxm5",
            "gpu_8x_h100_sxm5",
            "has 8 GPUs, gpu_count is 1",
        ),
        ("gpu_1x_h100_sxm5", "h100-1x", "not shaped like"),
        ("tp: 1", "tp: 2", "exceed gpu_count"),
        ("ep: 1", "ep: 0", "ep is 0"),
        ("tpot_ms: 11.7", "tpot_ms: -11.7", "measured.tpot_ms"),
        ("ttft_ms: 120.5", "ttft_ms: .nan", "measured.ttft_ms"),
        ("statistic: median", "statistic: p99", "measured.statistic"),
        ("statistic: median", "statistic: null", "must say why"),
        ("id: example-row", "id: Example_Row", "kebab-case"),
        ("github.com/owner", "pypi.org/owner", "package registry"),
        ("concurrency: 16", "concurrency: 0", "concurrency is 0"),
        ("dataset: random", "dataset: \"\"", "dataset is missing"),
    ];
    for (from, to, expected) in cases {
        let found = problems_after(from, to);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{from:?} -> {to:?}: expected a problem containing {expected:?}, got {found:?}"
        );
    }
}

#[test]
fn a_row_with_no_figures_or_no_load_is_rejected() {
    let no_figures = GOOD_ROW
        .replacen("ttft_ms: 120.5", "ttft_ms: null", 1)
        .replacen("tpot_ms: 11.7", "tpot_ms: null", 1);
    let found = problems(&parse(&no_figures).unwrap());
    assert!(found.iter().any(|p| p.contains("no figure")), "{found:?}");

    let no_load = GOOD_ROW
        .replacen("concurrency: 16", "concurrency: null", 1)
        .replacen("num_prompts: 80", "num_prompts: null", 1);
    let found = problems(&parse(&no_load).unwrap());
    assert!(
        found.iter().any(|p| p.contains("load is unknown")),
        "{found:?}"
    );
}

#[test]
fn duplicate_ids_and_unknown_fields_are_rejected() {
    let twice = format!("{GOOD_ROW}{}", GOOD_ROW.trim_start());
    let found = problems(&parse(&twice).unwrap());
    assert!(found.iter().any(|p| p.contains("not unique")), "{found:?}");

    let misspelt = GOOD_ROW.replacen("tpot_ms:", "tpot:", 1);
    let err = parse(&misspelt).unwrap_err();
    assert!(err.contains("tpot"), "{err}");

    let missing = GOOD_ROW.replacen("  quote: \"Median TPOT (ms): 11.7\"\n", "", 1);
    let err = parse(&missing).unwrap_err();
    assert!(err.contains("quote"), "{err}");
}
