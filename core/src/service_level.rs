//! Choosing by service level: the cheapest offered instance type (its TP is all of its
//! GPUs, as every row of `recommend`) and number of replicas whose speed meets a time
//! to first token and a time per output token at a request rate, and which constraint
//! binds.
//!
//! Per instance type, the most requests one replica may run at once is the largest
//! concurrency whose TTFT and TPOT (the `speed` model, closed loop) meet the targets,
//! capped by the KV pool at the workload's average length and by SGLang's
//! `--max-running-requests` ceiling ([`MAX_SEQS`]); that concurrency's completion rate is
//! the most a replica sustains. Replicas = ⌈rate / that⌉, at most [`MAX_REPLICAS`]. The
//! speed shown is one replica's at its share of the rate.

use crate::gpu::GpuType;
use crate::recommend::{recommend, Fit, GpuFit, Recommendation};
use crate::registry::Model;
use crate::settings::{EstimateMode, Rate, Settings, MAX_SEQS};
use crate::speed::{self, Hardware, Load, ModelShard, Speed, Workload, CALIBRATION};
use crate::validate::FieldError;
use serde::Serialize;

pub use crate::settings::MAX_REPLICAS;
/// Longest TTFT or TPOT target accepted, milliseconds (ten minutes).
pub const MAX_TARGET_MS: f64 = 600_000.0;

/// What the service must deliver.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Targets {
    /// Longest acceptable mean time to first token, milliseconds.
    pub ttft_max_ms: Option<f64>,
    /// Longest acceptable mean time per output token, milliseconds (a minimum of
    /// tokens/s per user is 1000 / this; see [`Targets::tpot_for_tokens_per_s`]).
    pub tpot_max_ms: Option<f64>,
    /// Requests per second all replicas together serve.
    pub rate: Rate,
}

impl Targets {
    /// The TPOT target that gives each user at least `tokens_per_s` output tokens/s.
    pub fn tpot_for_tokens_per_s(tokens_per_s: f64) -> f64 {
        1000.0 / tokens_per_s
    }

    /// Check both targets; the error names `ttft_max_ms` or `tpot_max_ms`.
    pub fn validate(&self) -> Result<(), FieldError> {
        for (field, value) in [
            ("ttft_max_ms", self.ttft_max_ms),
            ("tpot_max_ms", self.tpot_max_ms),
        ] {
            if let Some(v) = value {
                if !(v.is_finite() && v > 0.0 && v <= MAX_TARGET_MS) {
                    return Err(FieldError::new(
                        field,
                        crate::decimal::shortest(v),
                        // Fixed, not f64's Display: std's float printer stays out of the page's wasm.
                        format!(
                            "must be above 0 and at most {} ms",
                            crate::decimal::Fixed::<0>(MAX_TARGET_MS)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn met_by(&self, s: &Speed) -> Result<(), Binding> {
        if self.ttft_max_ms.is_some_and(|max| s.ttft_ms > max) {
            Err(Binding::Ttft)
        } else if self.tpot_max_ms.is_some_and(|max| s.tpot_ms > max) {
            Err(Binding::Tpot)
        } else {
            Ok(())
        }
    }
}

/// The targets a share link and the site carry, without the rate (the settings' own).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TargetLimits {
    /// Longest acceptable mean time to first token, milliseconds.
    pub ttft_max_ms: Option<f64>,
    /// Longest acceptable mean time per output token, milliseconds.
    pub tpot_max_ms: Option<f64>,
}

impl TargetLimits {
    /// No target set.
    pub fn is_empty(&self) -> bool {
        self.ttft_max_ms.is_none() && self.tpot_max_ms.is_none()
    }

    /// These targets at `rate`.
    pub fn at(self, rate: Rate) -> Targets {
        Targets {
            ttft_max_ms: self.ttft_max_ms,
            tpot_max_ms: self.tpot_max_ms,
            rate,
        }
    }
}

/// A target in milliseconds from its text (a link's value, an input's): a number above 0
/// and at most [`MAX_TARGET_MS`], else `None`.
pub fn parse_target_ms(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0 && *v <= MAX_TARGET_MS)
}

/// What limits a choice: the constraint a cheaper answer would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Binding {
    /// Memory: the model does not fit, or the KV pool (or SGLang's running-request
    /// ceiling) caps how many requests a replica runs while the targets still hold.
    Memory,
    /// More requests at once would push the mean time to first token past its target.
    Ttft,
    /// More requests at once would push the mean time per output token past its target.
    Tpot,
    /// The rate needs more than [`MAX_REPLICAS`] replicas.
    Rate,
}

impl Binding {
    pub fn as_str(self) -> &'static str {
        match self {
            Binding::Memory => "memory",
            Binding::Ttft => "ttft",
            Binding::Tpot => "tpot",
            Binding::Rate => "rate",
        }
    }
}

/// One instance type at the service level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRow {
    #[serde(serialize_with = "instance_type")]
    pub gpu: &'static GpuType,
    /// Tensor-parallel size of each replica: all GPUs of the instance.
    pub tp: u32,
    /// Whether the targets are met at the rate, with at most [`MAX_REPLICAS`] replicas.
    pub meets: bool,
    /// Replicas needed (0 when the targets cannot be met).
    pub replicas: u32,
    /// Most requests one replica runs at once while the targets hold (the plan's
    /// `--max-running-requests`); 0 when not even one does.
    pub concurrency_per_replica: u32,
    /// Requests per second one replica sustains at that concurrency.
    pub max_rate_per_replica: f64,
    /// One replica's speed at its share of the rate (rate / replicas).
    pub speed: Speed,
    /// All replicas, US dollars per hour.
    pub usd_per_hour: f64,
    /// What limits this row (see [`Binding`]).
    pub binding: Binding,
    /// Why, in a sentence.
    pub reason: String,
}

fn instance_type<S: serde::Serializer>(g: &&'static GpuType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(g.instance_type)
}

/// The answer for a model, settings and targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceLevel {
    pub targets: Targets,
    /// What the speed is for: "2.5 req/s 1k/1k".
    pub basis: String,
    /// Every offered instance type the model runs on, in catalog order.
    pub rows: Vec<ServiceRow>,
    /// Index into `rows` of the cheapest that meets the targets.
    pub cheapest: Option<usize>,
    /// When none meets them: why, naming the constraint that binds most often.
    pub none_meets: Option<String>,
}

impl ServiceRow {
    /// "one instance", or "3 instances behind one gateway".
    pub fn instances(&self) -> String {
        if self.replicas == 1 {
            "one instance".to_string()
        } else {
            format!("{} instances behind one gateway", self.replicas)
        }
    }

    /// The settings each replica of this row runs with: at most
    /// `concurrency_per_replica` requests at once, at its share of `rate` (what a plan
    /// chosen by service level carries, with `replicas` of them).
    pub fn per_replica(&self, settings: Settings, rate: Rate) -> Settings {
        let share = rate.per_s() / f64::from(self.replicas.max(1));
        Settings {
            seqs: self.concurrency_per_replica.max(1),
            rate: Some(Rate::new("rate", share).unwrap_or(rate)),
            ..settings
        }
    }
}

impl ServiceLevel {
    pub fn choice(&self) -> Option<&ServiceRow> {
        self.cheapest.map(|i| &self.rows[i])
    }

    /// "TTFT ≤ 500 ms, TPOT ≤ 30.0 ms at 5 req/s 1k/1k requests".
    pub fn targets_sentence(&self) -> String {
        let t = &self.targets;
        let mut parts = Vec::new();
        if let Some(ms) = t.ttft_max_ms {
            parts.push(format!("TTFT ≤ {} ms", crate::present::milliseconds(ms)));
        }
        if let Some(ms) = t.tpot_max_ms {
            parts.push(format!("TPOT ≤ {} ms", crate::present::milliseconds(ms)));
        }
        if parts.is_empty() {
            parts.push("No latency target".to_string());
        }
        format!("{} at {} requests", parts.join(", "), self.basis)
    }

    /// The choice and what binds it, or why nothing meets the targets: the one sentence
    /// the CLI and the site both print.
    pub fn sentence(&self) -> String {
        let targets = self.targets_sentence();
        match self.choice() {
            Some(c) => format!(
                "{targets}: cheapest is {} × {} (TP {}), {}, at {}/hour in all; {} binds: {}.",
                c.replicas,
                c.gpu.instance_type,
                c.tp,
                c.instances(),
                crate::present::usd(c.usd_per_hour),
                c.binding.as_str(),
                c.reason,
            ),
            None => format!(
                "Nothing meets {targets}: {}.",
                self.none_meets
                    .as_deref()
                    .unwrap_or("no instance type runs the model")
            ),
        }
    }
}

/// Choose by service level for `model` at `settings` (its input and output tokens; its
/// `seqs` and `rate` are replaced by the targets' rate and the chosen concurrency).
pub fn choose(model: &Model, settings: &Settings, targets: &Targets) -> ServiceLevel {
    let rec = recommend(model, settings, EstimateMode::Serving, None);
    choose_from(model, &rec, targets)
}

/// [`choose`] from a recommendation already computed (the site's, the CLI's).
pub fn choose_from(model: &Model, rec: &Recommendation, targets: &Targets) -> ServiceLevel {
    let (arch, _) = model.effective_architecture();
    let workload = Workload {
        load: Load::Rate(targets.rate.per_s()),
        ..rec.settings.workload()
    };
    let rows: Vec<ServiceRow> = rec
        .rows
        .iter()
        .filter(|r| r.gpu.offered && r.fit != Fit::No)
        .map(|r| {
            let q = rec.settings.quantization;
            let shard = speed::model_shard(&arch, q, &r.serving, r.kv_pool_tokens);
            let hw = speed::hardware(r.gpu, r.tp, q);
            service_row(r, &shard, &hw, &workload, targets)
        })
        .collect();
    let cheapest = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.meets)
        .min_by(|(_, a), (_, b)| {
            a.usd_per_hour
                .total_cmp(&b.usd_per_hour)
                .then((a.replicas * a.tp).cmp(&(b.replicas * b.tp)))
        })
        .map(|(i, _)| i);
    let none_meets = cheapest.is_none().then(|| none_meets(&rows, model));
    ServiceLevel {
        targets: *targets,
        basis: workload.basis(),
        rows,
        cheapest,
        none_meets,
    }
}

fn none_meets(rows: &[ServiceRow], model: &Model) -> String {
    if rows.is_empty() {
        return format!(
            "{} fits no offered instance type at these settings (memory binds)",
            model.name
        );
    }
    let mut counts = [Binding::Memory, Binding::Ttft, Binding::Tpot, Binding::Rate]
        .map(|b| (rows.iter().filter(|r| r.binding == b).count(), b));
    counts.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    let binding = counts[0].1;
    let example = rows
        .iter()
        .find(|r| r.binding == binding)
        .map_or(String::new(), |r| {
            format!(": on {}, {}", r.gpu.instance_type, r.reason)
        });
    format!(
        "no offered instance type meets the targets with at most {MAX_REPLICAS} replicas; {} binds{example}",
        binding.as_str()
    )
}

/// Requests of the workload the KV pool holds at their average length (at least one),
/// capped at SGLang's running-request ceiling.
fn pool_capacity(pool_tokens: u64, w: &Workload) -> u32 {
    let twice_average = 2 * u64::from(w.input_tokens) + u64::from(w.output_tokens);
    let fit = (2 * pool_tokens / twice_average.max(1)).max(1);
    u32::try_from(fit).unwrap_or(u32::MAX).min(MAX_SEQS)
}

/// One offered row against the targets: the most requests one replica runs at once
/// within TTFT and TPOT, and the replicas the rate then needs (or why it is unmet).
fn service_row(
    row: &GpuFit,
    shard: &ModelShard,
    hw: &Hardware,
    workload: &Workload,
    targets: &Targets,
) -> ServiceRow {
    let at = |load: Load| speed::speed(shard, hw, &CALIBRATION, &Workload { load, ..*workload });
    let closed = |n: u32| at(Load::Concurrent(n));
    let one = closed(1);
    if let Err(binding) = targets.met_by(&one) {
        return unmet(row, binding, alone_reason(binding, &one), one);
    }
    let capacity = pool_capacity(row.kv_pool_tokens, workload);
    let (n, binding) = largest_concurrency(targets, capacity, closed);
    let max_rate = closed(n).requests_per_s;
    let rate = targets.rate.per_s();
    let needed = (rate / max_rate).ceil().max(1.0);
    if needed > f64::from(MAX_REPLICAS) {
        let reason = format!(
            "one replica sustains {} req/s within the targets, so {} req/s needs {} replicas",
            crate::decimal::Fixed::<2>(max_rate),
            crate::decimal::shortest(rate),
            crate::decimal::Fixed::<0>(needed),
        );
        return unmet(row, Binding::Rate, reason, closed(n));
    }
    let replicas = needed as u32;
    ServiceRow {
        gpu: row.gpu,
        tp: row.tp,
        meets: true,
        replicas,
        concurrency_per_replica: n,
        max_rate_per_replica: max_rate,
        speed: at(Load::Rate(rate / f64::from(replicas))),
        usd_per_hour: f64::from(replicas) * row.price_per_hour_usd,
        binding,
        reason: format!(
            "{n} requests at once per replica sustain {} req/s; {}",
            crate::decimal::Fixed::<2>(max_rate),
            concurrency_limit(binding, n),
        ),
    }
}

/// `row` missing the targets: `binding` says which, `reason` why, at `speed`.
fn unmet(row: &GpuFit, binding: Binding, reason: String, speed: Speed) -> ServiceRow {
    ServiceRow {
        gpu: row.gpu,
        tp: row.tp,
        meets: false,
        replicas: 0,
        concurrency_per_replica: 0,
        max_rate_per_replica: 0.0,
        speed,
        usd_per_hour: 0.0,
        binding,
        reason,
    }
}

/// Why one request alone already misses the `binding` target.
fn alone_reason(binding: Binding, one: &Speed) -> String {
    match binding {
        Binding::Ttft => format!(
            "one request alone waits {} ms for its first token",
            crate::decimal::Fixed::<0>(one.ttft_ms)
        ),
        _ => format!(
            "one request alone takes {} ms per output token",
            crate::decimal::Fixed::<1>(one.tpot_ms)
        ),
    }
}

/// The most requests at once (1 to `capacity`) that meet the targets, and what stops
/// one more. TTFT and TPOT grow with the requests running at once, so bisect.
fn largest_concurrency(
    targets: &Targets,
    capacity: u32,
    closed: impl Fn(u32) -> Speed,
) -> (u32, Binding) {
    let (mut lo, mut hi) = (1u32, capacity);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if targets.met_by(&closed(mid)).is_ok() {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let n = lo;
    let binding = if n < capacity {
        targets
            .met_by(&closed(n + 1))
            .err()
            .unwrap_or(Binding::Memory)
    } else {
        Binding::Memory
    };
    (n, binding)
}

/// Why a replica runs no more than `n` requests at once.
fn concurrency_limit(binding: Binding, n: u32) -> String {
    match binding {
        Binding::Memory if n == MAX_SEQS => {
            format!("SGLang runs at most {MAX_SEQS} requests at once")
        }
        Binding::Memory => "the KV pool holds no more of this length".to_string(),
        Binding::Ttft => "more would exceed the TTFT target".to_string(),
        Binding::Tpot => "more would exceed the TPOT target".to_string(),
        Binding::Rate => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::builtin;

    fn targets(ttft: Option<f64>, tpot: Option<f64>, rate: f64) -> Targets {
        Targets {
            ttft_max_ms: ttft,
            tpot_max_ms: tpot,
            rate: Rate::new("rate", rate).unwrap(),
        }
    }

    /// A speed whose TTFT and TPOT grow with the requests running at once.
    fn speed_at(n: u32) -> Speed {
        let n = f64::from(n);
        Speed {
            concurrency: n,
            running: n,
            ttft_ms: 10.0 * n,
            tpot_ms: n,
            output_tokens_per_s: 0.0,
            output_tokens_per_s_per_gpu: 0.0,
            output_tokens_per_s_per_user: 0.0,
            requests_per_s: 0.0,
            usd_per_million_output_tokens: 0.0,
            usd_per_million_input_tokens: 0.0,
            saturated: false,
        }
    }

    #[test]
    fn largest_concurrency_is_the_last_within_the_targets() {
        let tpot = targets(Some(1000.0), Some(37.0), 1.0);
        for capacity in [1, 2, 36, 37, 38, 100, MAX_SEQS] {
            let expected = if capacity > 37 {
                (37, Binding::Tpot)
            } else {
                (capacity, Binding::Memory)
            };
            let got = largest_concurrency(&tpot, capacity, speed_at);
            assert_eq!(got, expected, "capacity {capacity}");
        }
        let ttft = targets(Some(205.0), Some(37.0), 1.0);
        assert_eq!(
            largest_concurrency(&ttft, MAX_SEQS, speed_at),
            (20, Binding::Ttft)
        );
    }

    fn eight_b() -> (&'static Model, Settings) {
        let m = builtin("llama-3.1-8b").unwrap();
        (m, Settings::defaults_for(m))
    }

    #[test]
    fn the_choice_is_the_cheapest_offered_type_that_meets_the_targets() {
        let (m, s) = eight_b();
        let level = choose(m, &s, &targets(Some(2000.0), Some(50.0), 1.0));
        let choice = level.choice().expect("an 8B model meets loose targets");
        assert!(choice.meets && choice.gpu.offered);
        assert!(choice.speed.ttft_ms <= 2000.0 && choice.speed.tpot_ms <= 50.0);
        assert!(choice.replicas >= 1);
        for row in level.rows.iter().filter(|r| r.meets) {
            assert!(
                row.usd_per_hour >= choice.usd_per_hour,
                "{}",
                row.gpu.instance_type
            );
        }
        assert_eq!(level.basis, "1 req/s 1k/1k");
        assert!(level.none_meets.is_none());
    }

    #[test]
    fn a_higher_rate_takes_more_replicas_and_a_tighter_tpot_fewer_requests_each() {
        let (m, s) = eight_b();
        let h100 = |t: &Targets| {
            choose(m, &s, t)
                .rows
                .into_iter()
                .find(|r| r.gpu.instance_type == "gpu_1x_h100_sxm5")
                .unwrap()
        };
        let loose = h100(&targets(None, Some(100.0), 1.0));
        let busy = h100(&targets(
            None,
            Some(100.0),
            loose.max_rate_per_replica * 3.5,
        ));
        assert_eq!(loose.replicas, 1);
        assert_eq!(busy.replicas, 4);
        assert!(busy.speed.requests_per_s <= busy.max_rate_per_replica * 1.000_001);
        let tight = h100(&targets(None, Some(12.0), 1.0));
        assert!(tight.meets, "{}", tight.reason);
        assert!(tight.concurrency_per_replica < loose.concurrency_per_replica);
        assert_eq!(tight.binding, Binding::Tpot, "{}", tight.reason);
        assert!(tight.speed.tpot_ms <= 12.0);
    }

    #[test]
    fn targets_no_replica_meets_say_which_constraint_binds() {
        let (m, s) = eight_b();
        // No GPU decodes an 8B model in 1 ms per token.
        let level = choose(m, &s, &targets(None, Some(1.0), 1.0));
        assert_eq!(level.cheapest, None);
        assert!(level
            .rows
            .iter()
            .all(|r| r.binding == Binding::Tpot && !r.meets));
        let why = level.none_meets.unwrap();
        assert!(why.contains("tpot binds"), "{why}");
        // A TTFT under the prefill time of 1,000 tokens.
        let level = choose(m, &s, &targets(Some(0.5), None, 1.0));
        assert!(level.none_meets.unwrap().contains("ttft binds"));
        // A rate beyond 16 replicas of anything.
        let level = choose(m, &s, &targets(None, None, 1e6));
        assert!(level.rows.iter().all(|r| r.binding == Binding::Rate));
        assert!(level.none_meets.unwrap().contains("rate binds"));
    }

    #[test]
    fn loose_latency_targets_leave_memory_binding() {
        let (m, s) = eight_b();
        let level = choose(m, &s, &targets(None, None, 0.5));
        let choice = level.choice().unwrap();
        assert_eq!(choice.binding, Binding::Memory, "{}", choice.reason);
    }

    #[test]
    fn the_sentence_names_the_targets_the_choice_and_its_instances() {
        let (m, s) = eight_b();
        let t = targets(None, Some(100.0), 1.0);
        let level = choose(m, &s, &t);
        // 40 req/s at a TPOT of 30 ms takes several instances of any type.
        let rate = Rate::new("rate", 40.0).unwrap();
        let busy = choose(m, &s, &targets(None, Some(30.0), 40.0));
        let b = busy.choice().unwrap();
        assert!(b.replicas > 1);
        let sentence = busy.sentence();
        assert!(
            sentence.starts_with(&format!("TPOT ≤ 30.0 ms at {} requests: cheapest is {} × {} (TP {}), {} instances behind one gateway, at ",
                busy.basis, b.replicas, b.gpu.instance_type, b.tp, b.replicas)),
            "{sentence}"
        );
        assert!(
            sentence.ends_with(&format!("binds: {}.", b.reason)),
            "{sentence}"
        );
        assert!(
            level.sentence().contains("(TP 1), one instance, at "),
            "{}",
            level.sentence()
        );
        let none = choose(m, &s, &targets(None, Some(1.0), 1.0)).sentence();
        assert!(
            none.starts_with("Nothing meets TPOT ≤ ")
                && none.contains(" ms at 1 req/s 1k/1k requests: "),
            "{none}"
        );
        // Each replica runs its share of the rate at its concurrency.
        let each = b.per_replica(s, rate);
        assert_eq!(each.seqs, b.concurrency_per_replica);
        let share = each.rate.unwrap().per_s() * f64::from(b.replicas);
        assert!(
            (share - rate.per_s()).abs() < 1e-6 * rate.per_s(),
            "{share}"
        );
        assert_eq!(
            (each.input_tokens, each.output_tokens, each.context),
            (s.input_tokens, s.output_tokens, s.context)
        );
    }

    #[test]
    fn a_target_parses_only_within_its_bounds() {
        assert_eq!(parse_target_ms(" 250 "), Some(250.0));
        assert_eq!(parse_target_ms("12.5"), Some(12.5));
        for bad in ["", "0", "-3", "nan", "inf", "600001", "ms"] {
            assert_eq!(parse_target_ms(bad), None, "{bad}");
        }
        assert!(TargetLimits::default().is_empty());
    }

    #[test]
    fn bad_targets_name_their_field() {
        let t = targets(Some(-1.0), None, 1.0);
        assert_eq!(t.validate().unwrap_err().field, "ttft_max_ms");
        let t = targets(None, Some(f64::NAN), 1.0);
        assert_eq!(t.validate().unwrap_err().field, "tpot_max_ms");
        targets(Some(100.0), Some(20.0), 1.0).validate().unwrap();
        assert_eq!(Targets::tpot_for_tokens_per_s(50.0), 20.0);
    }
}
