//! Unit and property tests of the codec rules.

use crate::{CodecError, Decode, Encode, Reader, varint_len, write_varint};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, crate::Encode, crate::Decode)]
struct Sample {
    a: u16,
    bytes: Vec<u8>,
    nested: Vec<Vec<u8>>,
    maybe: Option<u32>,
    fixed: [u8; 4],
}

#[derive(Debug, Clone, PartialEq, Eq, crate::Encode, crate::Decode)]
#[repr(u16)]
enum Choice {
    Empty = 1,
    One(u8) = 2,
    Named { x: u64, y: Vec<u8> } = 0x0300,
}

#[test]
fn varint_boundaries() {
    for (value, len) in [
        (0, 1),
        (63, 1),
        (64, 2),
        (16383, 2),
        (16384, 4),
        (crate::MAX_VARINT, 4),
    ] {
        let mut out = Vec::new();
        write_varint(&mut out, value).unwrap();
        assert_eq!(out.len(), len, "value {value}");
        assert_eq!(varint_len(value), len);
        assert_eq!(Reader::new(&out).read_varint().unwrap(), value);
    }
    assert_eq!(
        write_varint(&mut Vec::new(), crate::MAX_VARINT + 1),
        Err(CodecError::VectorTooLong(crate::MAX_VARINT + 1))
    );
}

#[test]
fn varint_rejects_non_minimal_and_bad_prefix() {
    // 5 encoded in two bytes, 64 in four bytes.
    assert_eq!(
        Reader::new(&[0x40, 0x05]).read_varint(),
        Err(CodecError::NonMinimalVarint)
    );
    assert_eq!(
        Reader::new(&[0x80, 0x00, 0x00, 0x40]).read_varint(),
        Err(CodecError::NonMinimalVarint)
    );
    assert_eq!(
        Reader::new(&[0xc0, 0, 0, 0, 0, 0, 0, 1]).read_varint(),
        Err(CodecError::InvalidVarintPrefix)
    );
    assert!(matches!(
        Reader::new(&[0x80, 0x01]).read_varint(),
        Err(CodecError::UnexpectedEnd { .. })
    ));
}

#[test]
fn vector_length_beyond_input_is_rejected_without_allocation() {
    // Claims 2^30 - 1 bytes with only three present.
    let input = [0xbf, 0xff, 0xff, 0xff, 1, 2, 3];
    let err = Vec::<u8>::from_bytes(&input).unwrap_err();
    assert_eq!(
        err,
        CodecError::UnexpectedEnd {
            needed: crate::MAX_VARINT,
            remaining: 3
        }
    );
}

#[test]
fn trailing_bytes_are_rejected() {
    assert_eq!(
        u16::from_bytes(&[0, 1, 2]),
        Err(CodecError::TrailingBytes(1))
    );
    assert_eq!(
        Vec::<u8>::from_bytes(&[1, 9, 9]),
        Err(CodecError::TrailingBytes(1))
    );
}

#[test]
fn element_straddling_vector_end_is_rejected() {
    // A vector of u16 whose body is 3 bytes long.
    assert!(matches!(
        Vec::<u16>::from_bytes(&[3, 0, 1, 0]),
        Err(CodecError::UnexpectedEnd { .. })
    ));
}

#[test]
fn optional_presence_must_be_zero_or_one() {
    assert_eq!(Option::<u8>::from_bytes(&[0]), Ok(None));
    assert_eq!(Option::<u8>::from_bytes(&[1, 7]), Ok(Some(7)));
    assert_eq!(
        Option::<u8>::from_bytes(&[2, 7]),
        Err(CodecError::InvalidValue {
            what: "optional presence",
            value: 2
        })
    );
}

#[test]
fn derived_struct_layout() {
    let s = Sample {
        a: 0x0102,
        bytes: vec![9, 8],
        nested: vec![vec![1], vec![]],
        maybe: Some(5),
        fixed: [1, 2, 3, 4],
    };
    let bytes = s.to_bytes().unwrap();
    assert_eq!(
        hex::encode(&bytes),
        "0102020908030101000100000005".to_owned() + "01020304"
    );
    assert_eq!(bytes.len(), s.encoded_len());
    assert_eq!(Sample::from_bytes(&bytes).unwrap(), s);
}

#[test]
fn derived_enum_layout_and_unknown_tag() {
    assert_eq!(Choice::Empty.to_bytes().unwrap(), [0, 1]);
    assert_eq!(Choice::One(7).to_bytes().unwrap(), [0, 2, 7]);
    let named = Choice::Named { x: 1, y: vec![2] };
    let bytes = named.to_bytes().unwrap();
    assert_eq!(bytes, [3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2]);
    assert_eq!(Choice::from_bytes(&bytes).unwrap(), named);
    assert_eq!(
        Choice::from_bytes(&[0, 9]),
        Err(CodecError::InvalidValue {
            what: "Choice",
            value: 9
        })
    );
}

fn sample_strategy() -> impl Strategy<Value = Sample> {
    (
        any::<u16>(),
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..70), 0..5),
        proptest::option::of(any::<u32>()),
        any::<[u8; 4]>(),
    )
        .prop_map(|(a, bytes, nested, maybe, fixed)| Sample {
            a,
            bytes,
            nested,
            maybe,
            fixed,
        })
}

proptest! {
    #[test]
    fn round_trip(sample in sample_strategy()) {
        let bytes = sample.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), sample.encoded_len());
        prop_assert_eq!(Sample::from_bytes(&bytes).unwrap(), sample);
    }

    #[test]
    fn varint_round_trip(value in 0usize..=crate::MAX_VARINT) {
        let mut out = Vec::new();
        write_varint(&mut out, value).unwrap();
        prop_assert_eq!(Reader::new(&out).read_varint().unwrap(), value);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Sample::from_bytes(&bytes);
        let _ = Choice::from_bytes(&bytes);
        if let Ok(s) = Sample::from_bytes(&bytes) {
            // Whatever decodes must re-encode to the same bytes (canonical encoding).
            prop_assert_eq!(s.to_bytes().unwrap(), bytes);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, crate::Encode, crate::Decode)]
struct Nothing;

#[test]
fn a_vector_is_allocated_at_its_exact_size() {
    for count in [0usize, 1, 5, 1000, 4097] {
        let items: Vec<Option<u8>> = (0..count).map(|i| (i % 3 != 0).then_some(7)).collect();
        let bytes = items.to_bytes().unwrap();
        let decoded = Vec::<Option<u8>>::from_bytes(&bytes).unwrap();
        assert_eq!(decoded, items);
        assert_eq!(decoded.capacity(), count, "{count} values");
    }
    let choices = vec![
        Choice::Empty,
        Choice::One(3),
        Choice::Named {
            x: 9,
            y: vec![1; 70],
        },
    ];
    let decoded = Vec::<Choice>::from_bytes(&choices.to_bytes().unwrap()).unwrap();
    assert_eq!(decoded, choices);
    assert_eq!(decoded.capacity(), 3);
}

#[test]
fn skip_reads_exactly_what_decode_reads() {
    let sample = Sample {
        a: 1,
        bytes: vec![2; 3],
        nested: vec![vec![], vec![4; 100]],
        maybe: Some(5),
        fixed: [6; 4],
    };
    let mut bytes = sample.to_bytes().unwrap();
    bytes.push(0xEE);
    let mut reader = Reader::new(&bytes);
    Sample::skip(&mut reader).unwrap();
    assert_eq!(reader.remaining(), 1);
    // A bad optional or an unknown variant is refused by skip as by decode.
    assert!(Option::<u8>::skip(&mut Reader::new(&[2])).is_err());
    assert!(Choice::skip(&mut Reader::new(&[0, 9])).is_err());
}

#[test]
fn a_vector_of_elements_of_no_bytes_is_refused_not_looped_on() {
    // Before vectors were counted, decoding this spun forever pushing zero-sized values.
    let mut bytes = Vec::new();
    write_varint(&mut bytes, 1).unwrap();
    bytes.push(0);
    assert!(matches!(
        Vec::<Nothing>::from_bytes(&bytes),
        Err(CodecError::Malformed { .. })
    ));
}
