//! The speed model against every published measurement of
//! fixtures/speed-measurements.yaml (issue 15, point 5): each row's measured and
//! predicted TTFT, TPOT and throughput with the signed error, the median absolute
//! error per metric over the SGLang and vLLM rows on Lambda types of the catalog, and
//! the goal: median |error| at most 30 % for TTFT, 20 % for TPOT and throughput, no
//! row off by more than 2× unless `MISSES` lists it with the reason. The fitted model
//! does not reach the median goals yet: `HELD` keeps it from getting worse unnoticed.

#[allow(dead_code)]
mod book;

use book::tables::speed_accuracy::{self as acc, Compared};
use gpu_session_core::speed::{self, CALIBRATION};

fn compared() -> Vec<Compared> {
    acc::compare_all(&CALIBRATION)
}

/// Issue 15's goals: median absolute error of TTFT, TPOT and output tokens/s.
const GOALS: [f64; 3] = [0.30, 0.20, 0.20];
/// The medians the fitted calibration reaches, which miss every goal: the test holds
/// them (within 2 points), so a change that makes the model worse fails, and one that
/// makes it better must lower them here. A metric whose goal is met is held at its goal.
const HELD: [f64; 3] = [0.43, 0.32, 0.23];

#[test]
fn the_median_errors_on_published_measurements_are_held() {
    let all = compared();
    println!("{}", acc::markdown(&all));
    println!("{}", acc::medians_markdown(&all));
    for (i, (median, n)) in acc::goal_medians(&all).into_iter().enumerate() {
        let metric = acc::METRICS[i];
        let bound = HELD[i].max(GOALS[i]);
        println!(
            "{metric}: median |error| {:.1} % over {n} rows; goal {:.0} % {}",
            median * 100.0,
            GOALS[i] * 100.0,
            if median <= GOALS[i] { "met" } else { "NOT met" }
        );
        assert!(n >= 15, "{metric}: only {n} rows");
        assert!(
            median <= bound,
            "{metric}: median absolute error {:.1} % over {n} rows, held at {:.0} %",
            median * 100.0,
            bound * 100.0
        );
        assert!(
            median > bound - 0.02 || bound == GOALS[i],
            "{metric}: median {:.1} % is well below the held {:.0} %: lower HELD",
            median * 100.0,
            bound * 100.0
        );
    }
}

#[test]
fn exactly_the_listed_rows_miss_by_more_than_2x() {
    let all = compared();
    let unlisted: Vec<&str> = all
        .iter()
        .filter(|c| c.in_goal && c.misses() && !acc::listed(&c.id))
        .map(|c| c.id.as_str())
        .collect();
    let no_longer: Vec<&str> = acc::MISSES
        .iter()
        .filter(|(id, _)| !all.iter().any(|c| c.id == *id && c.in_goal && c.misses()))
        .map(|(id, _)| *id)
        .collect();
    assert!(
        unlisted.is_empty(),
        "rows off by more than 2x (or not expressed) that MISSES does not list: {unlisted:?}"
    );
    assert!(
        no_longer.is_empty(),
        "rows MISSES lists that are in the goal and within 2x now: {no_longer:?}"
    );
}

/// The comparison runs the product's own path: for every row whose requests arrive
/// staggered (a concurrency or a rate, as the product reads them), `speed::speed_of` at
/// the shipped calibration gives the same numbers as the shared comparison does. (An
/// offline batch, `Arrivals::Together`, is `speed_with_arrivals` on the same shard.)
#[test]
fn the_comparison_uses_the_products_path() {
    let rows = acc::rows();
    let mut checked = 0;
    for row in &rows {
        let Ok(case) = acc::case(row) else { continue };
        if case.arrivals != speed::Arrivals::Staggered {
            continue;
        }
        let (arch, _) = case.model.effective_architecture();
        let fit = gpu_session_core::recommend::evaluate(
            &case.model,
            &case.settings,
            case.gpu,
            gpu_session_core::EstimateMode::Serving,
        );
        let predicted = acc::predict(&case, &CALIBRATION);
        let product = speed::speed_of(
            &arch,
            case.settings.quantization,
            &fit.serving,
            fit.kv_pool_tokens,
            case.gpu,
            &case.workload,
        );
        assert_eq!(product, predicted, "{}", row.id);
        // A concurrency row's settings carry its workload, so the calculator's row (what
        // site and CLI show) is the same prediction.
        if matches!(case.workload.load, speed::Load::Concurrent(_)) {
            assert_eq!(case.settings.workload(), case.workload, "{}", row.id);
            assert_eq!(fit.speed, predicted, "{}: the calculator's row", row.id);
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} rows compared");
}
