//! Point ids and stored points.

use std::collections::HashMap;

use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::{PointId, Value};
use tonic::Status;

use crate::eval::Sparse;

/// A point id as Qdrant orders them: numeric ids first, then UUIDs by their 128-bit value (which is also the order
/// of their lowercase hyphenated text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PointKey {
    /// An unsigned integer id.
    Num(u64),
    /// A UUID.
    Uuid(u128),
}

impl PointKey {
    /// Reads a wire id; a UUID may be given with or without hyphens, in either case.
    pub fn from_point_id(id: &PointId) -> Result<PointKey, Status> {
        match &id.point_id_options {
            Some(PointIdOptions::Num(num)) => Ok(PointKey::Num(*num)),
            Some(PointIdOptions::Uuid(text)) => parse_uuid(text)
                .map(PointKey::Uuid)
                .ok_or_else(|| Status::invalid_argument(format!("Unable to parse UUID: {text}"))),
            None => Err(Status::invalid_argument("Wrong input: point id is missing")),
        }
    }

    /// The wire form; UUIDs come back lowercase and hyphenated, as Qdrant returns them.
    pub fn to_point_id(self) -> PointId {
        match self {
            PointKey::Num(num) => PointId {
                point_id_options: Some(PointIdOptions::Num(num)),
            },
            PointKey::Uuid(value) => PointId {
                point_id_options: Some(PointIdOptions::Uuid(format_uuid(value))),
            },
        }
    }
}

fn parse_uuid(text: &str) -> Option<u128> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let hyphens = text.len() - hex.len();
    let hyphenated_right = hyphens == 0
        || (hyphens == 4
            && [8, 13, 18, 23]
                .iter()
                .all(|at| text.as_bytes().get(*at) == Some(&b'-')));
    if hex.len() != 32 || !hyphenated_right || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

fn format_uuid(value: u128) -> String {
    let hex = format!("{value:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A stored point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Its id.
    pub key: PointKey,
    /// Its payload.
    pub payload: HashMap<String, Value>,
    /// Named dense vectors (the unnamed default vector is named ""), normalized when the space is cosine.
    pub dense: HashMap<String, Vec<f32>>,
    /// Named sparse vectors.
    pub sparse: HashMap<String, Sparse>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_parse_in_both_forms_and_print_hyphenated() {
        let hyphenated = PointId::from("936DA01F-9ABD-4D9D-80C7-02AF85C822A8".to_string());
        let key = PointKey::from_point_id(&hyphenated).unwrap();
        let plain = PointId::from("936da01f9abd4d9d80c702af85c822a8".to_string());
        assert_eq!(PointKey::from_point_id(&plain).unwrap(), key);
        assert_eq!(
            key.to_point_id(),
            PointId::from("936da01f-9abd-4d9d-80c7-02af85c822a8".to_string())
        );
        for bad in ["not-a-uuid", "936da01f-9abd4d9d-80c7-02af85c822a8-", ""] {
            assert!(
                PointKey::from_point_id(&PointId::from(bad.to_string())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn numbers_sort_before_uuids() {
        assert!(PointKey::Num(u64::MAX) < PointKey::Uuid(0));
    }
}
