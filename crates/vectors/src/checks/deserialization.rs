//! Checker for `deserialization.json`: MLS varint vector headers (RFC 9420 §2.1.2).

use conclave_codec::Reader;
use conclave_crypto::CryptoProvider;

use crate::{Report, cases, field_hex, field_u64};

/// Each case: decoding `vlbytes_header` yields `length`, consumes the whole header, and
/// re-encoding `length` gives the same header (which also proves it was minimal).
pub(crate) fn check(json: &serde_json::Value, _: &[Box<dyn CryptoProvider>], report: &mut Report) {
    for (i, case) in cases(json) {
        report.record(|| format!("case {i}"), check_case(case));
    }
}

fn check_case(case: &serde_json::Value) -> Result<(), String> {
    let header = field_hex(case, "vlbytes_header")?;
    let length = usize::try_from(field_u64(case, "length")?).map_err(|e| e.to_string())?;
    let mut reader = Reader::new(&header);
    let decoded = reader.read_varint().map_err(|e| e.to_string())?;
    reader.finish().map_err(|e| e.to_string())?;
    if decoded != length {
        return Err(format!("decoded {decoded}, expected {length}"));
    }
    let mut encoded = Vec::new();
    conclave_codec::write_varint(&mut encoded, length).map_err(|e| e.to_string())?;
    if encoded != header {
        return Err(format!(
            "re-encoded {} != {}",
            hex::encode(&encoded),
            hex::encode(&header)
        ));
    }
    Ok(())
}
