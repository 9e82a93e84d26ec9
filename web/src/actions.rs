//! What each control does to the calculator state, and the plan the page exports.
//! The state is `core::share::ShareState`, so the URL always round-trips it.

use gpu_session_core::gpu::{self, GpuType, CATALOG};
use gpu_session_core::multi_node::{self, Layout, GPUS_PER_NODE, MAX_NODES};
use gpu_session_core::plan::{default_gpu, Group, Plan, PlanChoices, PlanError, PlanRequest};
use gpu_session_core::present;
use gpu_session_core::recommend::Recommendation;
use gpu_session_core::registry::{
    builtin, Model, CUSTOM_DEFAULT_PARAMS_BILLIONS, CUSTOM_DEFAULT_QUANTIZATION,
};
use gpu_session_core::service_level::{self, ServiceLevel};
use gpu_session_core::serving;
use gpu_session_core::settings::{EstimateMode, Rate, Settings, GPU_COUNTS};
use gpu_session_core::share::{self, CustomSpec, HubModel, ModelChoice, ShareState};
use gpu_session_core::speed::MAX_WORKLOAD_TOKENS;
use gpu_session_core::Architecture;

/// Longest context the sliders offer a custom model described by its size alone.
pub const CUSTOM_CONTEXT_LIMIT: u32 = 131_072;
/// Context a newly described custom model starts at (core's, as the CLI's).
pub use gpu_session_core::registry::CUSTOM_DEFAULT_CONTEXT;

/// Show a built-in model at its own defaults (the estimate mode stays).
pub fn select_builtin(state: &ShareState, id: &str) -> ShareState {
    let Some(model) = builtin(id) else {
        return state.clone();
    };
    ShareState {
        model: ModelChoice::Builtin(model.id.clone()),
        settings: Settings::defaults_for(model),
        gpu: None,
        mode: state.mode,
        nodes: state.nodes,
        replicas: state.replicas,
        targets: state.targets,
    }
}

/// The custom model a fresh "Custom" card starts with: core's default size, as
/// `gpu-session models add` offers it.
pub fn default_custom_spec() -> CustomSpec {
    CustomSpec {
        name: "Custom model".into(),
        params_billions: CUSTOM_DEFAULT_PARAMS_BILLIONS,
        hf_path: None,
        architecture: None,
    }
}

/// Show a custom model; when switching from a built-in, start at core's default
/// quantization and context for a custom model (FP16, 8K).
pub fn set_custom(state: &ShareState, spec: CustomSpec) -> ShareState {
    let mut next = state.clone();
    // A Hub model is custom too: its link's settings stay when its config.json arrives.
    if !matches!(state.model, ModelChoice::Custom(_) | ModelChoice::Hub(_)) {
        next.settings = Settings {
            quantization: CUSTOM_DEFAULT_QUANTIZATION,
            context: CUSTOM_DEFAULT_CONTEXT,
            ..Settings::defaults_for(&state.resolve_model())
        };
        next.settings.seqs = 1;
        next.settings.gpus = 1;
        next.gpu = None;
    }
    next.settings.context = next.settings.context.min(context_limit_for(&spec));
    next.model = ModelChoice::Custom(spec);
    next
}

/// A custom model described by a pasted `config.json`: the architecture is exact and
/// the size follows from it.
pub fn custom_from_config(current: Option<&CustomSpec>, arch: Architecture) -> CustomSpec {
    let base = current.cloned().unwrap_or_else(default_custom_spec);
    CustomSpec {
        params_billions: arch.param_count() as f64 / 1e9,
        architecture: Some(arch),
        ..base
    }
}

/// Longest context the controls offer for a custom model.
pub fn context_limit_for(spec: &CustomSpec) -> u32 {
    spec.architecture
        .map_or(CUSTOM_CONTEXT_LIMIT, |a| a.max_context)
}

/// Longest context the controls offer for the state's model.
pub fn context_limit(state: &ShareState) -> u32 {
    match &state.model {
        ModelChoice::Custom(spec)
        | ModelChoice::Hub(HubModel {
            loaded: Some(spec), ..
        }) => context_limit_for(spec),
        ModelChoice::Builtin(_) | ModelChoice::Hub(_) => state.resolve_model().max_context(),
    }
}

/// The custom model the editor shows: the state's own, the one read from a Hub
/// repository, else a fresh one.
pub fn editable_custom_spec(state: &ShareState) -> CustomSpec {
    match &state.model {
        ModelChoice::Custom(spec)
        | ModelChoice::Hub(HubModel {
            loaded: Some(spec), ..
        }) => spec.clone(),
        _ => default_custom_spec(),
    }
}

/// The state `custom_query` (the extras module's answer for `repo`'s config.json, a
/// link with the model as a custom one) describes, with the model marked as read from
/// `repo`, so the share link names the repository only.
pub fn hub_model_loaded(repo: &str, custom_query: &str) -> Result<ShareState, String> {
    let decoded = share::decode(custom_query);
    match decoded.state.model {
        ModelChoice::Custom(spec) if spec.architecture.is_some() => Ok(ShareState {
            model: ModelChoice::Hub(HubModel {
                repo: repo.to_string(),
                loaded: Some(spec),
            }),
            ..decoded.state
        }),
        _ => Err(format!("{repo}: its config.json did not describe a model")),
    }
}

/// The state as the page and the extras module's editor hand it to each other: a
/// share link's query, except that a Hub model already read from its config.json
/// travels as the custom model it was read into, with its repository in
/// `loaded_from=` (a link names the repository only, and each side would otherwise
/// have to fetch the config again). [`from_transport`] reads it back.
pub fn to_transport(state: &ShareState) -> String {
    match &state.model {
        ModelChoice::Hub(HubModel {
            repo,
            loaded: Some(spec),
        }) => {
            let custom = ShareState {
                model: ModelChoice::Custom(spec.clone()),
                ..state.clone()
            };
            format!("{}&{LOADED_FROM_PARAM}={repo}", share::encode(&custom))
        }
        _ => share::encode(state),
    }
}

/// The state [`to_transport`] wrote.
pub fn from_transport(text: &str) -> ShareState {
    let (query, repo) = match text.rsplit_once(&format!("&{LOADED_FROM_PARAM}=")) {
        Some((query, repo)) => (query, Some(repo)),
        None => (text, None),
    };
    repo.and_then(|repo| hub_model_loaded(repo, query).ok())
        .unwrap_or_else(|| share::decode(query).state)
}

/// See [`to_transport`].
const LOADED_FROM_PARAM: &str = "loaded_from";

/// The Hub the page reads `config.json` from.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";
/// The page parameter that points the page at a local Hub (tests); loopback only.
pub const HF_ENDPOINT_PARAM: &str = "hf_endpoint";

/// `value` when it is exactly a loopback Hub address, `http://127.0.0.1:<port>`
/// (an optional trailing `/` dropped): a link can point the page at a test Hub on
/// the visitor's own machine and nowhere else.
pub fn loopback_endpoint(value: &str) -> Option<String> {
    let value = value.strip_suffix('/').unwrap_or(value);
    let port = value.strip_prefix("http://127.0.0.1:")?;
    let ok = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && !port.starts_with('0')
        && port.parse::<u32>().is_ok_and(|p| p <= 65_535);
    ok.then(|| value.to_string())
}

/// A Hub address the page itself names (`<meta name="hf-endpoint">`): an http(s)
/// origin with nothing that could break out of a URL.
pub fn page_endpoint(value: &str) -> Option<String> {
    let value = value.trim().trim_end_matches('/');
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))?;
    let ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'/' | b'_'));
    ok.then(|| value.to_string())
}

/// `query` without the page parameter `hf_endpoint`, and that parameter's value when
/// it is a loopback Hub (see `loopback_endpoint`; any other value is dropped unread).
pub fn split_hf_endpoint(query: &str) -> (String, Option<String>) {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut endpoint = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|piece| match piece.split_once('=') {
            Some((HF_ENDPOINT_PARAM, v)) => {
                let v = v
                    .replace("%3A", ":")
                    .replace("%3a", ":")
                    .replace("%2F", "/")
                    .replace("%2f", "/");
                endpoint = loopback_endpoint(&v);
                false
            }
            _ => *piece != HF_ENDPOINT_PARAM,
        })
        .collect();
    (rest.join("&"), endpoint)
}

/// Where `repo`'s `config.json` lives on the Hub at `endpoint`.
pub fn hf_config_url(endpoint: &str, repo: &str) -> String {
    format!("{endpoint}/{repo}/resolve/main/config.json")
}

/// Pick (or clear) an instance type, one instance of it; its GPU count becomes the
/// tensor-parallel size.
pub fn select_gpu(state: &ShareState, instance_type: Option<&str>) -> ShareState {
    let mut next = state.clone();
    next.nodes = 1;
    match instance_type.and_then(gpu::find) {
        Some(g) => {
            next.gpu = Some(g.instance_type.to_string());
            next.settings.gpus = g.gpu_count;
        }
        None => next.gpu = None,
    }
    next
}

/// Change the GPU count. A selected instance type follows to the same GPU with that
/// many GPUs when Lambda offers one, and is cleared otherwise.
pub fn set_gpu_count(state: &ShareState, count: u32) -> ShareState {
    if !GPU_COUNTS.contains(&count) {
        return state.clone();
    }
    let mut next = state.clone();
    next.settings.gpus = count;
    if count != GPUS_PER_NODE {
        next.nodes = 1;
    }
    if let Some(current) = state.gpu.as_deref().and_then(gpu::find) {
        if current.gpu_count != count {
            next.gpu = CATALOG
                .iter()
                .find(|g| {
                    g.gpu == current.gpu
                        && g.nominal_memory_gb == current.nominal_memory_gb
                        && g.gpu_count == count
                })
                .map(|g| g.instance_type.to_string());
        }
    }
    next
}

/// Serve the model on two instances of the 8-GPU type `instance_type` (one model over
/// both nodes, as `gpu-session plan --nodes 2 --gpu TYPE`); any other type leaves the
/// state as it was.
pub fn select_two_nodes(state: &ShareState, instance_type: &str) -> ShareState {
    match gpu::find(instance_type) {
        Some(g) if g.gpu_count == GPUS_PER_NODE => ShareState {
            nodes: MAX_NODES,
            ..select_gpu(state, Some(instance_type))
        },
        _ => state.clone(),
    }
}

/// Whether two instances might serve the state's model for less than one, or serve it
/// where one cannot: serving estimate, and no single instance fits or some offered
/// 8-GPU type costs less twice over than the cheapest single fit. Core's
/// `multi_node::two_node_options` only ever shows options under this condition (it
/// adds that the layout fits), so the page loads them from gpu-session-extras only
/// then, without carrying the two-node sizing itself.
pub fn two_nodes_worth_a_look(rec: &Recommendation) -> bool {
    if rec.mode != EstimateMode::Serving {
        return false;
    }
    let single = rec.cheapest().map(|r| r.price_per_hour_usd);
    CATALOG.iter().any(|g| {
        g.offered
            && g.gpu_count == GPUS_PER_NODE
            && single.is_none_or(|p| f64::from(MAX_NODES) * g.price_per_hour_usd() < p)
    })
}

/// Rate a newly chosen "request rate" load starts at, requests per second.
pub const DEFAULT_RATE_PER_S: f64 = 1.0;

/// The state with its settings changed by `change`: what every settings control does.
pub fn with_settings(state: &ShareState, change: impl FnOnce(&mut Settings)) -> ShareState {
    let mut next = state.clone();
    change(&mut next.settings);
    next
}

/// Set the prompt tokens per request (clamped to what a workload may name).
pub fn set_input_tokens(state: &ShareState, tokens: u32) -> ShareState {
    with_settings(state, |s| {
        s.input_tokens = tokens.clamp(1, MAX_WORKLOAD_TOKENS)
    })
}

/// Set the output tokens per request (clamped to what a workload may name).
pub fn set_output_tokens(state: &ShareState, tokens: u32) -> ShareState {
    with_settings(state, |s| {
        s.output_tokens = tokens.clamp(1, MAX_WORKLOAD_TOKENS)
    })
}

/// Load the server with a request rate (`true`; the current one, else
/// [`DEFAULT_RATE_PER_S`]) or with the concurrent sequences (`false`).
pub fn use_rate(state: &ShareState, on: bool) -> ShareState {
    with_settings(state, |s| {
        s.rate = if on {
            s.rate
                .or_else(|| Rate::new("rate", DEFAULT_RATE_PER_S).ok())
        } else {
            None
        };
    })
}

/// Set the request rate from the text of its input; text that is not a rate core
/// accepts leaves the state as it was.
pub fn set_rate(state: &ShareState, text: &str) -> ShareState {
    match text.parse::<Rate>() {
        Ok(rate) => with_settings(state, |s| s.rate = Some(rate)),
        Err(_) => state.clone(),
    }
}

/// Set the TTFT target (`tpot` false) or the TPOT target from its input's text: empty
/// clears it; anything core refuses (`service_level::parse_target_ms`) keeps the
/// previous one.
pub fn set_target(state: &ShareState, tpot: bool, text: &str) -> ShareState {
    let mut next = state.clone();
    let slot = if tpot {
        &mut next.targets.tpot_max_ms
    } else {
        &mut next.targets.ttft_max_ms
    };
    if text.trim().is_empty() {
        *slot = None;
    } else if let Some(ms) = service_level::parse_target_ms(text) {
        *slot = Some(ms);
    }
    next
}

/// The service level for the state: only with targets at a request rate and the
/// serving estimate (the choice sizes SGLang replicas), core's choice on the rows of
/// `rec` (the state's recommendation).
pub fn service_level(
    state: &ShareState,
    model: &Model,
    rec: &Recommendation,
) -> Option<ServiceLevel> {
    let rate = state.settings.rate?;
    if state.mode != EstimateMode::Serving || state.targets.is_empty() {
        return None;
    }
    Some(service_level::choose_from(
        model,
        rec,
        &state.targets.at(rate),
    ))
}

/// What the GPU table shows of a service level: the sentence, and per instance type
/// its cell. The extras module computes it (`crate::extras::service_view`) and hands it
/// to the page as text ([`ServiceView::to_text`]), so the page carries no service-level
/// code.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceView {
    pub sentence: String,
    pub cells: Vec<ServiceCell>,
}

/// One row's service-level cell.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCell {
    pub instance_type: String,
    /// "2 × · $4.58/hour", or "no: tpot binds".
    pub text: String,
    /// Why: the row's reason.
    pub title: String,
    /// The choice's own row: what it is ("2 instances behind one gateway").
    pub choice: Option<String>,
}

impl ServiceView {
    /// The service level as the table shows it.
    pub fn of(level: &ServiceLevel) -> ServiceView {
        let cells = level
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| ServiceCell {
                instance_type: r.gpu.instance_type.to_string(),
                text: if r.meets {
                    format!("{} × · {}/hour", r.replicas, present::usd(r.usd_per_hour))
                } else {
                    format!("no: {} binds", r.binding.as_str())
                },
                title: r.reason.clone(),
                choice: (level.cheapest == Some(i)).then(|| r.instances()),
            })
            .collect();
        ServiceView {
            sentence: level.sentence(),
            cells,
        }
    }

    /// One line each: the sentence, then per row its instance type, text, title and
    /// choice, tab-separated (none of them holds a tab or a line break once
    /// [`one_line`] has passed over it).
    pub fn to_text(&self) -> String {
        let mut out = one_line(&self.sentence);
        for c in &self.cells {
            out.push('\n');
            let choice = c.choice.as_deref().unwrap_or("");
            for (i, field) in [&c.instance_type, &c.text, &c.title, choice]
                .into_iter()
                .enumerate()
            {
                if i > 0 {
                    out.push('\t');
                }
                out.push_str(&one_line(field));
            }
        }
        out
    }

    /// What [`ServiceView::to_text`] wrote; `None` for an empty text (no service level).
    pub fn from_text(text: &str) -> Option<ServiceView> {
        let mut lines = text.lines();
        let sentence = lines.next().filter(|s| !s.is_empty())?.to_string();
        let cells = lines
            .filter_map(|line| {
                let mut f = line.split('\t');
                Some(ServiceCell {
                    instance_type: f.next()?.to_string(),
                    text: f.next()?.to_string(),
                    title: f.next()?.to_string(),
                    choice: f.next().filter(|c| !c.is_empty()).map(str::to_string),
                })
            })
            .collect();
        Some(ServiceView { sentence, cells })
    }

    /// The cell of `instance_type`: "-" for a type the service level leaves out (not
    /// offered, or the model does not run on it).
    pub fn cell(&self, instance_type: &str) -> ServiceCell {
        self.cells
            .iter()
            .find(|c| c.instance_type == instance_type)
            .cloned()
            .unwrap_or_else(|| ServiceCell {
                instance_type: instance_type.to_string(),
                text: "-".to_string(),
                title: "not offered, or the model does not run on it".to_string(),
                choice: None,
            })
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

/// The instance type a plan is exported for: the selected one, else core's default
/// (the cheapest type the serving estimate fits), as `gpu-session plan` picks it.
pub fn plan_gpu(state: &ShareState) -> Option<&'static GpuType> {
    match state.gpu.as_deref().and_then(gpu::find) {
        Some(g) => Some(g),
        None => default_gpu(&state.resolve_model(), &state.settings),
    }
}

/// `plan.yaml` for the state, byte for byte what `gpu-session plan` writes for the same
/// choices (`PlanRequest::resolve` with nothing but the GPU chosen, then
/// `Plan::build(..).to_yaml()`), or the reason it cannot be built.
pub fn plan_yaml(state: &ShareState) -> Result<String, String> {
    plan_for(state).and_then(|plan| plan.to_yaml().map_err(|e| e.to_string()))
}

/// The plan `gpu-session plan` builds for the state's choices, or why there is none.
/// The page calls this to enable its download button without writing YAML (the
/// writer lives in the separately loaded `gpu-session-extras`).
pub fn plan_for(state: &ShareState) -> Result<Plan, String> {
    let model = state.resolve_model();
    let state = &by_service_level(&model, state)?;
    let group = Group {
        replicas: state.replicas,
        min_replicas: None,
        nodes: state.nodes,
        pipeline_parallel: pipeline_stages(&model, state),
    };
    Plan::build(&plan_request(&model, state)?)
        .and_then(|plan| plan.with_group(group))
        .map_err(|e| e.to_string())
}

/// Pipeline stages of the state's plan: one per node (`gpu-session plan --nodes 2`'s
/// default), except where the two-node estimate recommends TP 16 (PP 2 × TP 8 does not
/// fit), the layout the two-instance options show (`--pipeline-parallel 1`).
fn pipeline_stages(model: &Model, state: &ShareState) -> u32 {
    let Some(gpu) = state
        .gpu
        .as_deref()
        .and_then(gpu::find)
        .filter(|_| state.nodes > 1)
    else {
        return state.nodes;
    };
    let settings =
        gpu_session_core::recommend::recommend(model, &state.settings, EstimateMode::Serving, None)
            .settings;
    match multi_node::two_nodes(model, &settings, gpu, &settings.workload()) {
        Ok(e) if e.recommended == Some(Layout::Tp16) => 1,
        _ => state.nodes,
    }
}

/// The state a plan is written for. With service-level targets at a request rate and
/// no instance type chosen: the service level's choice, its type, one replica's
/// settings and the replica count (what `gpu-session plan --rate R --ttft-max/--tpot-max`
/// writes); else the state itself.
fn by_service_level(model: &Model, state: &ShareState) -> Result<ShareState, String> {
    let (Some(rate), None, 1) = (state.settings.rate, &state.gpu, state.nodes) else {
        return Ok(state.clone());
    };
    let rec =
        gpu_session_core::recommend::recommend(model, &state.settings, EstimateMode::Serving, None);
    let Some(level) = service_level(state, model, &rec) else {
        return Ok(state.clone());
    };
    let choice = level.choice().ok_or_else(|| level.sentence())?;
    Ok(ShareState {
        settings: choice.per_replica(state.settings, rate),
        gpu: Some(choice.gpu.instance_type.to_string()),
        replicas: choice.replicas,
        ..state.clone()
    })
}

/// Whether [`plan_for`] refuses the state's choices before building anything (no
/// instance type fits, no checkpoint at this quantization), in the same words. The
/// page enables its download with this, so its first download holds neither the plan
/// nor the file's validation; what only that validation could refuse shows when
/// `gpu-session-extras` writes the plan.
pub fn plan_refusal(state: &ShareState) -> Result<(), String> {
    let model = state.resolve_model();
    plan_request(&model, state)?
        .prepare()
        .map(|_| ())
        .map_err(|e| PlanError::from(e).to_string())
}

/// The request `gpu-session plan` resolves for the state: nothing chosen but the GPU.
fn plan_request<'a>(model: &'a Model, state: &ShareState) -> Result<PlanRequest<'a>, String> {
    let choices = PlanChoices {
        gpu: state.gpu.as_deref().and_then(gpu::find),
        ..PlanChoices::default()
    };
    PlanRequest::resolve(model, state.settings, &choices).map_err(|e| e.to_string())
}

/// What memory depends on beyond the breakdown, in the CLI's words: total and active
/// parameters, the routed experts' share of the weights, KV by layer kind.
pub fn model_facts(model: &Model, rec: &Recommendation) -> Vec<String> {
    let arch = model.effective_architecture().0;
    let experts = serving::expert_weights_per_gpu(&arch, rec.settings.quantization, rec.serving.tp);
    std::iter::once(present::parameters_sentence(model))
        .chain(present::experts_sentence(experts, rec.serving.weights))
        .chain(present::kv_by_layer_kind_sentence(&rec.serving.kv_layout))
        .collect()
}

/// The command that launches an exported plan.
pub const LAUNCH_COMMAND: &str = "gpu-session launch plan.yaml";

#[cfg(test)]
mod tests {
    use super::*;
    use gpu_session_core::recommend::recommend;
    use gpu_session_core::settings::EstimateMode;
    use gpu_session_core::share::{decode, encode};
    use gpu_session_core::Quantization;

    #[test]
    fn only_a_loopback_hub_can_be_named_by_the_link() {
        assert_eq!(
            loopback_endpoint("http://127.0.0.1:8080/").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        for bad in [
            "https://127.0.0.1:8080",
            "http://127.0.0.1",
            "http://127.0.0.1:",
            "http://127.0.0.1:080",
            "http://127.0.0.1:70000",
            "http://127.0.0.1:80/x",
            "http://127.0.0.1:80@evil.example",
            "http://evil.example",
            "javascript:alert(1)",
        ] {
            assert_eq!(loopback_endpoint(bad), None, "{bad}");
        }
        let (rest, endpoint) =
            split_hf_endpoint("?v=1&hf_endpoint=http%3A%2F%2F127.0.0.1%3A9&m=hf:a/b");
        assert_eq!(rest, "v=1&m=hf:a/b");
        assert_eq!(endpoint.as_deref(), Some("http://127.0.0.1:9"));
        let (rest, endpoint) = split_hf_endpoint("hf_endpoint=https://evil.example&q=int4");
        assert_eq!((rest.as_str(), endpoint), ("q=int4", None));
        assert_eq!(
            page_endpoint("https://hf-mirror.example/ ").as_deref(),
            Some("https://hf-mirror.example")
        );
        assert_eq!(page_endpoint("https://x\"><script>"), None);
        assert_eq!(
            hf_config_url(DEFAULT_HF_ENDPOINT, "Qwen/Qwen3-32B"),
            "https://huggingface.co/Qwen/Qwen3-32B/resolve/main/config.json"
        );
    }

    #[test]
    fn choosing_a_model_resets_its_settings_and_keeps_the_mode() {
        let mut s = ShareState {
            mode: EstimateMode::Reference,
            ..ShareState::default()
        };
        s.settings.seqs = 9;
        let next = select_builtin(&s, "mistral-7b");
        assert_eq!(next.model, ModelChoice::Builtin("mistral-7b".into()));
        assert_eq!(
            next.settings,
            Settings::defaults_for(builtin("mistral-7b").unwrap())
        );
        assert_eq!(next.mode, EstimateMode::Reference);
        assert_eq!(select_builtin(&s, "nope"), s);
    }

    #[test]
    fn gpu_selection_and_count_stay_consistent() {
        let s = select_gpu(&ShareState::default(), Some("gpu_2x_a100"));
        assert_eq!(s.settings.gpus, 2);
        let four = set_gpu_count(&s, 4);
        assert_eq!(four.gpu.as_deref(), Some("gpu_4x_a100"));
        let none = set_gpu_count(&select_gpu(&s, Some("gpu_1x_a10")), 8);
        assert_eq!((none.gpu, none.settings.gpus), (None, 8));
        assert_eq!(set_gpu_count(&s, 3), s);
        assert_eq!(select_gpu(&s, None).gpu, None);
        // Every transition still round-trips through a link.
        assert_eq!(decode(&encode(&four)).state, four);
    }

    #[test]
    fn workload_controls_change_the_settings_and_ride_in_the_link() {
        let s = ShareState::default();
        let w = set_output_tokens(&set_input_tokens(&s, 4000), 250);
        assert_eq!(
            (w.settings.input_tokens, w.settings.output_tokens),
            (4000, 250)
        );
        assert_eq!(set_input_tokens(&s, 0).settings.input_tokens, 1);
        assert_eq!(
            set_output_tokens(&s, u32::MAX).settings.output_tokens,
            MAX_WORKLOAD_TOKENS
        );
        let rated = use_rate(&w, true);
        assert_eq!(
            rated.settings.rate.map(Rate::per_s),
            Some(DEFAULT_RATE_PER_S)
        );
        let rated = set_rate(&rated, " 2.5 ");
        assert_eq!(rated.settings.rate.map(Rate::per_s), Some(2.5));
        // Text core refuses leaves the rate; switching back and forth keeps it.
        for bad in ["", "abc", "-1", "0", "1e9", "NaN"] {
            assert_eq!(set_rate(&rated, bad), rated, "{bad}");
        }
        assert_eq!(use_rate(&rated, true), rated);
        let closed = use_rate(&rated, false);
        assert_eq!(closed.settings.rate, None);
        assert_eq!(closed.settings.seqs, s.settings.seqs);
        for state in [&w, &rated, &closed] {
            let d = decode(&encode(state));
            assert!(d.ignored.is_empty(), "{:?}", d.ignored);
            assert_eq!(&d.state, state);
        }
        let link = encode(&rated);
        assert!(
            link.contains("in=4000") && link.contains("out=250") && link.contains("rps=2.5"),
            "{link}"
        );
        // A link from before the workload existed decodes to the default workload.
        let old = decode("v=1&m=llama-3.1-8b&seq=4").state;
        assert_eq!(
            (
                old.settings.input_tokens,
                old.settings.output_tokens,
                old.settings.rate
            ),
            (1000, 1000, None)
        );
    }

    #[test]
    fn targets_set_as_core_accepts_them() {
        let s = ShareState::default();
        let t = set_target(&set_target(&s, false, " 250 "), true, "12.5");
        assert_eq!(
            (t.targets.ttft_max_ms, t.targets.tpot_max_ms),
            (Some(250.0), Some(12.5))
        );
        for bad in ["x", "0", "-3", "inf", "700000"] {
            assert_eq!(set_target(&t, true, bad), t, "{bad}");
        }
        assert_eq!(set_target(&t, true, "").targets.tpot_max_ms, None);
    }

    #[test]
    fn the_service_level_is_core_s_choice_on_the_page_s_rows() {
        let m = builtin("llama-3.1-8b").unwrap();
        let s = ShareState {
            model: ModelChoice::Builtin(m.id.clone()),
            settings: Settings::defaults_for(m),
            ..ShareState::default()
        };
        let level_of =
            |s: &ShareState| service_level(s, m, &recommend(m, &s.settings, s.mode, None));
        let targeted = set_target(&set_target(&s, false, "2000"), true, "50");
        // Without a rate, without targets, or in reference mode, there is none.
        assert_eq!(level_of(&targeted), None);
        let rated = set_rate(&use_rate(&targeted, true), "3");
        assert_eq!(
            level_of(&set_target(&set_target(&rated, false, ""), true, "")),
            None
        );
        let reference = ShareState {
            mode: EstimateMode::Reference,
            ..rated.clone()
        };
        assert_eq!(level_of(&reference), None);
        let level = level_of(&rated).unwrap();
        assert_eq!(
            level,
            service_level::choose(
                m,
                &rated.settings,
                &rated.targets.at(rated.settings.rate.unwrap())
            )
        );
        let choice = level.choice().unwrap();
        // The table's view of it crosses between the modules as text, unchanged.
        let view = ServiceView::of(&level);
        assert_eq!(ServiceView::from_text(&view.to_text()), Some(view.clone()));
        assert_eq!(ServiceView::from_text(""), None);
        assert_eq!(view.sentence, level.sentence());
        let chosen = view.cell(choice.gpu.instance_type);
        assert_eq!(chosen.choice, Some(choice.instances()));
        assert_eq!(view.cell("no_such_type").text, "-");
    }

    #[test]
    fn a_plan_at_service_level_targets_is_the_choice_s_replicas() {
        let m = builtin("llama-3.1-8b").unwrap();
        let s = select_builtin(&ShareState::default(), &m.id);
        let rated = set_rate(&use_rate(&s, true), "40");
        let state = set_target(&rated, true, "30");
        let targets = state.targets.at(state.settings.rate.unwrap());
        let level = service_level::choose(m, &state.settings, &targets);
        let choice = level.choice().unwrap();
        assert!(choice.replicas > 1, "{}", level.sentence());
        let plan = plan_for(&state).unwrap();
        assert_eq!(plan.gpu.replicas, choice.replicas);
        assert_eq!(plan.gpu.instance_type, choice.gpu.instance_type);
        assert_eq!(
            plan.serving.max_running_requests,
            choice.concurrency_per_replica
        );
        // A chosen type is the visitor's: the plan is for it, one instance.
        let chosen = select_gpu(&state, Some("gpu_1x_h100_sxm5"));
        assert_eq!(plan_for(&chosen).unwrap().gpu.replicas, 1);
        // Targets no type meets: the plan says why.
        let impossible = set_target(&rated, true, "0.5");
        assert!(plan_for(&impossible)
            .unwrap_err()
            .starts_with("Nothing meets"));
    }

    #[test]
    fn two_nodes_of_an_eight_gpu_type_make_a_two_node_plan() {
        let s = select_builtin(&ShareState::default(), "deepseek-r1-671b");
        let rec = recommend(&s.resolve_model(), &s.settings, s.mode, None);
        assert!(two_nodes_worth_a_look(&rec));
        let small = ShareState::default();
        let small_rec = recommend(&small.resolve_model(), &small.settings, small.mode, None);
        assert!(!two_nodes_worth_a_look(&small_rec));
        let two = select_two_nodes(&s, "gpu_8x_h100_sxm5");
        assert_eq!(
            (two.nodes, two.gpu.as_deref()),
            (2, Some("gpu_8x_h100_sxm5"))
        );
        assert!(
            encode(&two).ends_with("&gpu=gpu_8x_h100_sxm5&nd=2"),
            "{}",
            encode(&two)
        );
        assert_eq!(select_two_nodes(&s, "gpu_1x_h100_sxm5"), s);
        let plan = plan_for(&two).unwrap();
        assert_eq!(
            (
                plan.gpu.nodes,
                plan.serving.pipeline_parallel,
                plan.serving.tensor_parallel
            ),
            (2, 2, 8)
        );
        // Where only TP 16 fits, the plan is TP 16 over both nodes, as the option shows.
        // (DeepSeek-R1's shape in FP32: a custom model, the built-in has no FP32 checkpoint.)
        let shape = builtin("deepseek-r1-671b").unwrap().architecture.unwrap();
        let spec = CustomSpec {
            hf_path: Some("org/deepseek-fp32".into()),
            ..custom_from_config(None, shape)
        };
        let mut fp32 = set_custom(&s, spec);
        fp32.settings.quantization = Quantization::Fp32;
        fp32.settings.context = 32_768;
        let fp32 = select_two_nodes(&fp32, "gpu_8x_b200_sxm6");
        let plan = plan_for(&fp32).unwrap();
        assert_eq!(
            (
                plan.gpu.nodes,
                plan.serving.pipeline_parallel,
                plan.serving.tensor_parallel
            ),
            (2, 1, 16)
        );
        // One instance again: a row of the table, or fewer GPUs.
        assert_eq!(select_gpu(&two, Some("gpu_8x_b200_sxm6")).nodes, 1);
        assert_eq!(set_gpu_count(&two, 4).nodes, 1);
        assert_eq!(set_gpu_count(&two, 8).nodes, 2);
    }

    #[test]
    fn custom_models_from_a_config() {
        let arch = builtin("qwen2.5-coder-32b").unwrap().architecture.unwrap();
        let spec = custom_from_config(None, arch);
        assert!((spec.params_billions - 32.763876352).abs() < 1e-9);
        let s = set_custom(&ShareState::default(), spec.clone());
        assert_eq!(s.settings.quantization, Quantization::Fp16);
        assert_eq!(s.settings.context, CUSTOM_DEFAULT_CONTEXT);
        assert_eq!(context_limit(&s), 32_768);
        let d = decode(&encode(&s));
        assert!(d.ignored.is_empty(), "{:?}", d.ignored);
        assert_eq!(d.state, s);
        // Without a repository there is no checkpoint to put in a plan.
        assert!(plan_yaml(&s).unwrap_err().contains("checkpoint"));
        let with_repo = CustomSpec {
            hf_path: Some("Qwen/Qwen2.5-Coder-32B-Instruct".into()),
            ..spec
        };
        let yaml = plan_yaml(&set_custom(&s, with_repo)).unwrap();
        assert!(
            yaml.contains("checkpoint: Qwen/Qwen2.5-Coder-32B-Instruct"),
            "{yaml}"
        );
    }

    #[test]
    fn plan_uses_the_selected_gpu_else_the_cheapest_fit() {
        let s = ShareState::default();
        let model = s.resolve_model();
        let cheapest = recommend(&model, &s.settings, EstimateMode::Serving, None)
            .cheapest()
            .unwrap()
            .gpu;
        let expected = Plan::build(&PlanRequest::new(&model, s.settings, cheapest))
            .unwrap()
            .to_yaml()
            .unwrap();
        assert_eq!(plan_yaml(&s).unwrap(), expected);
        let chosen = select_gpu(&s, Some("gpu_1x_h100_sxm5"));
        assert!(plan_yaml(&chosen)
            .unwrap()
            .contains("instance_type: gpu_1x_h100_sxm5"));
        // No INT8 checkpoint is known for Mistral: the plan explains why.
        let mut mistral = select_builtin(&s, "mistral-7b");
        mistral.settings.quantization = Quantization::Int8;
        assert!(plan_yaml(&mistral).unwrap_err().contains("int8"));
    }

    #[test]
    fn states_cross_between_page_and_editor_unchanged() {
        let qwen =
            include_str!("../../core/tests/fixtures/hf-configs/Qwen__Qwen3-235B-A22B-FP8.json");
        let repo = "Qwen/Qwen3-235B-A22B-FP8";
        let loaded_query = crate::extras::apply_hf_config("", repo, qwen).unwrap();
        let loaded = hub_model_loaded(repo, &loaded_query).unwrap();
        let not_yet_loaded = decode(&format!("m=hf:{repo}&ctx=4096")).state;
        let mut with_repo = default_custom_spec();
        with_repo.hf_path = Some("org/model".into());
        for state in [
            ShareState::default(),
            select_builtin(&ShareState::default(), "qwen3-30b-a3b"),
            set_custom(&ShareState::default(), with_repo),
            not_yet_loaded,
            loaded.clone(),
        ] {
            assert_eq!(
                from_transport(&to_transport(&state)),
                state,
                "{}",
                encode(&state)
            );
        }
        // The share link itself still names the repository only.
        assert!(!encode(&loaded).contains("arch="), "{}", encode(&loaded));
        assert!(to_transport(&loaded).contains("arch="));
    }

    #[test]
    fn the_pages_plan_check_refuses_what_the_plan_refuses() {
        let mut states = Vec::new();
        for model in gpu_session_core::registry::builtins() {
            let s = select_builtin(&ShareState::default(), model.id.as_str());
            for quantization in Quantization::ALL {
                for gpu in [None, Some("gpu_1x_a10"), Some("gpu_8x_h100_sxm5")] {
                    let mut next = select_gpu(&s, gpu);
                    next.settings.quantization = quantization;
                    states.push(next);
                }
            }
        }
        let custom = set_custom(&ShareState::default(), default_custom_spec());
        let mut with_repo = default_custom_spec();
        with_repo.hf_path = Some("org/model".into());
        states.extend([custom, set_custom(&ShareState::default(), with_repo)]);
        let mut refused = 0;
        for s in &states {
            let full = plan_for(s).map(|_| ());
            assert_eq!(plan_refusal(s), full, "{}", encode(s));
            refused += usize::from(full.is_err());
        }
        // Both outcomes occur, or the comparison would prove nothing.
        assert!(
            refused > 0 && refused < states.len(),
            "{refused} of {}",
            states.len()
        );
    }

    #[test]
    fn model_facts_name_active_parameters_experts_and_layer_kinds() {
        let model = gpu_session_core::registry::builtin("gpt-oss-120b").unwrap();
        let settings = gpu_session_core::settings::Settings::defaults_for(model);
        let rec = recommend(model, &settings, EstimateMode::Serving, None);
        let facts = model_facts(model, &rec);
        assert!(facts[0].contains("active per token"), "{facts:?}");
        assert!(
            facts.iter().any(|f| f.starts_with("Experts: ")),
            "{facts:?}"
        );
        assert!(
            facts.iter().any(|f| f.starts_with("KV by layer kind: ")),
            "{facts:?}"
        );
        let dense = gpu_session_core::registry::builtin("llama-3.1-8b").unwrap();
        let rec = recommend(
            dense,
            &Settings::defaults_for(dense),
            EstimateMode::Serving,
            None,
        );
        assert_eq!(model_facts(dense, &rec).len(), 1);
    }
}
