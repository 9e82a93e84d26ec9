//! Regenerating the price table (`gpu/prices.rs`) from a saved Lambda
//! `GET /instance-types` answer: `cargo xtask prices FILE`. Pure: the caller reads the
//! file and writes the result.

use super::Price;
use crate::validate::FieldError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Why an answer cannot become a price table; names the field and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceTableError {
    #[error("not a Lambda /instance-types answer: {0}")]
    Malformed(String),
    #[error("{0}")]
    Field(#[from] FieldError),
}

/// The answer's shape (Lambda Cloud API v1.8.3, `listInstanceTypes`): `data` maps each
/// type's name to its `instance_type`. Other fields (specs, regions) are not needed.
#[derive(Deserialize)]
struct Answer {
    data: BTreeMap<String, Item>,
}

#[derive(Deserialize)]
struct Item {
    instance_type: Entry,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    price_cents_per_hour: u32,
}

/// One type's price as an answer gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerPrice {
    pub instance_type: String,
    pub cents_per_hour: u32,
}

/// The prices in a saved answer, by name. Every name must be a plausible Lambda type
/// name (it becomes a Rust string literal) and every price positive.
pub fn parse_answer(json: &str) -> Result<Vec<AnswerPrice>, PriceTableError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let answer: Answer = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| PriceTableError::Malformed(format!("{}: {}", e.path(), e.inner())))?;
    if answer.data.is_empty() {
        return Err(FieldError::new("data", "{}", "lists no instance types").into());
    }
    answer
        .data
        .into_iter()
        .map(|(key, item)| {
            let entry = item.instance_type;
            let field = format!("data.{key}.instance_type");
            crate::validate::instance_type_name(&format!("{field}.name"), &entry.name)?;
            if entry.name != key {
                return Err(FieldError::new(
                    format!("{field}.name"),
                    &entry.name,
                    format!("differs from its key '{key}'"),
                )
                .into());
            }
            if entry.price_cents_per_hour == 0 {
                return Err(FieldError::new(
                    format!("{field}.price_cents_per_hour"),
                    0,
                    "is not a price: an on-demand type costs something",
                )
                .into());
            }
            Ok(AnswerPrice {
                instance_type: entry.name,
                cents_per_hour: entry.price_cents_per_hour,
            })
        })
        .collect()
}

/// An ISO date, `YYYY-MM-DD`.
fn iso_date(field: &str, value: &str) -> Result<(), FieldError> {
    let b = value.as_bytes();
    let ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && (b"01".as_slice()..=b"12".as_slice()).contains(&&b[5..7])
        && (b"01".as_slice()..=b"31".as_slice()).contains(&&b[8..10]);
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            value,
            "is not a date like 2026-12-03",
        ))
    }
}

/// The text of `gpu/prices.rs`: every type of the answer at its price as of `as_of`,
/// then the types of `previous` the answer lacks, at their last known price and date,
/// not offered. Sorted by name, so a regeneration's diff shows only what changed.
pub fn render(
    answer: &[AnswerPrice],
    as_of: &str,
    source: &str,
    previous: &[Price],
) -> Result<String, PriceTableError> {
    iso_date("--as-of", as_of)?;
    crate::validate::display_text("--source", source, 200)?;
    let mut rows: BTreeMap<&str, (u32, &str, bool)> = previous
        .iter()
        .map(|p| (p.instance_type, (p.cents_per_hour, p.as_of, false)))
        .collect();
    for p in answer {
        rows.insert(&p.instance_type, (p.cents_per_hour, as_of, true));
    }
    let mut out = String::from(HEADER);
    let _ = write!(
        out,
        "/// The date of the answer these prices come from: whether a type is offered on demand\n\
         /// is as of this date.\n\
         pub const AS_OF: &str = {as_of:?};\n\n\
         /// Where the prices come from, shown next to them.\n\
         pub const SOURCE: &str = {source:?};\n\n\
         /// Every instance type Lambda lists, and the ones it no longer lists (`offered: false`).\n\
         #[rustfmt::skip]\n\
         pub const PRICES: &[Price] = &[\n"
    );
    for (name, (cents, date, offered)) in rows {
        let _ = writeln!(
            out,
            "    Price {{ instance_type: {name:?}, cents_per_hour: {cents}, as_of: {date:?}, offered: {offered} }},"
        );
    }
    out.push_str("];\n");
    Ok(out)
}

const HEADER: &str = "\
// @generated by `cargo xtask prices FILE` from a saved Lambda `GET /instance-types`
// answer; edit by regenerating. Types the answer lacks keep their last known price,
// marked not offered.

use super::Price;

";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::prices::{AS_OF, PRICES, SOURCE};

    /// Lambda's 2026 on-demand list in the shape of an `/instance-types` answer: every
    /// type's name and price as the public records of 2026-05-28 and 2026-09-20 give
    /// them; descriptions, specs and regions left out (the generator reads neither).
    const ANSWER_2026: &str = include_str!("../../tests/fixtures/instance-types-2026.json");

    /// The source line the committed table was generated with.
    const SOURCE_2026: &str = "Lambda's on-demand list: its /instance-types answer of 2026-05-28 and its instances page of 2026-09-20, which agree";

    #[test]
    fn the_committed_table_is_in_the_generators_own_format() {
        // Regenerating the committed table from its own offered rows gives the file
        // byte for byte (so the generator writes what rustfmt keeps, and a regeneration's
        // diff is only what changed).
        let offered: Vec<AnswerPrice> = PRICES
            .iter()
            .filter(|p| p.offered)
            .map(|p| AnswerPrice {
                instance_type: p.instance_type.into(),
                cents_per_hour: p.cents_per_hour,
            })
            .collect();
        let text = render(&offered, AS_OF, SOURCE, PRICES).unwrap();
        assert_eq!(text, include_str!("prices.rs"));
    }

    #[test]
    fn the_2026_answer_generates_the_2026_table() {
        // Pinned to the 2026 data: regenerating from a newer answer updates this test's
        // fixture and expectations deliberately, like the CLI snapshots.
        let answer = parse_answer(ANSWER_2026).unwrap();
        assert_eq!(answer.len(), 22);
        let text = render(&answer, "2026-09-20", SOURCE_2026, PRICES).unwrap();
        assert_eq!(text, include_str!("prices.rs"));
    }

    #[test]
    fn a_newer_answer_reprices_adds_and_retires_types() {
        let answer = parse_answer(
            r#"{"data": {
                "gpu_1x_a10": {"instance_type": {"name": "gpu_1x_a10", "description": "1x A10 (24 GB PCIe)",
                    "gpu_description": "A10 (24 GB PCIe)", "price_cents_per_hour": 139,
                    "specs": {"vcpus": 30, "memory_gib": 200, "storage_gib": 1400, "gpus": 1}},
                    "regions_with_capacity_available": []},
                "gpu_1x_h200": {"instance_type": {"name": "gpu_1x_h200", "price_cents_per_hour": 499}}
            }}"#,
        )
        .unwrap();
        let previous = [
            Price {
                instance_type: "gpu_1x_a10",
                cents_per_hour: 129,
                as_of: "2026-09-20",
                offered: true,
            },
            Price {
                instance_type: "gpu_8x_v100",
                cents_per_hour: 632,
                as_of: "2026-09-20",
                offered: true,
            },
        ];
        let text = render(&answer, "2027-01-15", "test", &previous).unwrap();
        assert!(
            text.contains(r#"pub const AS_OF: &str = "2027-01-15";"#),
            "{text}"
        );
        for row in [
            r#"Price { instance_type: "gpu_1x_a10", cents_per_hour: 139, as_of: "2027-01-15", offered: true },"#,
            r#"Price { instance_type: "gpu_1x_h200", cents_per_hour: 499, as_of: "2027-01-15", offered: true },"#,
            r#"Price { instance_type: "gpu_8x_v100", cents_per_hour: 632, as_of: "2026-09-20", offered: false },"#,
        ] {
            assert!(text.contains(row), "{row}\n{text}");
        }
    }

    #[test]
    fn a_malformed_answer_is_refused_naming_the_field() {
        let cases = [
            ("", "not a Lambda /instance-types answer"),
            ("[]", "not a Lambda /instance-types answer"),
            (
                r#"{"error": {"code": "global/invalid-api-key"}}"#,
                "missing field `data`",
            ),
            (r#"{"data": {}}"#, "data: '{}' lists no instance types"),
            (
                r#"{"data": {"gpu_1x_a10": {"instance_type": {"name": "gpu_1x_a10", "price_cents_per_hour": -5}}}}"#,
                "data.gpu_1x_a10.instance_type.price_cents_per_hour",
            ),
            (
                r#"{"data": {"gpu_1x_a10": {"instance_type": {"name": "gpu_1x_a10", "price_cents_per_hour": "129"}}}}"#,
                "data.gpu_1x_a10.instance_type.price_cents_per_hour",
            ),
            (
                r#"{"data": {"gpu_1x_a10": {"instance_type": {"name": "gpu_1x_a10", "price_cents_per_hour": 0}}}}"#,
                "price_cents_per_hour: '0' is not a price",
            ),
            (
                r#"{"data": {"gpu_1x_a10": {"instance_type": {"name": "gpu_1x_a100", "price_cents_per_hour": 129}}}}"#,
                "data.gpu_1x_a10.instance_type.name: 'gpu_1x_a100' differs from its key",
            ),
            (
                r#"{"data": {"x\"); evil(); (\"": {"instance_type": {"name": "x\"); evil(); (\"", "price_cents_per_hour": 1}}}}"#,
                "is not a Lambda instance type name",
            ),
            (
                r#"{"data": {"gpu_1x_a10": {"instance_type": {"price_cents_per_hour": 129}}}}"#,
                "data.gpu_1x_a10.instance_type: missing field `name`",
            ),
        ];
        for (json, expected) in cases {
            let err = parse_answer(json).unwrap_err().to_string();
            assert!(err.contains(expected), "{json}: {err}");
        }
        let answer = parse_answer(ANSWER_2026).unwrap();
        for bad in ["2026-9-20", "20260920", "2026-13-01", "today"] {
            let err = render(&answer, bad, "x", &[]).unwrap_err().to_string();
            assert!(err.contains("--as-of") && err.contains(bad), "{err}");
        }
        let err = render(&answer, "2026-09-20", "two\nlines", &[]).unwrap_err();
        assert!(err.to_string().contains("--source"), "{err}");
    }
}
