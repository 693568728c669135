//! Raw value conversions on the JS thread. Values cross into JS as copies in JS-owned memory
//! (strings, or Buffers made by `napi_create_buffer_copy`): Electron forbids external buffers.

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, ValueType};
use napi::sys;

/// Bytes of a short string argument encoded on the stack (keys are short: no allocation and
/// one UTF-8 pass per call; a profile of cached `getSync` showed the allocating `String`
/// conversion, length pass included, at ~5% of the call).
const INLINE_ARG_BYTES: usize = 256;
/// A UTF-8 character is at most this long: a write that stopped within this many bytes of
/// the buffer's end may have been cut short, so its length is asked for.
const UTF8_CHAR_BYTES_MAX: usize = 4;

/// A key or value argument: a JS string (UTF-8 encoded here) or a Uint8Array/Buffer (borrowed).
#[allow(clippy::large_enum_variant)] // on purpose: the inline variant is the stack buffer
pub enum BytesArg<'a> {
    /// A short string's UTF-8 bytes: `buf[..len]`.
    Inline { len: usize, buf: [u8; INLINE_ARG_BYTES + 1] },
    /// A longer string's UTF-8 bytes.
    Owned(Vec<u8>),
    /// A Uint8Array or Buffer.
    Borrowed(&'a [u8]),
}

impl TypeName for BytesArg<'_> {
    fn type_name() -> &'static str {
        "string | Uint8Array"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl FromNapiValue for BytesArg<'_> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut kind = 0;
        // SAFETY: called by napi-rs on the JS thread with a live env and value.
        check(unsafe { sys::napi_typeof(env, value, &raw mut kind) }, "typeof")?;
        if kind != sys::ValueType::napi_string {
            // SAFETY: as above; napi-rs checks the typed array and borrows its bytes.
            return unsafe { <&[u8] as FromNapiValue>::from_napi_value(env, value) }.map(BytesArg::Borrowed);
        }
        let mut buf = [0u8; INLINE_ARG_BYTES + 1];
        let mut len = 0usize;
        // SAFETY: `buf` has room for `buf.len()` bytes, terminator included; `len` is a valid
        // out-pointer.
        let status =
            unsafe { sys::napi_get_value_string_utf8(env, value, buf.as_mut_ptr().cast(), buf.len(), &raw mut len) };
        check(status, "read a string")?;
        if len + UTF8_CHAR_BYTES_MAX <= INLINE_ARG_BYTES {
            return Ok(BytesArg::Inline { len, buf });
        }
        // SAFETY: a null buffer asks for the length only.
        let status = unsafe { sys::napi_get_value_string_utf8(env, value, std::ptr::null_mut(), 0, &raw mut len) };
        check(status, "measure a string")?;
        let mut owned = vec![0u8; len + 1];
        // SAFETY: `owned` has room for the string and its terminator.
        let status = unsafe {
            sys::napi_get_value_string_utf8(env, value, owned.as_mut_ptr().cast(), owned.len(), &raw mut len)
        };
        check(status, "read a string")?;
        owned.truncate(len);
        Ok(BytesArg::Owned(owned))
    }
}

/// An array of keys and values (strings UTF-8 encoded, Uint8Arrays/Buffers copied), packed
/// into one buffer: no allocation per item, and each string is encoded once, straight into
/// place (napi-rs's `Vec<String>` measured its UTF-8 length first, then allocated and wrote it:
/// a tenth of a batch put's profile).
pub struct ItemsArg {
    bytes: Vec<u8>,
    /// Where each item ends in `bytes`.
    ends: Vec<usize>,
}

impl ItemsArg {
    /// The items in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(start, &end)| self.bytes.get(start..end).unwrap_or_default())
    }
}

impl TypeName for ItemsArg {
    fn type_name() -> &'static str {
        "Array<string | Uint8Array>"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl FromNapiValue for ItemsArg {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut is_array = false;
        // SAFETY: called by napi-rs on the JS thread with a live env and value.
        check(unsafe { sys::napi_is_array(env, value, &raw mut is_array) }, "check an array")?;
        if !is_array {
            return Err(napi::Error::from_reason("expected an array of strings or Uint8Arrays"));
        }
        let mut len = 0u32;
        // SAFETY: as above; `len` is a valid out-pointer.
        check(unsafe { sys::napi_get_array_length(env, value, &raw mut len) }, "read an array length")?;
        let mut items = Self { bytes: Vec::new(), ends: Vec::with_capacity(len as usize) };
        for i in 0..len {
            let mut item = std::ptr::null_mut();
            // SAFETY: as above; `item` is a valid out-pointer.
            check(unsafe { sys::napi_get_element(env, value, i, &raw mut item) }, "read an array item")?;
            // SAFETY: `item` is a live value of this call.
            unsafe { items.push(env, item) }?;
        }
        Ok(items)
    }
}

impl ItemsArg {
    /// Appends one item.
    ///
    /// # Safety
    /// `env` and `item` must be live values of the current JS-thread call.
    unsafe fn push(&mut self, env: sys::napi_env, item: sys::napi_value) -> napi::Result<()> {
        let mut kind = 0;
        // SAFETY: per this function's contract.
        check(unsafe { sys::napi_typeof(env, item, &raw mut kind) }, "typeof")?;
        if kind == sys::ValueType::napi_string {
            let mut units = 0usize;
            // SAFETY: a null buffer asks for the length in UTF-16 units (no encoding work).
            let status =
                unsafe { sys::napi_get_value_string_utf16(env, item, std::ptr::null_mut(), 0, &raw mut units) };
            check(status, "measure a string")?;
            // A UTF-16 unit takes at most 3 UTF-8 bytes (a surrogate pair, 2 units, takes 4),
            // plus the terminator napi writes.
            let start = self.bytes.len();
            self.bytes.resize(start + 3 * units + 1, 0);
            let mut written = 0usize;
            // SAFETY: `bytes[start..]` has room for `3 * units + 1` bytes, terminator included.
            let status = unsafe {
                sys::napi_get_value_string_utf8(
                    env,
                    item,
                    self.bytes.as_mut_ptr().add(start).cast(),
                    3 * units + 1,
                    &raw mut written,
                )
            };
            check(status, "read a string")?;
            self.bytes.truncate(start + written);
        } else {
            // SAFETY: per this function's contract; napi-rs checks the typed array and borrows
            // its bytes for the copy.
            let borrowed = unsafe { <&[u8] as FromNapiValue>::from_napi_value(env, item) }?;
            self.bytes.extend_from_slice(borrowed);
        }
        self.ends.push(self.bytes.len());
        Ok(())
    }
}

/// The bytes of a key or value argument.
pub fn arg_bytes<'a>(arg: &'a BytesArg<'_>) -> &'a [u8] {
    match arg {
        BytesArg::Inline { len, buf } => buf.get(..*len).unwrap_or_default(),
        BytesArg::Owned(v) => v,
        BytesArg::Borrowed(b) => b,
    }
}

/// A JS value already created on the JS thread, returned as is.
pub struct RawValue(pub sys::napi_value);

impl TypeName for RawValue {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ToNapiValue for RawValue {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!("napi call failed: {what} (status {status})")))
    }
}

/// Whether every byte is below 0x80. `<[u8]>::is_ascii` checked the bytes after its last
/// aligned word one at a time (half the time of a page's string making in a profile); this ORs
/// 16 bytes at a time, then the last 16 (overlapping), with no byte loop.
fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH: u128 = u128::from_le_bytes([0x80; 16]);
    let word = |chunk: &[u8]| chunk.try_into().map_or(HIGH, u128::from_le_bytes);
    if bytes.len() < 16 {
        return bytes.iter().fold(0, |acc, b| acc | b) < 0x80;
    }
    let chunks = bytes.chunks_exact(16);
    let tail = bytes.get(bytes.len() - 16..).map_or(HIGH, word);
    chunks.fold(tail, |acc, chunk| acc | word(chunk)) & HIGH == 0
}

/// Creates a JS string (invalid UTF-8 sequences become U+FFFD) or a Buffer copy of `bytes`.
/// ASCII (nearly every key and value: JSON, URLs) is created as Latin-1, the same string: V8
/// copies Latin-1 bytes straight into a one-byte string, where UTF-8 goes through its decoder
/// (validate, count, copy: a tenth of a cached `getSync` and the largest item of a scan's
/// profile).
pub fn bytes_to_js(env: sys::napi_env, bytes: &[u8], as_string: bool) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: `env` is the live env of the current JS-thread call; `bytes` outlives the call,
    // which copies them; `out` is a valid out-pointer.
    let status = unsafe {
        if as_string && is_ascii(bytes) {
            sys::napi_create_string_latin1(env, bytes.as_ptr().cast(), bytes.len() as isize, &raw mut out)
        } else if as_string {
            sys::napi_create_string_utf8(env, bytes.as_ptr().cast(), bytes.len() as isize, &raw mut out)
        } else {
            sys::napi_create_buffer_copy(env, bytes.len(), bytes.as_ptr().cast(), std::ptr::null_mut(), &raw mut out)
        }
    };
    check(status, "create value")?;
    Ok(RawValue(out))
}

/// `undefined`.
pub fn undefined(env: sys::napi_env) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and out-pointer.
    check(unsafe { sys::napi_get_undefined(env, &raw mut out) }, "get undefined")?;
    Ok(RawValue(out))
}

/// `null`.
pub fn null(env: sys::napi_env) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and out-pointer.
    check(unsafe { sys::napi_get_null(env, &raw mut out) }, "get null")?;
    Ok(RawValue(out))
}

/// A value or `undefined`.
pub fn option_to_js(env: sys::napi_env, value: Option<&[u8]>, as_string: bool) -> napi::Result<RawValue> {
    match value {
        Some(v) => bytes_to_js(env, v, as_string),
        None => undefined(env),
    }
}

/// A JS number.
pub fn number_to_js(env: sys::napi_env, value: f64) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and out-pointer.
    check(unsafe { sys::napi_create_double(env, value, &raw mut out) }, "create number")?;
    Ok(RawValue(out))
}

#[cfg(test)]
mod tests {
    use super::is_ascii;

    #[test]
    fn is_ascii_finds_a_high_byte_anywhere_at_any_length() {
        for len in 0..70 {
            let bytes = vec![b'a'; len];
            assert!(is_ascii(&bytes), "len {len}");
            for at in 0..len {
                let mut high = bytes.clone();
                high[at] = 0x80;
                assert!(!is_ascii(&high), "len {len}, 0x80 at {at}");
                high[at] = 0xff;
                assert!(!is_ascii(&high), "len {len}, 0xff at {at}");
            }
        }
        assert!(is_ascii(b"\x00\x7f"));
    }
}
