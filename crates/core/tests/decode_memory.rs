//! Decode amplification: how much heap the decoders of the wire structures (RFC 9420 §6,
//! §7.6, §10, §12.4, §12.4.3.1, §12.4.3.3) use for adversarial input, measured by a counting
//! global allocator (its own test binary, so the count is this file's alone).
//!
//! The rule (docs/style.md §6): nothing allocates more than a small multiple of its input.
//! [`K`] is that multiple. The worst structures are vectors of elements that are one to three
//! bytes on the wire but whole Rust values in memory: an empty certificate (1 byte, a 24-byte
//! `Vec<u8>`), an empty Welcome secret (3 bytes, three `Vec<u8>`s of 24 bytes), a blank tree
//! node (1 byte, an `Option<Node>` of 16 bytes). Vectors are counted before they are
//! decoded and allocated once at their exact size (`conclave_codec::Decode::decode_all`).
//! The counter charges a reallocation as a new block plus the old one until it is freed (as
//! a copying allocator would), so a growing vector would show its two buffers.
//!
//! Measured (1 MiB inputs): 24 bytes per input byte for the empty certificates and the
//! Welcome of empty secrets, 16 for the blank tree and the empty proposal references, 17 for
//! inline Removes, 15 and 13 for the batches. Before the large payloads were boxed and the
//! vectors sized exactly, the same inputs cost 288 (blank tree, an `Option<Node>` held a whole
//! `LeafNode` inline), 552 (references: an inline `Proposal` of 368 bytes per reference),
//! about 48 (certificates, a doubling vector) and about 60 (`MLSMessage` batches).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use conclave_codec::{Decode, write_varint};
use conclave_core::messages::{Commit, Credential, MlsMessage, RatchetTreeNodes, Welcome};
use peak_alloc::PeakAlloc;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// The stated bound: peak heap of a decode, in bytes per input byte (an empty `Vec<u8>`,
/// 24 bytes, per one-byte empty `opaque<V>`).
const K: usize = 24;

/// Input size of each case (large enough that fixed costs do not matter).
const SIZE: usize = 1 << 20;

/// `opaque<V>`/vector framing of `body`.
fn vector(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    write_varint(&mut out, body.len()).unwrap();
    out.extend_from_slice(body);
    out
}

/// `count` copies of `item`, back to back.
fn repeat(item: &[u8], count: usize) -> Vec<u8> {
    item.repeat(count)
}

/// Peak heap (bytes) of decoding `input` as `T`, the input itself not counted. The value
/// must decode: a case that fails early would measure nothing.
fn peak_of<T: Decode>(input: &[u8]) -> usize {
    HEAP.reset_peak_usage();
    let base = HEAP.current_usage();
    let value = T::from_bytes(input).expect("the adversarial input is a valid encoding");
    let peak = HEAP.peak_usage().saturating_sub(base);
    drop(value);
    peak
}

/// The cases: a name, the input and its peak.
fn cases() -> Vec<(&'static str, usize, usize)> {
    let mut out = Vec::new();
    let mut case = |name: &'static str, input: Vec<u8>, peak: fn(&[u8]) -> usize| {
        let measured = peak(&input);
        out.push((name, input.len(), measured));
    };

    // A ratchet tree that is a run of blank nodes (1 byte each), ending in a parent node.
    let mut tree = vec![0u8; SIZE];
    tree.extend_from_slice(&[1, 2, 0, 0, 0]);
    case(
        "ratchet_tree of blank nodes",
        vector(&tree),
        peak_of::<RatchetTreeNodes>,
    );

    // An X.509 credential with a run of empty certificates (1 byte each): many empty
    // vectors.
    let mut x509 = vec![0x00, 0x02];
    x509.extend(vector(&vec![0u8; SIZE]));
    case(
        "credential of empty certificates",
        x509,
        peak_of::<Credential>,
    );

    // A commit with a run of empty proposal references (2 bytes each), then one inline
    // Remove proposal (7 bytes each) run, and no path.
    let mut refs = repeat(&[0x02, 0x00], SIZE / 2);
    let mut commit = vector(&refs);
    commit.push(0);
    case("commit of empty references", commit, peak_of::<Commit>);
    refs = repeat(&[0x01, 0x00, 0x03, 0, 0, 0, 1], SIZE / 7);
    let mut commit = vector(&refs);
    commit.push(0);
    case("commit of inline removes", commit, peak_of::<Commit>);

    // A Welcome with a run of empty secrets (3 bytes each: KeyPackageRef, kem_output,
    // ciphertext) and an empty GroupInfo ciphertext.
    let mut welcome = vec![0x00, 0x01];
    welcome.extend(vector(&repeat(&[0, 0, 0], SIZE / 3)));
    welcome.push(0);
    case(
        "welcome of empty secrets",
        welcome.clone(),
        peak_of::<Welcome>,
    );
    let mut message = vec![0x00, 0x01, 0x00, 0x03];
    message.extend(welcome);
    case(
        "MLSMessage welcome of empty secrets",
        message,
        peak_of::<MlsMessage>,
    );

    // A batch of the smallest MLSMessages (the KeyPackage upload's `MLSMessage<V>`):
    // PrivateMessages with empty fields, 17 bytes each.
    let private = [
        0x00, 0x01, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00,
    ];
    case(
        "batch of minimal MLSMessages",
        vector(&repeat(&private, SIZE / private.len())),
        peak_of::<Vec<MlsMessage>>,
    );

    // A batch of minimal KeyPackages: every field empty or zero (a KeyPackage is never
    // smaller; the DS checks them only after decoding the batch).
    let key_package = [
        &[0x00, 0x01, 0x00, 0x05][..],   // mls10, mls_key_package
        &[0x00, 0x01, 0x00, 0x01, 0x00], // version, suite, init_key
        &[0x00, 0x00, 0x00, 0x01, 0x00], // encryption_key, signature_key, basic credential
        &[0x00, 0x00, 0x00, 0x00, 0x00], // capabilities
        &[0x01, 0, 0, 0, 0, 0, 0, 0, 0], // key_package source, not_before
        &[0, 0, 0, 0, 0, 0, 0, 0, 0x00], // not_after, leaf extensions
        &[0x00, 0x00, 0x00],             // leaf signature, extensions, signature
    ]
    .concat();
    case(
        "batch of minimal KeyPackages",
        vector(&repeat(&key_package, SIZE / key_package.len())),
        peak_of::<Vec<MlsMessage>>,
    );
    out
}

#[test]
fn decoders_use_at_most_k_bytes_of_heap_per_input_byte() {
    let mut failures = Vec::new();
    for (name, len, peak) in cases() {
        let per_byte = peak as f64 / len as f64;
        println!("{name}: {len} bytes in, peak heap {peak} bytes ({per_byte:.1} per byte)");
        if peak > K * len {
            failures.push(format!("{name}: {per_byte:.1} bytes per input byte"));
        }
    }
    assert!(
        failures.is_empty(),
        "decoders over {K} bytes of heap per input byte: {failures:?}"
    );
}
