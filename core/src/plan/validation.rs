//! Validating a plan: every field checked, the first bad one named.

use super::*;
use crate::validate;

impl Plan {
    /// Check every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), PlanError> {
        self.validate_version()?;
        let model = self.validate_model()?;
        self.validate_serving_release()?;
        let gpu = self.gpu_type()?;
        self.validate_group(gpu)?;
        self.validate_serving_sizes(&model)?;
        self.validate_gpu_placement(gpu)?;
        self.validate_lease()?;
        if let Some(w) = &self.workload {
            self.validate_workload(w)?;
        }
        if let Some(e) = &self.estimate {
            validate_estimate(e)?;
        }
        Ok(())
    }

    fn validate_version(&self) -> Result<(), PlanError> {
        if self.version != PLAN_VERSION {
            return Err(FieldError::new(
                "version",
                self.version,
                format!("is not supported (this gpu-session reads version {PLAN_VERSION})"),
            )
            .into());
        }
        Ok(())
    }

    /// The `model` section; returns the model the plan serves.
    fn validate_model(&self) -> Result<Model, PlanError> {
        let m = &self.model;
        validate::model_id("model.id", &m.id)?;
        validate::hf_path("model.checkpoint", &m.checkpoint)?;
        if !QuantMethod::allowed_for(m.quantization).contains(&m.quant_method) {
            return Err(FieldError::new(
                "model.quant_method",
                m.quant_method.as_str(),
                format!("does not produce {} weights", m.quantization.label()),
            )
            .into());
        }
        match &m.custom {
            None => validate_builtin_checkpoint(m)?,
            Some(custom) => validate_custom_model(m, custom)?,
        }
        let model = self.resolve_model()?;
        if !(MIN_CONTEXT..=model.max_context()).contains(&m.context_length) {
            return Err(FieldError::new(
                "model.context_length",
                m.context_length,
                format!("must be between {MIN_CONTEXT} and {}", model.max_context()),
            )
            .into());
        }
        Ok(model)
    }

    /// `serving.engine` and `serving.version`: SGLang, the release this build pins.
    fn validate_serving_release(&self) -> Result<(), PlanError> {
        let s = &self.serving;
        if s.engine != "sglang" {
            return Err(FieldError::new("serving.engine", &s.engine, "must be 'sglang'").into());
        }
        if !is_sglang_release(&s.version) {
            return Err(FieldError::new(
                "serving.version",
                &s.version,
                "must be an SGLang release like '0.5.23' or '0.5.6.post2'",
            )
            .into());
        }
        // The install pins this version, and every fraction and flag is sized for its
        // source: a plan for another SGLang would run numbers this build never checked.
        if s.version != crate::serving::SGLANG_VERSION {
            return Err(FieldError::new(
                "serving.version",
                &s.version,
                format!(
                    "is not the SGLang this gpu-session was made for ({}); rewrite the plan with `gpu-session plan`",
                    crate::serving::SGLANG_VERSION
                ),
            )
            .into());
        }
        Ok(())
    }

    /// The rest of `serving`: tensor parallel against the heads, memory, batch sizes, port.
    fn validate_serving_sizes(&self, model: &Model) -> Result<(), PlanError> {
        let s = &self.serving;
        let (arch, _) = model.effective_architecture();
        if !arch.heads.is_multiple_of(s.tensor_parallel) {
            return Err(FieldError::new(
                "serving.tensor_parallel",
                s.tensor_parallel,
                format!("does not divide the model's {} attention heads", arch.heads),
            )
            .into());
        }
        check_mem_fraction_static("serving.mem_fraction_static", s.mem_fraction_static)?;
        let (lo, hi) = CHUNKED_PREFILL_RANGE;
        if let Some(chunk) = s.chunked_prefill_size {
            between("serving.chunked_prefill_size", chunk, lo, hi)?;
        }
        if let Some(bs) = s.cuda_graph_max_bs {
            between("serving.cuda_graph_max_bs", bs, 1, MAX_SEQS)?;
        }
        between(
            "serving.max_running_requests",
            s.max_running_requests,
            1,
            MAX_SEQS,
        )?;
        if s.port < 1024 {
            return Err(
                FieldError::new("serving.port", s.port, "must be between 1024 and 65535").into(),
            );
        }
        Ok(())
    }

    /// `gpu.image_family` and `gpu.regions`: where and on what the instances boot.
    fn validate_gpu_placement(&self, gpu: &GpuType) -> Result<(), PlanError> {
        gpu.check_image_family(&self.gpu.image_family)
            .map_err(|reason| {
                FieldError::new("gpu.image_family", &self.gpu.image_family, reason)
            })?;
        let regions = &self.gpu.regions;
        if regions.is_empty() || regions.len() > 16 {
            return Err(FieldError::new(
                "gpu.regions",
                regions.len(),
                "must list between 1 and 16 regions",
            )
            .into());
        }
        for (i, region) in regions.iter().enumerate() {
            validate::region(&format!("gpu.regions[{i}]"), region)?;
            if regions[..i].contains(region) {
                return Err(FieldError::new(
                    format!("gpu.regions[{i}]"),
                    region,
                    "is listed twice",
                )
                .into());
            }
        }
        Ok(())
    }

    fn validate_lease(&self) -> Result<(), PlanError> {
        between("lease.hours", self.lease.hours, 1, MAX_LEASE_HOURS)?;
        if self.lease.idle_minutes != 0
            && !(5..=MAX_IDLE_MINUTES).contains(&self.lease.idle_minutes)
        {
            return Err(FieldError::new(
                "lease.idle_minutes",
                self.lease.idle_minutes,
                format!("must be 0 (off) or between 5 and {MAX_IDLE_MINUTES}"),
            )
            .into());
        }
        Ok(())
    }

    /// The `workload` section: tokens within bounds, and a concurrency (equal to the
    /// requests the server runs at once) or a rate, not both.
    fn validate_workload(&self, w: &PlanWorkload) -> Result<(), PlanError> {
        let named = |e: FieldError| FieldError {
            field: format!("workload.{}", e.field),
            ..e
        };
        let load = match (w.concurrency, w.rate) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "workload.rate",
                    crate::decimal::shortest(w.rate.unwrap_or_default()),
                    "cannot be given with workload.concurrency: give one or the other",
                )
                .into())
            }
            (_, Some(rate)) => {
                let rate = crate::settings::Rate::new("workload.rate", rate)?;
                crate::speed::Load::Rate(rate.per_s())
            }
            (Some(c), None) => crate::speed::Load::Concurrent(c),
            (None, None) => crate::speed::Load::Concurrent(self.serving.max_running_requests),
        };
        let workload = crate::speed::Workload {
            input_tokens: w.input_tokens,
            output_tokens: w.output_tokens,
            load,
        };
        workload.validate().map_err(named)?;
        match w.concurrency {
            Some(c) if c != self.serving.max_running_requests => Err(FieldError::new(
                "workload.concurrency",
                c,
                format!(
                    "must equal serving.max_running_requests ({}): the server runs that many requests at once",
                    self.serving.max_running_requests
                ),
            )
            .into()),
            _ => Ok(()),
        }
    }
}

/// A built-in model's checkpoint: the one it serves at the plan's quantization.
fn validate_builtin_checkpoint(m: &PlanModel) -> Result<(), PlanError> {
    let model = builtin(&m.id).ok_or_else(|| {
        FieldError::new(
            "model.id",
            &m.id,
            "is not a built-in model; custom models need model.custom",
        )
    })?;
    let expected = model
        .checkpoint_for(m.quantization)
        .map_err(|e| FieldError::new("model.quantization", m.quantization, e.hint))?;
    if expected.hf_path != m.checkpoint || expected.method != m.quant_method {
        return Err(FieldError::new(
            "model.checkpoint",
            &m.checkpoint,
            format!("is not what built-in '{}' serves at {} ({} with {}); describe other checkpoints as a custom model", m.id, m.quantization, expected.hf_path, expected.method.as_str()),
        )
        .into());
    }
    Ok(())
}

/// `model.custom`: its own id, a parameter count, and a sound architecture if given.
fn validate_custom_model(m: &PlanModel, custom: &PlanCustomModel) -> Result<(), PlanError> {
    if builtin(&m.id).is_some() {
        return Err(FieldError::new(
            "model.id",
            &m.id,
            "is a built-in id; give the custom model its own id",
        )
        .into());
    }
    if !(custom.params_billions.is_finite()
        && custom.params_billions > 0.0
        && custom.params_billions <= crate::config::MAX_PARAMS_BILLIONS)
    {
        return Err(FieldError::new(
            "model.custom.params_billions",
            custom.params_billions,
            "must be a number above 0 and at most 2000",
        )
        .into());
    }
    if let Some(arch) = &custom.architecture {
        arch.validate().map_err(|e| {
            FieldError::new(
                format!("model.custom.architecture.{}", e.field),
                e.value,
                e.reason,
            )
        })?;
    }
    Ok(())
}

/// An SGLang release number: `X.Y.Z` or `X.Y.Z.postN`, digits only.
fn is_sglang_release(version: &str) -> bool {
    let digits = |p: &str, max: usize| {
        !p.is_empty() && p.len() <= max && p.chars().all(|c| c.is_ascii_digit())
    };
    let (core_part, post) = version
        .split_once(".post")
        .map_or((version, None), |(a, b)| (a, Some(b)));
    let parts: Vec<&str> = core_part.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| digits(p, 4)) && post.is_none_or(|p| digits(p, 3))
}

/// The informational `estimate`: numbers that are numbers, a short price date.
fn validate_estimate(e: &PlanEstimate) -> Result<(), PlanError> {
    let numbers = [
        ("per_gpu_gib", Some(e.per_gpu_gib)),
        ("output_tokens_per_s", Some(e.output_tokens_per_s)),
        ("ttft_ms", e.ttft_ms),
        ("tpot_ms", e.tpot_ms),
        (
            "usd_per_million_output_tokens",
            e.usd_per_million_output_tokens,
        ),
        ("price_per_hour_usd", Some(e.price_per_hour_usd)),
        ("lease_cost_usd", Some(e.lease_cost_usd)),
    ];
    let numbers = numbers
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)));
    for (name, value) in numbers {
        if !value.is_finite() || value < 0.0 {
            return Err(FieldError::new(
                format!("estimate.{name}"),
                value,
                "must be a number of at least 0",
            )
            .into());
        }
    }
    validate::display_text("estimate.price_as_of", &e.price_as_of, 32)?;
    Ok(())
}

/// `value` of `field` within `lo..=hi`, else "must be between lo and hi".
fn between(field: &str, value: u32, lo: u32, hi: u32) -> Result<(), PlanError> {
    if !(lo..=hi).contains(&value) {
        return Err(FieldError::new(field, value, format!("must be between {lo} and {hi}")).into());
    }
    Ok(())
}

impl Plan {
    /// `gpu.replicas`, `gpu.min_replicas`, `gpu.nodes` and how `serving.tensor_parallel`
    /// × `serving.pipeline_parallel` cover the GPUs of the nodes.
    fn validate_group(&self, gpu: &GpuType) -> Result<(), PlanError> {
        let g = &self.gpu;
        if !(1..=MAX_NODES).contains(&g.nodes) {
            return Err(
                FieldError::new("gpu.nodes", g.nodes, format!("must be 1 or {MAX_NODES}")).into(),
            );
        }
        between("gpu.replicas", g.replicas, 1, MAX_REPLICAS)?;
        if let Some(min) = g.min_replicas {
            if !(1..=g.replicas).contains(&min) {
                return Err(FieldError::new(
                    "gpu.min_replicas",
                    min,
                    format!("must be between 1 and gpu.replicas ({})", g.replicas),
                )
                .into());
            }
        }
        if g.nodes > 1 {
            if gpu.gpu_count != NODE_GPUS {
                return Err(FieldError::new(
                    "gpu.nodes",
                    g.nodes,
                    format!(
                        "needs an instance type with {NODE_GPUS} GPUs; {} has {}",
                        gpu.instance_type, gpu.gpu_count
                    ),
                )
                .into());
            }
            if g.replicas != 1 {
                return Err(FieldError::new(
                    "gpu.replicas",
                    g.replicas,
                    "must be 1 when gpu.nodes is 2 (one model over two nodes has no replicas)",
                )
                .into());
            }
        }
        self.validate_parallelism(gpu)
    }

    /// `serving.pipeline_parallel` stages (one per node at most) times
    /// `serving.tensor_parallel` cover every GPU of the nodes.
    fn validate_parallelism(&self, gpu: &GpuType) -> Result<(), PlanError> {
        let (g, s) = (&self.gpu, &self.serving);
        let stages_allowed = if g.nodes > 1 { g.nodes } else { 1 };
        if !(1..=stages_allowed).contains(&s.pipeline_parallel) {
            return Err(FieldError::new(
                "serving.pipeline_parallel",
                s.pipeline_parallel,
                format!("must be between 1 and gpu.nodes ({})", g.nodes),
            )
            .into());
        }
        let gpus = gpu.gpu_count * g.nodes;
        if s.tensor_parallel * s.pipeline_parallel != gpus {
            let reason = if g.nodes == 1 {
                format!(
                    "must equal the {} GPUs of {}",
                    gpu.gpu_count, gpu.instance_type
                )
            } else {
                format!(
                    "times serving.pipeline_parallel ({}) must equal the {gpus} GPUs of {} {}",
                    s.pipeline_parallel, g.nodes, gpu.instance_type
                )
            };
            return Err(
                FieldError::new("serving.tensor_parallel", s.tensor_parallel, reason).into(),
            );
        }
        Ok(())
    }
}
