//! Share links: the calculator's whole state as a short, versioned, human-readable
//! query string, e.g. `v=1&m=llama-3.1-70b&q=int4&ctx=8192&seq=4&gpu=gpu_1x_a100_sxm4`.
//! The workload rides along when it is not the default: `in` and `out` (tokens per
//! request) and `rps` (requests per second; without it, `seq` requests are in flight).
//!
//! Decoding never fails as a whole: a bad or unknown value falls back to the default
//! for that field and the field is reported as ignored.

use crate::arch::{Architecture, LinearAttention, LocalAttention, LocalKind, Mla, Moe};
use crate::gpu;
use crate::quant::{KvDtype, Quantization};
use crate::registry::CustomModel;
use crate::registry::{
    builtin, Model, CUSTOM_DEFAULT_CONTEXT, CUSTOM_DEFAULT_QUANTIZATION, DEFAULT_MODEL_ID,
};
use crate::settings::{EstimateMode, Rate, Settings, GPU_COUNTS, MAX_SEQS, MIN_CONTEXT};
use crate::speed::{DEFAULT_INPUT_TOKENS, DEFAULT_OUTPUT_TOKENS, MAX_WORKLOAD_TOKENS};
use crate::validate;

/// The link format this build writes.
pub const LINK_VERSION: u32 = 1;
/// The `m` value that marks a custom model described by the other parameters.
pub const CUSTOM_MARKER: &str = "custom";
/// The prefix of an `m` value naming a Hugging Face repository (`m=hf:org/name`): the
/// page reads that repository's `config.json` to know the model.
pub const HF_PREFIX: &str = "hf:";

/// A custom model as a link carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomSpec {
    pub name: String,
    pub params_billions: f64,
    /// Optional: the repository it would be served from.
    pub hf_path: Option<String>,
    pub architecture: Option<Architecture>,
}

impl CustomSpec {
    /// The model this spec describes; `quantization` is the one the link chose.
    pub fn to_model(&self, quantization: Quantization, context: u32) -> Model {
        let custom = CustomModel {
            name: Some(self.name.clone()),
            architecture: self.architecture,
            ..CustomModel::new(
                self.hf_path.as_deref().unwrap_or("custom/model"),
                self.params_billions,
                quantization,
                context,
            )
        };
        let mut model = Model::custom("custom", &custom);
        if self.hf_path.is_none() {
            model.quantized_checkpoints.clear();
            model.base_checkpoint = None;
        }
        model
    }
}

/// A model named by its Hugging Face repository. The link carries only the repo; the
/// page fetches its `config.json` and keeps the model read from it in `loaded`.
#[derive(Debug, Clone, PartialEq)]
pub struct HubModel {
    pub repo: String,
    /// The model its `config.json` describes, once fetched and read.
    pub loaded: Option<CustomSpec>,
}

/// Which model the calculator shows.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelChoice {
    Builtin(String),
    Custom(CustomSpec),
    Hub(HubModel),
}

/// Everything the calculator's controls hold.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareState {
    pub model: ModelChoice,
    pub settings: Settings,
    /// The instance type chosen in the GPU table, if any.
    pub gpu: Option<String>,
    pub mode: EstimateMode,
    /// Instances one model spans: 1, or 2 (`multi_node`: TP 16 or PP 2 × TP 8 over two
    /// 8-GPU instances of `gpu`). Link key `nd`, written only when not 1.
    pub nodes: u32,
    /// Instances serving the model side by side behind the gateway, 1 to
    /// [`MAX_REPLICAS`]. Link key `rep`, written only when not 1.
    pub replicas: u32,
    /// Service-level targets (TTFT and TPOT at most, milliseconds) for the settings'
    /// request rate. Link keys `ttft` and `tpot`, written only when set.
    pub targets: TargetLimits,
}

use crate::service_level::{parse_target_ms, TargetLimits};
pub use crate::settings::MAX_REPLICAS;

impl Default for ShareState {
    fn default() -> Self {
        let model = builtin(DEFAULT_MODEL_ID).expect("default model is built in");
        ShareState {
            model: ModelChoice::Builtin(model.id.clone()),
            settings: Settings::defaults_for(model),
            gpu: None,
            mode: EstimateMode::Serving,
            nodes: 1,
            replicas: 1,
            targets: TargetLimits::default(),
        }
    }
}

impl ShareState {
    /// The model the state describes.
    pub fn resolve_model(&self) -> Model {
        match &self.model {
            ModelChoice::Builtin(id) => builtin(id)
                .cloned()
                .unwrap_or_else(|| builtin(DEFAULT_MODEL_ID).cloned().expect("default")),
            ModelChoice::Custom(spec)
            | ModelChoice::Hub(HubModel {
                loaded: Some(spec), ..
            }) => spec.to_model(self.settings.quantization, self.settings.context),
            // Until its config.json is read (or when it cannot be), the default model.
            ModelChoice::Hub(HubModel { loaded: None, .. }) => {
                builtin(DEFAULT_MODEL_ID).cloned().expect("default")
            }
        }
    }
}

/// The result of decoding a link.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub state: ShareState,
    /// Parameters whose value was bad or unknown and fell back to the default.
    pub ignored: Vec<String>,
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn encode_arch(a: &Architecture) -> String {
    format!(
        "{}.{}.{}.{}.{}.{}.{}.{}.{}.{}",
        a.layers,
        a.hidden,
        a.intermediate,
        a.heads,
        a.kv_heads,
        a.head_dim,
        a.vocab,
        u8::from(a.tied_embeddings),
        u8::from(a.attention_bias),
        a.max_context
    )
}

/// The layer-by-layer extensions of an architecture (`ax`), absent for a dense Llama
/// shape so old links and dense links stay as they were: `_`-joined segments
/// `f<flags>.<extra norms>` (1 output bias, 2 q/k norm, 4 sinks, 8 gated attention),
/// `mla-<q_lora>.<kv_lora>.<nope>.<rope>.<v>`,
/// `moe-<experts>.<per token>.<width>.<shared>.<dense layers>.<router bias>.<expert bias>.<shared gate>`,
/// `sw-<layers>.<window>.<pooled>`, `ch-<layers>.<chunk>`,
/// `lin-<layers>.<key heads>.<value heads>.<key dim>.<value dim>.<kernel>.<state bytes>`.
fn encode_arch_extensions(a: &Architecture) -> Option<String> {
    let mut parts = Vec::new();
    let flags = u8::from(a.output_bias)
        | u8::from(a.qk_norm) << 1
        | u8::from(a.attention_sinks) << 2
        | u8::from(a.gated_attention) << 3;
    if flags != 0 || a.extra_norms_per_layer != 0 {
        parts.push(format!("f{flags}.{}", a.extra_norms_per_layer));
    }
    if let Some(m) = &a.mla {
        parts.push(format!(
            "mla-{}.{}.{}.{}.{}",
            m.q_lora_rank, m.kv_lora_rank, m.qk_nope_head_dim, m.qk_rope_head_dim, m.v_head_dim
        ));
    }
    if let Some(m) = &a.moe {
        parts.push(format!(
            "moe-{}.{}.{}.{}.{}.{}.{}.{}",
            m.experts,
            m.experts_per_token,
            m.expert_intermediate,
            m.shared_intermediate,
            m.dense_layers,
            u8::from(m.router_bias),
            u8::from(m.expert_bias),
            u8::from(m.shared_expert_gate)
        ));
    }
    if let Some(l) = &a.local_attention {
        parts.push(match l.kind {
            LocalKind::SlidingWindow { window, pooled } => {
                format!("sw-{}.{window}.{}", l.layers, u8::from(pooled))
            }
            LocalKind::Chunked { chunk } => format!("ch-{}.{chunk}", l.layers),
            LocalKind::Linear(x) => format!(
                "lin-{}.{}.{}.{}.{}.{}.{}",
                l.layers,
                x.key_heads,
                x.value_heads,
                x.key_head_dim,
                x.value_head_dim,
                x.conv_kernel,
                x.state_bytes
            ),
        });
    }
    (!parts.is_empty()).then(|| parts.join("_"))
}

/// The `.`-separated numbers of a segment body, `None` unless there are exactly `count`.
fn link_numbers(body: &str, count: usize) -> Option<Vec<u32>> {
    let n: Vec<u32> = body
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (n.len() == count).then_some(n)
}

/// A link's `0`/`1` flag; any other number is malformed.
fn link_flag(v: u32) -> Option<bool> {
    match v {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// Apply `ax` to a decoded dense architecture; `None` when any segment is malformed.
fn decode_arch_extensions(mut a: Architecture, s: &str) -> Option<Architecture> {
    for segment in s.split('_') {
        apply_arch_segment(&mut a, segment)?;
    }
    a.validate().ok().map(|()| a)
}

/// One `ax` segment, named by its prefix (see [`encode_arch_extensions`]).
fn apply_arch_segment(a: &mut Architecture, segment: &str) -> Option<()> {
    if let Some(body) = segment.strip_prefix("mla-") {
        a.mla = Some(decode_mla(body)?);
    } else if let Some(body) = segment.strip_prefix("moe-") {
        a.moe = Some(decode_moe(body)?);
    } else if let Some(body) = segment.strip_prefix("sw-") {
        a.local_attention = Some(decode_sliding_window(body)?);
    } else if let Some(body) = segment.strip_prefix("ch-") {
        a.local_attention = Some(decode_chunked(body)?);
    } else if let Some(body) = segment.strip_prefix("lin-") {
        a.local_attention = Some(decode_linear(body)?);
    } else if let Some(body) = segment.strip_prefix('f') {
        apply_attention_flags(a, body)?;
    } else {
        return None;
    }
    Some(())
}

fn decode_mla(body: &str) -> Option<Mla> {
    let n = link_numbers(body, 5)?;
    Some(Mla {
        q_lora_rank: n[0],
        kv_lora_rank: n[1],
        qk_nope_head_dim: n[2],
        qk_rope_head_dim: n[3],
        v_head_dim: n[4],
    })
}

fn decode_moe(body: &str) -> Option<Moe> {
    let n = link_numbers(body, 8)?;
    Some(Moe {
        experts: n[0],
        experts_per_token: n[1],
        expert_intermediate: n[2],
        shared_intermediate: n[3],
        dense_layers: n[4],
        router_bias: link_flag(n[5])?,
        expert_bias: link_flag(n[6])?,
        shared_expert_gate: link_flag(n[7])?,
    })
}

fn decode_sliding_window(body: &str) -> Option<LocalAttention> {
    let n = link_numbers(body, 3)?;
    Some(LocalAttention {
        layers: n[0],
        kind: LocalKind::SlidingWindow {
            window: n[1],
            pooled: link_flag(n[2])?,
        },
    })
}

fn decode_chunked(body: &str) -> Option<LocalAttention> {
    let n = link_numbers(body, 2)?;
    Some(LocalAttention {
        layers: n[0],
        kind: LocalKind::Chunked { chunk: n[1] },
    })
}

fn decode_linear(body: &str) -> Option<LocalAttention> {
    let n = link_numbers(body, 7)?;
    Some(LocalAttention {
        layers: n[0],
        kind: LocalKind::Linear(LinearAttention {
            key_heads: n[1],
            value_heads: n[2],
            key_head_dim: n[3],
            value_head_dim: n[4],
            conv_kernel: n[5],
            state_bytes: n[6],
        }),
    })
}

/// The `f<flags>.<extra norms>` segment.
fn apply_attention_flags(a: &mut Architecture, body: &str) -> Option<()> {
    let n = link_numbers(body, 2)?;
    if n[0] > 15 {
        return None;
    }
    a.output_bias = n[0] & 1 != 0;
    a.qk_norm = n[0] & 2 != 0;
    a.attention_sinks = n[0] & 4 != 0;
    a.gated_attention = n[0] & 8 != 0;
    a.extra_norms_per_layer = n[1];
    Some(())
}

fn decode_arch(s: &str) -> Option<Architecture> {
    let n: Vec<u32> = s
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [layers, hidden, intermediate, heads, kv_heads, head_dim, vocab, tied, bias, max_context] =
        n[..]
    else {
        return None;
    };
    let arch = Architecture {
        layers,
        hidden,
        intermediate,
        heads,
        kv_heads,
        head_dim,
        vocab,
        tied_embeddings: link_flag(tied)?,
        attention_bias: link_flag(bias)?,
        sliding_window: None,
        max_context,
        ..Architecture::DENSE
    };
    arch.validate().ok().map(|()| arch)
}

/// Encode a state as a query string (without the leading `?`).
pub fn encode(state: &ShareState) -> String {
    let mut parts: Vec<(&str, String)> = vec![("v", LINK_VERSION.to_string())];
    match &state.model {
        ModelChoice::Builtin(id) => parts.push(("m", id.clone())),
        ModelChoice::Hub(hub) => parts.push(("m", format!("{HF_PREFIX}{}", hub.repo))),
        ModelChoice::Custom(spec) => {
            parts.push(("m", CUSTOM_MARKER.into()));
            parts.push(("name", spec.name.clone()));
            parts.push(("p", crate::decimal::shortest(spec.params_billions)));
            if let Some(hf) = &spec.hf_path {
                parts.push(("hf", hf.clone()));
            }
            if let Some(arch) = &spec.architecture {
                parts.push(("arch", encode_arch(arch)));
                if let Some(ax) = encode_arch_extensions(arch) {
                    parts.push(("ax", ax));
                }
            }
        }
    }
    let s = &state.settings;
    parts.push(("q", s.quantization.as_str().into()));
    parts.push(("ctx", s.context.to_string()));
    parts.push(("seq", s.seqs.to_string()));
    if s.kv_dtype != KvDtype::Auto {
        parts.push(("kv", s.kv_dtype.as_str().into()));
    }
    if s.gpus != 1 {
        parts.push(("n", s.gpus.to_string()));
    }
    if s.input_tokens != DEFAULT_INPUT_TOKENS {
        parts.push(("in", s.input_tokens.to_string()));
    }
    if s.output_tokens != DEFAULT_OUTPUT_TOKENS {
        parts.push(("out", s.output_tokens.to_string()));
    }
    if let Some(rate) = s.rate {
        parts.push(("rps", rate.to_string()));
    }
    if let Some(gpu) = &state.gpu {
        parts.push(("gpu", gpu.clone()));
    }
    if state.mode != EstimateMode::Serving {
        parts.push(("est", state.mode.as_str().into()));
    }
    if state.nodes != 1 {
        parts.push(("nd", state.nodes.to_string()));
    }
    if state.replicas != 1 {
        parts.push(("rep", state.replicas.to_string()));
    }
    for (key, target) in [
        ("ttft", state.targets.ttft_max_ms),
        ("tpot", state.targets.tpot_max_ms),
    ] {
        if let Some(ms) = target {
            parts.push((key, crate::decimal::shortest(ms)));
        }
    }
    parts
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The keys a link may carry; any other is reported as ignored.
const KNOWN_KEYS: [&str; 21] = [
    "v", "m", "name", "p", "hf", "arch", "ax", "q", "ctx", "seq", "kv", "n", "gpu", "est", "in",
    "out", "rps", "nd", "rep", "ttft", "tpot",
];

/// A link's key/value pairs and the fields found unusable so far, in the order found.
struct LinkReader<'a> {
    pairs: &'a [(String, String)],
    ignored: Vec<String>,
}

impl<'a> LinkReader<'a> {
    /// The last value given for `key`.
    fn get(&self, key: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn ignore(&mut self, field: &str) {
        if !self.ignored.iter().any(|f| f == field) {
            self.ignored.push(field.to_string());
        }
    }

    /// The value of `key` as `parse` reads it; a value it refuses is ignored.
    fn field<T>(&mut self, key: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let value = parse(self.get(key)?);
        if value.is_none() {
            self.ignore(key);
        }
        value
    }
}

/// Split a query into decoded pairs; undecodable pieces and unknown keys are ignored.
fn split_query(query: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut ignored: Vec<String> = Vec::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        match (percent_decode(k), percent_decode(v)) {
            (Some(k), Some(v)) => pairs.push((k, v)),
            (Some(k), None) => ignored.push(k),
            _ => ignored.push(piece.to_string()),
        }
    }
    for (k, _) in &pairs {
        if !KNOWN_KEYS.contains(&k.as_str()) && !ignored.contains(k) {
            ignored.push(k.clone());
        }
    }
    (pairs, ignored)
}

/// Decode a query string (with or without the leading `?`).
pub fn decode(query: &str) -> Decoded {
    let (pairs, ignored) = split_query(query.strip_prefix('?').unwrap_or(query));
    let mut link = LinkReader {
        pairs: &pairs,
        ignored,
    };
    check_version(&mut link);
    let model = decode_model(&mut link);
    let settings = decode_settings(&mut link, &model);
    let gpu = link.field("gpu", |v| gpu::find(v).map(|_| v.to_string()));
    let mode = link.field("est", |v| match v {
        "reference" => Some(EstimateMode::Reference),
        "serving" => Some(EstimateMode::Serving),
        _ => None,
    });
    let nodes = decode_nodes(&mut link, gpu.as_deref());
    let replicas = link.field("rep", |v| {
        v.parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_REPLICAS).contains(n))
    });
    let targets = TargetLimits {
        ttft_max_ms: link.field("ttft", parse_target_ms),
        tpot_max_ms: link.field("tpot", parse_target_ms),
    };
    let state = ShareState {
        model,
        settings,
        gpu,
        mode: mode.unwrap_or(EstimateMode::Serving),
        nodes: nodes.unwrap_or(1),
        replicas: replicas.unwrap_or(1),
        targets,
    };
    Decoded {
        state,
        ignored: link.ignored,
    }
}

/// A version this build does not know is reported; the rest is still read.
fn check_version(link: &mut LinkReader) {
    if let Some(v) = link.get("v") {
        if v.parse::<u32>()
            .ok()
            .is_none_or(|v| v == 0 || v > LINK_VERSION)
        {
            link.ignore("v");
        }
    }
}

/// The `m` key: a built-in id, `hf:<repo>` or `custom` (described by the other keys).
fn decode_model(link: &mut LinkReader) -> ModelChoice {
    let default = || ShareState::default().model;
    match link.get("m") {
        None => default(),
        Some(m) if m == CUSTOM_MARKER => decode_custom(link).unwrap_or_else(|| {
            link.ignore("p");
            link.ignore("m");
            default()
        }),
        Some(m) if m.starts_with(HF_PREFIX) => {
            let repo = &m[HF_PREFIX.len()..];
            if validate::hf_path("m", repo).is_ok() {
                ModelChoice::Hub(HubModel {
                    repo: repo.to_string(),
                    loaded: None,
                })
            } else {
                link.ignore("m");
                default()
            }
        }
        Some(id) if builtin(id).is_some() => ModelChoice::Builtin(id.to_string()),
        Some(_) => {
            link.ignore("m");
            default()
        }
    }
}

/// A custom model; `None` without a usable size (`p`), which it cannot do without.
fn decode_custom(link: &mut LinkReader) -> Option<ModelChoice> {
    let params_billions = link
        .get("p")
        .and_then(|p| p.parse::<f64>().ok())
        .filter(|p| p.is_finite() && *p > 0.0 && *p <= crate::config::MAX_PARAMS_BILLIONS)?;
    let name = link
        .field("name", |n| {
            (!n.is_empty() && validate::display_text("name", n, 80).is_ok()).then(|| n.to_string())
        })
        .unwrap_or_else(|| "Custom model".into());
    let hf_path = link.field("hf", |h| {
        validate::hf_path("hf", h).is_ok().then(|| h.to_string())
    });
    let architecture = decode_custom_architecture(link);
    Some(ModelChoice::Custom(CustomSpec {
        name,
        params_billions,
        hf_path,
        architecture,
    }))
}

/// `arch` and its extensions `ax`.
fn decode_custom_architecture(link: &mut LinkReader) -> Option<Architecture> {
    let arch = decode_arch(link.get("arch")?);
    if arch.is_none() {
        link.ignore("arch");
    }
    let (Some(dense), Some(ax)) = (arch, link.get("ax")) else {
        return arch;
    };
    let full = decode_arch_extensions(dense, ax);
    if full.is_none() {
        // Without its extensions the shape would be wrong: drop it rather than misprice.
        link.ignore("ax");
        link.ignore("arch");
    }
    full
}

/// The settings keys; what a link leaves out comes from the chosen model's defaults.
fn decode_settings(link: &mut LinkReader, model: &ModelChoice) -> Settings {
    let (base, max_context) = settings_base(model);
    let quantization = link.field("q", |v| v.parse::<Quantization>().ok());
    let context = link.field("ctx", |v| {
        v.parse::<u32>()
            .ok()
            .filter(|c| (MIN_CONTEXT..=max_context).contains(c))
    });
    let seqs = link.field("seq", |v| {
        v.parse::<u32>().ok().filter(|s| (1..=MAX_SEQS).contains(s))
    });
    let kv_dtype = link.field("kv", |v| v.parse::<KvDtype>().ok());
    let gpus = link.field("n", |v| {
        v.parse::<u32>().ok().filter(|n| GPU_COUNTS.contains(n))
    });
    let tokens = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|t| (1..=MAX_WORKLOAD_TOKENS).contains(t))
    };
    let input_tokens = link.field("in", tokens);
    let output_tokens = link.field("out", tokens);
    let rate = link.field("rps", |v| v.parse::<Rate>().ok());
    Settings {
        quantization: quantization.unwrap_or(base.quantization),
        context: context.unwrap_or(base.context),
        seqs: seqs.unwrap_or(1),
        kv_dtype: kv_dtype.unwrap_or(KvDtype::Auto),
        gpus: gpus.unwrap_or(1),
        input_tokens: input_tokens.unwrap_or(DEFAULT_INPUT_TOKENS),
        output_tokens: output_tokens.unwrap_or(DEFAULT_OUTPUT_TOKENS),
        rate,
    }
}

/// The chosen model's default settings and the largest context a link may ask of it.
fn settings_base(model: &ModelChoice) -> (Settings, u32) {
    let probe = ShareState {
        model: model.clone(),
        ..ShareState::default()
    }
    .resolve_model();
    let base = match model {
        ModelChoice::Builtin(_) => Settings::defaults_for(&probe),
        ModelChoice::Custom(_) | ModelChoice::Hub(_) => Settings {
            quantization: CUSTOM_DEFAULT_QUANTIZATION,
            context: CUSTOM_DEFAULT_CONTEXT.min(probe.max_context()),
            ..Settings::defaults_for(&probe)
        },
    };
    let max_context = match model {
        // A custom model without an architecture has no maximum of its own.
        ModelChoice::Custom(spec) if spec.architecture.is_none() => crate::config::MAX_CONTEXT,
        // Not read yet: the page clamps the context to the model's once it is.
        ModelChoice::Hub(_) => crate::config::MAX_CONTEXT,
        _ => probe.max_context(),
    };
    (base, max_context)
}

/// `nd`; two nodes need an 8-GPU type when the link names one.
fn decode_nodes(link: &mut LinkReader, gpu: Option<&str>) -> Option<u32> {
    let two_node_gpu_ok = gpu
        .and_then(gpu::find)
        .is_none_or(|g| crate::multi_node::check_two_node_gpu(g).is_ok());
    link.field("nd", |v| {
        v.parse::<u32>()
            .ok()
            .filter(|&n| crate::multi_node::check_nodes(n).is_ok())
            .filter(|_| v != "2" || two_node_gpu_ok)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_architectures_of_every_kind_round_trip() {
        // Every built-in shape (dense, MoE, MLA, sliding window) as a custom model, and
        // the hybrid linear-attention shape, survive a link exactly.
        let mut shapes: Vec<Architecture> = crate::registry::builtins()
            .iter()
            .filter_map(|m| m.architecture)
            .collect();
        let mut hybrid = shapes[0];
        hybrid.local_attention = Some(LocalAttention {
            layers: 24,
            kind: LocalKind::Linear(LinearAttention {
                key_heads: 16,
                value_heads: 32,
                key_head_dim: 128,
                value_head_dim: 128,
                conv_kernel: 4,
                state_bytes: 4,
            }),
        });
        hybrid.gated_attention = true;
        shapes.push(hybrid);
        for arch in shapes {
            let state = ShareState {
                model: ModelChoice::Custom(CustomSpec {
                    name: "x".into(),
                    params_billions: 10.0,
                    hf_path: None,
                    architecture: Some(arch),
                }),
                ..ShareState::default()
            };
            let link = encode(&state);
            let back = decode(&link);
            assert!(back.ignored.is_empty(), "{link}: {:?}", back.ignored);
            match back.state.model {
                ModelChoice::Custom(spec) => assert_eq!(spec.architecture, Some(arch), "{link}"),
                other => panic!("{other:?}"),
            }
        }
        // A dense architecture's link has no `ax`; a bad `ax` drops the shape.
        let dense = encode(&ShareState {
            model: ModelChoice::Custom(CustomSpec {
                name: "d".into(),
                params_billions: 8.0,
                hf_path: None,
                architecture: crate::registry::builtin("llama-3.1-8b")
                    .unwrap()
                    .architecture,
            }),
            ..ShareState::default()
        });
        assert!(!dense.contains("ax="), "{dense}");
        let broken = decode(&format!("{dense}&ax=moe-1.2"));
        assert!(broken.ignored.contains(&"ax".to_string()));
        match broken.state.model {
            ModelChoice::Custom(spec) => assert_eq!(spec.architecture, None),
            other => panic!("{other:?}"),
        }
    }
    use proptest::prelude::*;

    #[test]
    fn the_design_example_decodes() {
        let d = decode("?v=1&m=llama-3.1-70b&q=int4&ctx=8192&seq=4&gpu=gpu_1x_a100_sxm4");
        assert!(d.ignored.is_empty(), "{:?}", d.ignored);
        assert_eq!(d.state.model, ModelChoice::Builtin("llama-3.1-70b".into()));
        assert_eq!(d.state.settings.seqs, 4);
        assert_eq!(d.state.gpu.as_deref(), Some("gpu_1x_a100_sxm4"));
        assert_eq!(
            encode(&d.state),
            "v=1&m=llama-3.1-70b&q=int4&ctx=8192&seq=4&gpu=gpu_1x_a100_sxm4"
        );
    }

    #[test]
    fn bad_values_fall_back_field_by_field() {
        let d = decode(
            "v=1&m=llama-3.1-8b&q=int3&ctx=99999999&seq=0&kv=fp4&n=3&gpu=gpu_9x&est=magic&zzz=1",
        );
        assert_eq!(d.state.model, ModelChoice::Builtin("llama-3.1-8b".into()));
        let defaults = Settings::defaults_for(builtin("llama-3.1-8b").unwrap());
        assert_eq!(d.state.settings, defaults);
        assert_eq!(d.state.gpu, None);
        let mut ignored = d.ignored.clone();
        ignored.sort();
        assert_eq!(ignored, ["ctx", "est", "gpu", "kv", "n", "q", "seq", "zzz"]);
        let d = decode("m=gpt-17&ctx=4096");
        assert_eq!(d.ignored, ["m"]);
        assert_eq!(d.state.model, ShareState::default().model);
        assert_eq!(d.state.settings.context, 4096);
        assert!(decode("%zz=%%&&&=").state == ShareState::default());
    }

    #[test]
    fn the_workload_rides_in_the_link_and_old_links_get_the_default() {
        let old = decode("v=1&m=llama-3.1-8b&ctx=8192&seq=32");
        assert!(old.ignored.is_empty(), "{:?}", old.ignored);
        let s = old.state.settings;
        assert_eq!(
            (s.input_tokens, s.output_tokens, s.rate),
            (DEFAULT_INPUT_TOKENS, DEFAULT_OUTPUT_TOKENS, None)
        );
        assert_eq!(s.workload().basis(), "32 concurrent 1k/1k");
        let link = "v=1&m=llama-3.1-8b&q=bf16&ctx=8192&seq=32&in=2000&out=250&rps=1.5";
        let d = decode(link);
        assert!(d.ignored.is_empty(), "{:?}", d.ignored);
        assert_eq!(d.state.settings.workload().basis(), "1.5 req/s 2k/250");
        assert_eq!(encode(&d.state), link);
        // Bad values fall back to the default and are reported, field by field.
        let bad = decode("v=1&m=llama-3.1-8b&in=0&out=99999999999&rps=-2");
        let mut ignored = bad.ignored.clone();
        ignored.sort();
        assert_eq!(ignored, ["in", "out", "rps"]);
        assert_eq!(
            bad.state.settings,
            Settings {
                seqs: 1,
                ..old.state.settings
            }
        );
        for rps in ["0", "abc", "1e9", "0.0001"] {
            let d = decode(&format!("m=llama-3.1-8b&rps={rps}"));
            assert_eq!(d.ignored, ["rps"], "{rps}");
            assert_eq!(d.state.settings.rate, None);
        }
    }

    #[test]
    fn a_hub_model_link_carries_only_the_repo() {
        let d = decode("v=1&m=hf:Qwen/Qwen3-235B-A22B-FP8&q=fp8&ctx=32768");
        assert!(d.ignored.is_empty(), "{:?}", d.ignored);
        assert_eq!(
            d.state.model,
            ModelChoice::Hub(HubModel {
                repo: "Qwen/Qwen3-235B-A22B-FP8".into(),
                loaded: None
            })
        );
        assert_eq!(d.state.settings.context, 32768);
        // Until its config.json is read, the default model is priced.
        assert_eq!(d.state.resolve_model().id, DEFAULT_MODEL_ID);
        let loaded = ShareState {
            model: ModelChoice::Hub(HubModel {
                repo: "Qwen/Qwen3-235B-A22B-FP8".into(),
                loaded: Some(CustomSpec {
                    name: "Qwen3-235B-A22B-FP8".into(),
                    params_billions: 235.0,
                    hf_path: Some("Qwen/Qwen3-235B-A22B-FP8".into()),
                    architecture: None,
                }),
            }),
            ..d.state.clone()
        };
        assert_eq!(
            encode(&loaded),
            "v=1&m=hf:Qwen/Qwen3-235B-A22B-FP8&q=fp8&ctx=32768&seq=1"
        );
        for bad in ["hf:", "hf:noslash", "hf:a/b/c", "hf:../x", "hf:a/<b>"] {
            let d = decode(&format!("m={bad}"));
            assert_eq!(d.ignored, ["m"], "{bad}");
            assert_eq!(d.state.model, ShareState::default().model, "{bad}");
        }
    }

    #[test]
    fn custom_models_survive_names_with_any_characters() {
        let state = ShareState {
            model: ModelChoice::Custom(CustomSpec {
                name: "My model & co: 100% <fine>".into(),
                params_billions: 13.5,
                hf_path: Some("org/model".into()),
                architecture: builtin("mistral-7b").unwrap().architecture,
            }),
            settings: Settings {
                quantization: Quantization::Int4,
                context: 4096,
                seqs: 2,
                kv_dtype: KvDtype::Fp8E4m3,
                gpus: 2,
                input_tokens: 128,
                output_tokens: 4096,
                rate: Some(Rate::new("rate", 0.25).unwrap()),
            },
            gpu: Some("gpu_2x_a100".into()),
            mode: EstimateMode::Reference,
            nodes: 1,
            replicas: 1,
            targets: TargetLimits {
                ttft_max_ms: Some(1500.0),
                tpot_max_ms: Some(12.5),
            },
        };
        let d = decode(&encode(&state));
        assert!(d.ignored.is_empty(), "{:?}", d.ignored);
        assert_eq!(d.state, state);
    }

    #[test]
    fn nodes_and_replicas_ride_in_short_keys_only_when_not_one() {
        // Old links (no `nd`, no `rep`) decode to one instance, and a one-instance state
        // writes neither key, so every existing link stays as it was.
        let old = "v=1&m=llama-3.1-70b&q=int4&ctx=8192&seq=4&n=8&gpu=gpu_8x_h100_sxm5";
        let d = decode(old);
        assert!(d.ignored.is_empty(), "{:?}", d.ignored);
        assert_eq!((d.state.nodes, d.state.replicas), (1, 1));
        assert_eq!(encode(&d.state), old);
        let two = ShareState {
            model: ModelChoice::Builtin("deepseek-r1-671b".into()),
            gpu: Some("gpu_8x_h100_sxm5".into()),
            nodes: 2,
            replicas: 3,
            ..ShareState::default()
        };
        let query = encode(&two);
        assert!(
            query.ends_with("&gpu=gpu_8x_h100_sxm5&nd=2&rep=3"),
            "{query}"
        );
        let d = decode(&query);
        assert!(d.ignored.is_empty(), "{:?}", d.ignored);
        assert_eq!((d.state.nodes, d.state.replicas), (2, 3));
        assert_eq!(decode("rep=16").state.replicas, 16);
    }

    #[test]
    fn service_level_targets_ride_in_the_link_and_bad_ones_are_reported() {
        // Old links have none; a state without targets writes neither key.
        let old = "v=1&m=llama-3.1-8b&q=fp16&ctx=8192&seq=64&rps=4";
        let d = decode(old);
        assert!(d.ignored.is_empty() && d.state.targets.is_empty(), "{d:?}");
        assert_eq!(encode(&d.state), old);
        let with = format!("{old}&ttft=1500&tpot=30");
        let d = decode(&with);
        assert!(d.ignored.is_empty(), "{:?}", d.ignored);
        assert_eq!(
            d.state.targets,
            TargetLimits {
                ttft_max_ms: Some(1500.0),
                tpot_max_ms: Some(30.0)
            }
        );
        assert_eq!(encode(&d.state), with);
        for (query, field) in [
            ("ttft=0", "ttft"),
            ("tpot=-5", "tpot"),
            ("tpot=fast", "tpot"),
            ("ttft=600001", "ttft"),
        ] {
            let d = decode(query);
            assert_eq!(d.ignored, vec![field.to_string()], "{query}");
            assert!(d.state.targets.is_empty(), "{query}");
        }
    }

    #[test]
    fn bad_nodes_and_replicas_fall_back_to_one_and_are_reported() {
        for (query, field) in [
            ("nd=3", "nd"),
            ("nd=0", "nd"),
            ("nd=two", "nd"),
            ("nd=-1", "nd"),
            // Two nodes of a one-GPU type cannot hold TP 16 or PP 2 × TP 8.
            ("gpu=gpu_1x_a10&nd=2", "nd"),
            ("rep=0", "rep"),
            ("rep=17", "rep"),
            ("rep=1.5", "rep"),
        ] {
            let d = decode(query);
            assert_eq!(d.ignored, vec![field.to_string()], "{query}");
            assert_eq!((d.state.nodes, d.state.replicas), (1, 1), "{query}");
        }
        // The rest of the link still applies.
        let d = decode("gpu=gpu_1x_a10&nd=2&seq=4");
        assert_eq!(
            (d.state.gpu.as_deref(), d.state.settings.seqs),
            (Some("gpu_1x_a10"), 4)
        );
    }

    fn arb_state() -> impl Strategy<Value = ShareState> {
        let builtin_ids: Vec<String> = crate::registry::builtins()
            .iter()
            .map(|m| m.id.clone())
            .collect();
        let arch = prop_oneof![
            Just(None),
            (1u32..200, 1u32..64).prop_map(|(layers, kv)| {
                let kv = [1, 2, 4, 8, 16, 32, 64][(kv % 7) as usize];
                Some(Architecture {
                    layers,
                    hidden: 4096,
                    intermediate: 11008,
                    heads: 64,
                    kv_heads: kv,
                    head_dim: 64,
                    vocab: 32000,
                    tied_embeddings: layers % 2 == 0,
                    attention_bias: layers % 3 == 0,
                    sliding_window: None,
                    max_context: 65_536,
                    ..Architecture::DENSE
                })
            })
        ];
        let custom = (
            "[ -~]{1,40}",
            0.1f64..1000.0,
            prop::option::of("[a-z]{1,8}/[A-Za-z0-9]{1,8}"),
            arch,
        )
            .prop_map(|(name, params_billions, hf_path, architecture)| {
                ModelChoice::Custom(CustomSpec {
                    name,
                    params_billions,
                    hf_path,
                    architecture,
                })
            });
        let hub = "[a-z][a-z0-9]{0,8}/[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,4}(\\.[0-9])?)?"
            .prop_map(|repo| ModelChoice::Hub(HubModel { repo, loaded: None }));
        let model = prop_oneof![
            prop::sample::select(builtin_ids).prop_map(ModelChoice::Builtin),
            custom,
            hub
        ];
        (
            model,
            prop::sample::select(Quantization::ALL.to_vec()),
            0.0f64..1.0,
            1u32..=MAX_SEQS,
            prop::sample::select(KvDtype::ALL.to_vec()),
            prop::sample::select(GPU_COUNTS.to_vec()),
            prop::option::of(prop::sample::select(
                gpu::CATALOG
                    .iter()
                    .map(|g| g.instance_type.to_string())
                    .collect::<Vec<_>>(),
            )),
            prop::bool::ANY,
            1u32..=crate::multi_node::MAX_NODES,
            1u32..=MAX_REPLICAS,
            (
                1u32..=MAX_WORKLOAD_TOKENS,
                1u32..=MAX_WORKLOAD_TOKENS,
                prop::option::of(1u32..=1_000_000_000),
                prop::option::of(1u32..=600_000_000),
                prop::option::of(1u32..=600_000_000),
            ),
        )
            .prop_map(
                |(
                    model,
                    quantization,
                    ctx_share,
                    seqs,
                    kv_dtype,
                    gpus,
                    gpu,
                    reference,
                    nodes,
                    replicas,
                    (input_tokens, output_tokens, rate_milli, ttft_micro, tpot_micro),
                )| {
                    let probe = ShareState {
                        model: model.clone(),
                        ..ShareState::default()
                    };
                    let max = match &model {
                        ModelChoice::Custom(s) if s.architecture.is_none() => 1 << 20,
                        ModelChoice::Hub(_) => 1 << 20,
                        _ => probe.resolve_model().max_context(),
                    };
                    let context = MIN_CONTEXT + ((f64::from(max - MIN_CONTEXT)) * ctx_share) as u32;
                    // Two nodes only with no type or an 8-GPU one.
                    let eight = gpu
                        .as_deref()
                        .and_then(gpu::find)
                        .is_none_or(|g| g.gpu_count == crate::multi_node::GPUS_PER_NODE);
                    let nodes = if eight { nodes } else { 1 };
                    ShareState {
                        model,
                        settings: Settings {
                            quantization,
                            context,
                            seqs,
                            kv_dtype,
                            gpus,
                            input_tokens,
                            output_tokens,
                            rate: rate_milli.map(|m| {
                                Rate::new("rate", f64::from(m) / 1000.0).expect("in range")
                            }),
                        },
                        gpu,
                        mode: if reference {
                            EstimateMode::Reference
                        } else {
                            EstimateMode::Serving
                        },
                        nodes,
                        replicas,
                        targets: TargetLimits {
                            ttft_max_ms: ttft_micro.map(|m| f64::from(m) / 1000.0),
                            tpot_max_ms: tpot_micro.map(|m| f64::from(m) / 1000.0),
                        },
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn every_state_round_trips(state in arb_state()) {
            let query = encode(&state);
            let d = decode(&query);
            prop_assert!(d.ignored.is_empty(), "{query}: {:?}", d.ignored);
            prop_assert_eq!(d.state, state);
        }

        #[test]
        fn decoding_never_panics(query in ".{0,200}") {
            let _ = decode(&query);
        }
    }
}
