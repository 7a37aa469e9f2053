//! The binary encoding of a subject's sealed fields: one row per subject, one ciphertext per
//! field. Format: u16 count, then per field a u8 key length, the key (UTF-8), a u32 value length
//! and the sealed value; all big-endian.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BlobError {
    #[error("the sealed-fields blob is truncated")]
    Truncated,
    #[error("a field key in the sealed-fields blob is not UTF-8")]
    Key,
    #[error("too many fields or too long a key or value to encode")]
    TooLarge,
}

pub fn encode_fields(fields: &[(String, Vec<u8>)]) -> Result<Vec<u8>, BlobError> {
    let count = u16::try_from(fields.len()).map_err(|_| BlobError::TooLarge)?;
    let size = 2 + fields
        .iter()
        .map(|(k, v)| 5 + k.len() + v.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&count.to_be_bytes());
    for (k, v) in fields {
        out.push(u8::try_from(k.len()).map_err(|_| BlobError::TooLarge)?);
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(
            &u32::try_from(v.len())
                .map_err(|_| BlobError::TooLarge)?
                .to_be_bytes(),
        );
        out.extend_from_slice(v);
    }
    Ok(out)
}

pub fn decode_fields(mut b: &[u8]) -> Result<Vec<(String, Vec<u8>)>, BlobError> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], BlobError> {
        if b.len() < n {
            return Err(BlobError::Truncated);
        }
        let (head, tail) = b.split_at(n);
        *b = tail;
        Ok(head)
    }
    let count = u16::from_be_bytes([take(&mut b, 1)?[0], take(&mut b, 1)?[0]]);
    let mut out = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let klen = usize::from(take(&mut b, 1)?[0]);
        let key = std::str::from_utf8(take(&mut b, klen)?)
            .map_err(|_| BlobError::Key)?
            .to_owned();
        let l = take(&mut b, 4)?;
        let vlen = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
        out.push((key, take(&mut b, vlen)?.to_vec()));
    }
    if b.is_empty() {
        Ok(out)
    } else {
        Err(BlobError::Truncated)
    }
}

/// The field keys of a blob, in order, without copying the sealed values.
pub fn decode_field_keys(b: &[u8]) -> Result<Vec<String>, BlobError> {
    let at = |i: usize| b.get(i).copied().ok_or(BlobError::Truncated);
    let count = u16::from_be_bytes([at(0)?, at(1)?]);
    let mut out = Vec::with_capacity(usize::from(count));
    let mut i = 2;
    for _ in 0..count {
        let klen = usize::from(at(i)?);
        let key = b.get(i + 1..i + 1 + klen).ok_or(BlobError::Truncated)?;
        out.push(
            std::str::from_utf8(key)
                .map_err(|_| BlobError::Key)?
                .to_owned(),
        );
        i += 1 + klen;
        let l = [at(i)?, at(i + 1)?, at(i + 2)?, at(i + 3)?];
        i += 4 + u32::from_be_bytes(l) as usize;
    }
    if i == b.len() {
        Ok(out)
    } else {
        Err(BlobError::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let fields = vec![
            ("iin".to_string(), vec![1, 2, 3]),
            ("email".to_string(), vec![]),
        ];
        let b = encode_fields(&fields).unwrap();
        assert_eq!(decode_fields(&b).unwrap(), fields);
        assert_eq!(decode_field_keys(&b).unwrap(), ["iin", "email"]);
        for cut in 0..b.len() {
            assert!(decode_fields(&b[..cut]).is_err(), "{cut}");
            assert!(decode_field_keys(&b[..cut]).is_err(), "{cut}");
        }
        assert_eq!(decode_fields(&encode_fields(&[]).unwrap()).unwrap(), vec![]);
    }
}
