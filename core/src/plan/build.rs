//! Building a plan from a choice (model, settings, instance type): the defaults both
//! faces use, and `Plan::build` / `Plan::rebuild`, which compute the estimate the file
//! carries.

use super::*;
use crate::multi_node::{two_nodes_at, Layout};

/// What a person chose when exporting a plan.
#[derive(Debug, Clone)]
pub struct PlanRequest<'a> {
    pub model: &'a Model,
    pub settings: Settings,
    pub gpu: &'static GpuType,
    pub regions: Vec<String>,
    pub lease_hours: u32,
    pub idle_minutes: u32,
    /// Lambda image family; [`PlanRequest::new`] and `resolve` pick
    /// [`gpu::DEFAULT_IMAGE_FAMILY`].
    pub image_family: String,
    /// The user's own `--mem-fraction-static`; `None` lets core choose (SGLang's
    /// default, raised when its pool is too small).
    pub mem_fraction_static: Option<f64>,
}

impl<'a> PlanRequest<'a> {
    /// The first step of [`Plan::build`], the one that refuses a choice before anything
    /// is computed: the settings the plan is written with (clamped to the model, the KV
    /// dtype as SGLang names it on this GPU) and the checkpoint that serves them. The
    /// site calls only this to enable its download: the YAML writer and the file's own
    /// validation live in the module it loads on demand.
    pub fn prepare(&self) -> Result<(Settings, Checkpoint), FieldError> {
        let mut settings = self.settings.clamped_for(self.model);
        settings.kv_dtype = sglang_kv_dtype(settings.kv_dtype, self.gpu.compute_capability);
        let checkpoint = self
            .model
            .checkpoint_for(settings.quantization)
            .map_err(|e| FieldError::new("model.quantization", settings.quantization, e.hint))?;
        Ok((settings, checkpoint))
    }

    /// A request with the default regions and lease.
    pub fn new(model: &'a Model, settings: Settings, gpu: &'static GpuType) -> Self {
        PlanRequest {
            model,
            settings,
            gpu,
            regions: DEFAULT_REGIONS.iter().map(|r| (*r).to_string()).collect(),
            lease_hours: DEFAULT_LEASE_HOURS,
            idle_minutes: DEFAULT_IDLE_MINUTES,
            image_family: default_image_family(),
            mem_fraction_static: None,
        }
    }

    /// Fill what a person left open the one way every face does (so the site and the
    /// CLI write the same plan for the same choices): the cheapest type the serving
    /// estimate fits, `default_regions`, the default lease and idle limit.
    pub fn resolve(
        model: &'a Model,
        settings: Settings,
        choices: &PlanChoices,
    ) -> Result<Self, NoGpuFits> {
        let gpu = match choices.gpu {
            Some(gpu) => gpu,
            None => default_gpu(model, &settings).ok_or_else(|| NoGpuFits {
                model: model.id.clone(),
            })?,
        };
        let regions = if choices.regions.is_empty() {
            default_regions(choices.preferred_region.as_deref())
        } else {
            choices.regions.clone()
        };
        Ok(PlanRequest {
            model,
            settings,
            gpu,
            regions,
            lease_hours: choices.lease_hours.unwrap_or(DEFAULT_LEASE_HOURS),
            idle_minutes: choices.idle_minutes.unwrap_or(DEFAULT_IDLE_MINUTES),
            image_family: default_image_family(),
            mem_fraction_static: None,
        })
    }
}

/// What a person may leave open when exporting a plan; see [`PlanRequest::resolve`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanChoices {
    /// Instance type; `None` picks [`default_gpu`].
    pub gpu: Option<&'static GpuType>,
    /// Regions to try, in order; empty picks [`default_regions`].
    pub regions: Vec<String>,
    /// The person's own default region (the config's `lambda.default_region`).
    pub preferred_region: Option<String>,
    /// `None` picks [`DEFAULT_LEASE_HOURS`].
    pub lease_hours: Option<u32>,
    /// `None` picks [`DEFAULT_IDLE_MINUTES`].
    pub idle_minutes: Option<u32>,
}

/// No instance type fits the model at these settings, so no default GPU exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no instance type fits '{model}' at these settings; choose one explicitly or lower the context, sequences or quantization")]
pub struct NoGpuFits {
    pub model: String,
}

/// The instance type a plan uses when none is chosen: the cheapest one the serving
/// estimate fits (the calculator's "cheapest fit").
pub fn default_gpu(model: &Model, settings: &Settings) -> Option<&'static GpuType> {
    crate::recommend::recommend(model, settings, EstimateMode::Serving, None)
        .cheapest()
        .map(|row| row.gpu)
}

/// Regions a plan tries when none are chosen: the preferred one first (when set), then
/// [`DEFAULT_REGIONS`] without repeating it.
pub fn default_regions(preferred: Option<&str>) -> Vec<String> {
    preferred
        .into_iter()
        .chain(
            DEFAULT_REGIONS
                .iter()
                .copied()
                .filter(|r| Some(*r) != preferred),
        )
        .map(str::to_string)
        .collect()
}

pub(super) fn round_to(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

impl Plan {
    /// Build and validate the plan for a choice. The site and the CLI both call this,
    /// so the same choice writes the same bytes.
    pub fn build(req: &PlanRequest<'_>) -> Result<Plan, PlanError> {
        let model = req.model;
        let (settings, checkpoint) = req.prepare()?;
        let user_fraction = req
            .mem_fraction_static
            .map(|f| check_mem_fraction_static("serving.mem_fraction_static", f))
            .transpose()?;
        let mut plan = Plan {
            version: PLAN_VERSION,
            model: PlanModel {
                id: model.id.clone(),
                custom: (!model.builtin).then_some(PlanCustomModel {
                    params_billions: model.params_billions,
                    architecture: model.architecture,
                }),
                checkpoint: checkpoint.hf_path,
                quantization: settings.quantization,
                quant_method: checkpoint.method,
                context_length: settings.context,
            },
            serving: PlanServing {
                engine: "sglang".into(),
                version: SGLANG_VERSION.into(),
                tensor_parallel: req.gpu.gpu_count,
                pipeline_parallel: 1,
                // Computed by `size_for_layout` below (kept when the user chose it).
                mem_fraction_static: user_fraction.unwrap_or(0.0),
                mem_fraction_static_from_user: user_fraction.is_some(),
                chunked_prefill_size: None,
                cuda_graph_max_bs: None,
                max_running_requests: settings.seqs,
                kv_cache_dtype: settings.kv_dtype,
                port: SGLANG_PORT,
            },
            gpu: PlanGpu {
                instance_type: req.gpu.instance_type.into(),
                image_family: req.image_family.clone(),
                regions: req.regions.clone(),
                replicas: 1,
                min_replicas: None,
                nodes: 1,
            },
            lease: PlanLease {
                hours: req.lease_hours,
                idle_minutes: req.idle_minutes,
            },
            workload: Some(PlanWorkload {
                input_tokens: settings.input_tokens,
                output_tokens: settings.output_tokens,
                concurrency: settings.rate.is_none().then_some(settings.seqs),
                rate: settings.rate.map(crate::settings::Rate::per_s),
            }),
            estimate: None,
        };
        plan.size_for_layout(model)?;
        plan.validate()?;
        Ok(plan)
    }

    /// The plan this build writes for the same choices (model, settings, instance type,
    /// regions, lease): what a reader trusts instead of the file's own `estimate` and
    /// `serving.mem_fraction_static`, which an older or other build computed.
    pub fn rebuild(&self) -> Result<Plan, PlanError> {
        let model = self.resolve_model()?;
        let group = Group {
            replicas: self.gpu.replicas,
            min_replicas: self.gpu.min_replicas,
            nodes: self.gpu.nodes,
            pipeline_parallel: self.serving.pipeline_parallel,
        };
        let built = Plan::build(&PlanRequest {
            model: &model,
            settings: self.settings(),
            gpu: self.gpu_type()?,
            regions: self.gpu.regions.clone(),
            lease_hours: self.lease.hours,
            idle_minutes: self.lease.idle_minutes,
            image_family: self.gpu.image_family.clone(),
            mem_fraction_static: self.user_mem_fraction_static(),
        })?;
        built.with_group(group)
    }

    /// This plan as a group: `replicas` instances behind one gateway, or one model over
    /// `nodes` instances (pipeline stages × tensor parallel spanning their GPUs).
    /// Validated, so an impossible group names its field.
    pub fn with_group(mut self, group: Group) -> Result<Plan, PlanError> {
        let gpus = self.gpu_type()?.gpu_count;
        self.gpu.replicas = group.replicas;
        self.gpu.min_replicas = group.min_replicas.filter(|m| *m != group.replicas);
        self.gpu.nodes = group.nodes;
        self.serving.pipeline_parallel = group.pipeline_parallel.max(1);
        // Whatever is not pipelined is tensor-parallel across every GPU of the nodes.
        self.serving.tensor_parallel = (gpus * group.nodes.max(1)) / self.serving.pipeline_parallel;
        self.validate()?;
        // Two nodes hold the model differently from one: size it again for the layout.
        // Replicas change only the estimate's price, which is the whole group's.
        if self.gpu.instance_count() > 1 {
            let model = self.resolve_model()?;
            self.size_for_layout(&model)?;
            self.validate()?;
        }
        Ok(self)
    }

    /// The verdict for the plan's layout at `fraction` (`None`: core chooses): one
    /// instance (`recommend::evaluate_at`), or two nodes at the plan's pipeline size
    /// (`multi_node::two_nodes_at`: PP 2 × TP 8, or TP 16). The one place a plan is
    /// sized: `build`, `with_group` and `evaluate` all come here.
    pub(super) fn row_at(&self, model: &Model, fraction: Option<f64>) -> Result<GpuFit, PlanError> {
        let gpu = self.gpu_type()?;
        let settings = self.settings();
        if self.gpu.nodes <= 1 {
            return Ok(evaluate_at(
                model,
                &settings,
                gpu,
                EstimateMode::Serving,
                fraction,
            ));
        }
        let layout = if self.serving.pipeline_parallel > 1 {
            Layout::Pp2Tp8
        } else {
            Layout::Tp16
        };
        let estimate = two_nodes_at(model, &settings, gpu, &settings.workload(), fraction)
            .map_err(|e| FieldError::new("gpu.nodes", self.gpu.nodes, e.to_string()))?;
        let chosen = estimate.layout(layout).ok_or_else(|| {
            FieldError::new(
                "serving.pipeline_parallel",
                self.serving.pipeline_parallel,
                "is not a two-node layout",
            )
        })?;
        Ok(chosen.as_row(model, &settings, gpu))
    }

    /// What the plan costs an hour for `row` (its instance type's verdict): every
    /// instance the plan starts bills at the type's price (a two-node row's price is
    /// one node's).
    pub fn price_per_hour_usd(&self, row: &GpuFit) -> f64 {
        row.price_per_hour_usd * f64::from(self.gpu.instance_count())
    }

    /// Fill what core computes for the plan's layout: the `--mem-fraction-static` every
    /// rank gets (unless the user chose it), SGLang's sizes and the informational
    /// estimate.
    fn size_for_layout(&mut self, model: &Model) -> Result<(), PlanError> {
        let row = self.row_at(model, self.user_mem_fraction_static())?;
        self.serving.mem_fraction_static = row.mem_fraction_static;
        self.serving.chunked_prefill_size = Some(row.serving.sglang.chunked_prefill_size);
        self.serving.cuda_graph_max_bs = Some(row.serving.sglang.cuda_graph_max_bs);
        let gpu = row.gpu;
        let price_per_hour_usd = self.price_per_hour_usd(&row);
        self.estimate = Some(PlanEstimate {
            mode: EstimateMode::Serving,
            fit: row.fit,
            per_gpu_gib: round_to(crate::gpu::in_gib(row.needed_bytes), 2),
            kv_pool_tokens: row.kv_pool_tokens,
            output_tokens_per_s: round_to(row.speed.output_tokens_per_s, 1),
            ttft_ms: Some(round_to(row.speed.ttft_ms, 1)),
            tpot_ms: Some(round_to(row.speed.tpot_ms, 2)),
            usd_per_million_output_tokens: Some(round_to(
                row.speed.usd_per_million_output_tokens,
                3,
            )),
            price_per_hour_usd,
            lease_cost_usd: round_to(
                crate::lease::cost_usd(price_per_hour_usd, self.lease.hours),
                2,
            ),
            price_as_of: gpu.price_as_of.into(),
        });
        Ok(())
    }
}

/// How many instances a plan starts and how one model spans them; see
/// [`Plan::with_group`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    pub replicas: u32,
    /// `None`: every replica must serve.
    pub min_replicas: Option<u32>,
    pub nodes: u32,
    pub pipeline_parallel: u32,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            replicas: 1,
            min_replicas: None,
            nodes: 1,
            pipeline_parallel: 1,
        }
    }
}
