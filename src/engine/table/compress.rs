//! Block compression codecs (docs/format.md "Block compression"). Every compressed form
//! starts with the uncompressed length as a little-endian u32, so a reader allocates exactly
//! once and can refuse absurd sizes before allocating:
//! - LZ4: `raw_len u32 | LZ4 block` (lz4_flex's size-prepended format);
//! - zstd: `raw_len u32 | zstd frame` (level 3);
//! - zlib: `raw_len u32 | zlib stream` (RFC 1950, level 6, flate2).
//!
//! A compressed form is kept only when it saves at least 1/8 of the block; otherwise the
//! block is stored as is (compression byte 0).

use std::cell::RefCell;
use std::io::{Read, Write};

use crate::engine::coding::u32_at;
use crate::engine::key::BATCH_SIZE_BYTES_MAX;
use crate::engine::options::Compression;

/// Largest uncompressed block a reader accepts: one entry of the largest key and value
/// plus framing fits.
pub const BLOCK_RAW_BYTES_MAX: usize = BATCH_SIZE_BYTES_MAX + 4096;

const ZSTD_LEVEL: i32 = 3;

thread_local! {
    // zstd contexts, one of each per thread and reused: `zstd::bulk::compress`/`decompress`
    // build a fresh context per call (about 1 MiB for the compressor), which made a zstd block
    // read three times slower than an LZ4 one and the writer 50% slower.
    static ZSTD_COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static ZSTD_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

fn zstd_compress(raw: &[u8]) -> Option<Vec<u8>> {
    ZSTD_COMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL).ok()?);
        }
        slot.as_mut()?.compress(raw).ok()
    })
}

fn zstd_decompress(body: &[u8], raw_len: usize) -> Option<Vec<u8>> {
    ZSTD_DECOMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new().ok()?);
        }
        slot.as_mut()?.decompress(body, raw_len).ok()
    })
}

fn with_len(raw: &[u8], body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&u32::try_from(raw.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The compressed form of `raw`, or `None` to store it as is.
#[must_use]
pub fn compress(raw: &[u8], compression: Compression) -> Option<Vec<u8>> {
    let packed = match compression {
        Compression::None => return None,
        Compression::Lz4 => lz4_flex::block::compress_prepend_size(raw),
        Compression::Zstd => with_len(raw, zstd_compress(raw)?),
        Compression::Zlib => {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(raw).ok()?;
            with_len(raw, encoder.finish().ok()?)
        }
    };
    (packed.len() < raw.len() - raw.len() / 8).then_some(packed)
}

/// Largest output per input byte of an LZ4 block (a 1-byte match token can add 255 bytes).
const LZ4_EXPANSION_MAX: usize = 255;
/// Largest output per input byte of a deflate stream (RFC 1951's 258-byte matches: ~1032:1).
const DEFLATE_EXPANSION_MAX: usize = 1032;

/// Undoes `compress`; `Err` names what is wrong (the caller reports corruption).
pub fn decompress(stored: &[u8], compression: Compression) -> Result<Vec<u8>, &'static str> {
    if compression == Compression::None {
        return Ok(stored.to_vec());
    }
    let raw_len = u32_at(stored, 0).ok_or("compressed block too short")? as usize;
    if raw_len > BLOCK_RAW_BYTES_MAX {
        return Err("compressed block claims an impossible size");
    }
    let body = stored.get(4..).unwrap_or_default();
    // A damaged or crafted length must not make us reserve memory the body cannot fill: each
    // codec has a largest possible expansion (or records the true size), checked first.
    let possible = match compression {
        Compression::None => true,
        Compression::Lz4 => raw_len <= body.len().saturating_mul(LZ4_EXPANSION_MAX).saturating_add(16),
        Compression::Zstd => {
            matches!(zstd::zstd_safe::get_frame_content_size(body), Ok(Some(size)) if size == raw_len as u64)
        }
        Compression::Zlib => raw_len <= body.len().saturating_mul(DEFLATE_EXPANSION_MAX).saturating_add(16),
    };
    if !possible {
        return Err("compressed block claims more than its bytes can hold");
    }
    let raw = match compression {
        Compression::None => return Ok(stored.to_vec()),
        Compression::Lz4 => lz4_flex::block::decompress(body, raw_len).map_err(|_| "lz4 block does not decompress")?,
        Compression::Zstd => zstd_decompress(body, raw_len).ok_or("zstd block does not decompress")?,
        Compression::Zlib => {
            let mut out = Vec::with_capacity(raw_len);
            let mut decoder = flate2::read::ZlibDecoder::new(body).take(raw_len as u64 + 1);
            decoder.read_to_end(&mut out).map_err(|_| "zlib block does not decompress")?;
            out
        }
    };
    if raw.len() != raw_len {
        return Err("compressed block has the wrong length");
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips_and_refuses_damage() {
        let raw: Vec<u8> = (0..4000u32).flat_map(|i| format!("history:{:09} ", i % 300).into_bytes()).collect();
        for c in [Compression::Lz4, Compression::Zstd, Compression::Zlib] {
            let packed = compress(&raw, c).unwrap();
            assert!(packed.len() < raw.len() / 2, "{c:?} compresses repetitive data");
            assert_eq!(decompress(&packed, c).unwrap(), raw);
            let mut wrong_len = packed.clone();
            wrong_len[0] ^= 1;
            assert!(decompress(&wrong_len, c).is_err(), "{c:?}: a wrong length is caught");
            assert!(decompress(&packed[..packed.len() / 2], c).is_err(), "{c:?}: a cut stream is caught");
        }
    }

    #[test]
    fn incompressible_blocks_are_stored_as_is() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let raw: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        for c in [Compression::None, Compression::Lz4, Compression::Zstd, Compression::Zlib] {
            assert!(compress(&raw, c).is_none(), "{c:?}");
        }
    }

    #[test]
    fn absurd_sizes_are_refused_before_allocating() {
        let mut stored = u32::MAX.to_le_bytes().to_vec();
        stored.extend_from_slice(&[0; 16]);
        for c in [Compression::Lz4, Compression::Zstd, Compression::Zlib] {
            assert_eq!(decompress(&stored, c), Err("compressed block claims an impossible size"));
        }
    }

    #[test]
    fn a_length_the_body_cannot_fill_is_refused_before_decoding() {
        // 32 MiB claimed by a 12-byte body: no codec can expand that far.
        let mut stored = (32u32 * 1024 * 1024).to_le_bytes().to_vec();
        stored.extend_from_slice(&[0x1f; 12]);
        for c in [Compression::Lz4, Compression::Zstd, Compression::Zlib] {
            assert_eq!(decompress(&stored, c), Err("compressed block claims more than its bytes can hold"));
        }
        // A true zstd block whose recorded length was altered.
        let raw = vec![7u8; 4096];
        let mut packed = compress(&raw, Compression::Zstd).expect("compressible");
        packed[..4].copy_from_slice(&4000u32.to_le_bytes());
        assert!(decompress(&packed, Compression::Zstd).is_err());
    }
}
