//! Tensors stored in files: numpy's `.npy` and ONNX's serialized `TensorProto` (`.pb`).
//!
//! Real input values, and the outputs they should give, come in these two forms: `np.save`, and
//! the `test_data_set_*/input_0.pb` files of ONNX's model zoo and backend tests. Both are read
//! here by hand (the `.npy` header is a Python dict literal; a `TensorProto` needs only a few
//! protobuf fields), so reading them adds no dependency. Files are data: every size is checked
//! against the bytes actually present before anything is allocated, and a malformed file is an
//! error naming the file, never a panic.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use half::f16;

use crate::engine::model::{ElemType, TensorData};

/// A tensor read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTensor {
    /// The `TensorProto`'s name, when it has one (`.npy` files have none).
    pub name: Option<String>,
    pub shape: Vec<i64>,
    pub values: TensorData,
}

impl StoredTensor {
    /// The element type as modelgate names it (`float32`, `int64`, ...).
    pub fn type_name(&self) -> &'static str {
        self.values.type_name()
    }

    /// The values as an input feed, when the element type is `elem`.
    pub fn to_feed(&self, elem: &ElemType) -> Option<TensorData> {
        self.values.is_of(elem).then(|| self.values.clone())
    }

    /// Every value widened to f64, for comparing outputs.
    pub fn to_f64(&self) -> Vec<f64> {
        self.values.to_f64()
    }
}

/// Reads a `.npy` file, or a `TensorProto` from any other file (`.pb`).
pub fn read(path: &Path) -> Result<StoredTensor> {
    let shown = crate::base::text::clean(
        &path.display().to_string(),
        crate::base::text::VALUE_MAX_CHARS,
    );
    // Only a regular file: reading a FIFO or a device would wait for ever or never end.
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read the tensor file {shown}"))?;
    if !meta.is_file() {
        bail!("{shown} is not a regular file; give a .npy or ONNX TensorProto .pb file");
    }
    if meta.len() > crate::base::limits::MAX_INPUT_BYTES {
        bail!(
            "{shown} is {} bytes, over the {} a tensor file may hold; give a smaller input",
            meta.len(),
            crate::base::limits::MAX_INPUT_BYTES
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let parsed = if is_npy {
        read_npy(&bytes)
    } else {
        read_tensor_proto(&bytes)
    };
    parsed.with_context(|| format!("{shown} is not a tensor modelgate can read"))
}

/// Element count of `shape`, refused when a dim is negative or the count overflows.
fn element_count(shape: &[i64]) -> Result<usize> {
    shape.iter().try_fold(1usize, |n, d| {
        usize::try_from(*d)
            .ok()
            .and_then(|d| n.checked_mul(d))
            .ok_or_else(|| anyhow!("shape {shape:?} is not a valid tensor shape"))
    })
}

/// Splits little-endian bytes into `count` values of `N` bytes each.
fn decode<const N: usize, T>(
    bytes: &[u8],
    count: usize,
    from: impl Fn([u8; N]) -> T,
) -> Result<Vec<T>> {
    let needed = count.checked_mul(N).context("the tensor is too large")?;
    if bytes.len() != needed {
        bail!(
            "it holds {} bytes of data but its shape needs {needed}",
            bytes.len()
        );
    }
    Ok(bytes
        .chunks_exact(N)
        .map(|c| from(c.try_into().expect("chunks_exact gives N bytes")))
        .collect())
}

fn values_from_le(type_name: &str, bytes: &[u8], count: usize) -> Result<TensorData> {
    Ok(match type_name {
        "float32" => TensorData::F32(decode(bytes, count, f32::from_le_bytes)?),
        "float64" => TensorData::F64(decode(bytes, count, f64::from_le_bytes)?),
        "float16" => TensorData::F16(decode(bytes, count, f16::from_le_bytes)?),
        "int64" => TensorData::I64(decode(bytes, count, i64::from_le_bytes)?),
        "int32" => TensorData::I32(decode(bytes, count, i32::from_le_bytes)?),
        "uint8" => TensorData::U8(decode(bytes, count, |[b]: [u8; 1]| b)?),
        "int8" => TensorData::I8(decode(bytes, count, i8::from_le_bytes)?),
        "bool" => TensorData::Bool(decode(bytes, count, |[b]: [u8; 1]| b != 0)?),
        other => bail!("its element type {other} is not one modelgate reads"),
    })
}

/// numpy's format: magic, version, header length, a dict literal header, then the raw data.
pub fn read_npy(bytes: &[u8]) -> Result<StoredTensor> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .context("it does not start with numpy's magic bytes")?;
    let (header_len, rest) = match rest {
        [1, _, a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        [2 | 3, _, a, b, c, d, rest @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, rest),
        _ => bail!("it has an unknown .npy version"),
    };
    if rest.len() < header_len {
        bail!("its header is cut short");
    }
    let (header, data) = rest.split_at(header_len);
    let header = std::str::from_utf8(header).context("its header is not text")?;
    let descr = dict_value(header, "descr").context("its header has no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let type_name = match descr {
        "<f4" => "float32",
        "<f8" => "float64",
        "<f2" => "float16",
        "<i8" => "int64",
        "<i4" => "int32",
        "|u1" | "<u1" => "uint8",
        "|i1" | "<i1" => "int8",
        "|b1" => "bool",
        other => bail!("its dtype {other} is not one modelgate reads (little-endian float32, float16, float64, int64, int32, uint8, int8 or bool)"),
    };
    match dict_value(header, "fortran_order") {
        Some("False") => {}
        Some("True") => {
            bail!("it is in Fortran order; save it with np.save(path, np.ascontiguousarray(a))")
        }
        _ => bail!("its header has no 'fortran_order'"),
    }
    let shape_text = dict_value(header, "shape").context("its header has no 'shape'")?;
    let shape = shape_text
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| anyhow!("its shape {shape_text} is not a tuple of sizes"))?;
    let count = element_count(&shape)?;
    Ok(StoredTensor {
        name: None,
        values: values_from_le(type_name, data, count)?,
        shape,
    })
}

/// The text of `key`'s value in numpy's header dict: a quoted string, a word, or a tuple.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let after = header[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?;
    let after = after.trim_start();
    let end = if after.starts_with('(') {
        after.find(')')? + 1
    } else if let Some(quote @ ('\'' | '"')) = after.chars().next() {
        after[1..].find(quote)? + 2
    } else {
        after.find([',', '}']).unwrap_or(after.len())
    };
    Some(after[..end].trim())
}

/// ONNX `TensorProto.DataType` numbers (onnx/onnx.proto) modelgate reads.
fn onnx_type_name(data_type: u64) -> Result<&'static str> {
    Ok(match data_type {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        6 => "int32",
        7 => "int64",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        other => bail!("its data_type {other} is not one modelgate reads (float32, float16, float64, int64, int32, uint8, int8, bool)"),
    })
}

/// A `TensorProto`, reading the fields a test-data tensor uses: dims (1), data_type (2),
/// float_data (4), int32_data (5), int64_data (7), name (8), raw_data (9), double_data (10).
/// Field numbers are from onnx/onnx.proto; external data (13) is refused.
pub fn read_tensor_proto(bytes: &[u8]) -> Result<StoredTensor> {
    let mut reader = Reader { bytes, at: 0 };
    let (mut dims, mut data_type, mut name, mut raw) = (Vec::new(), None, None, None);
    let (mut floats, mut int32s, mut int64s, mut doubles) = (vec![], vec![], vec![], vec![]);
    while !reader.done() {
        let key = reader.varint()?;
        let (field, wire) = (key >> 3, key & 7);
        match (field, wire) {
            (1, 0) => dims.push(reader.varint()? as i64),
            (1, 2) => reader.packed(&mut dims, |r| Ok(r.varint()? as i64))?,
            (2, 0) => data_type = Some(reader.varint()?),
            (4, 5) => floats.push(f32::from_le_bytes(reader.fixed()?)),
            (4, 2) => reader.packed(&mut floats, |r| Ok(f32::from_le_bytes(r.fixed()?)))?,
            (5, 0) => int32s.push(reader.varint()? as i32),
            (5, 2) => reader.packed(&mut int32s, |r| Ok(r.varint()? as i32))?,
            (7, 0) => int64s.push(reader.varint()? as i64),
            (7, 2) => reader.packed(&mut int64s, |r| Ok(r.varint()? as i64))?,
            (8, 2) => name = Some(String::from_utf8_lossy(reader.bytes()?).into_owned()),
            (9, 2) => raw = Some(reader.bytes()?),
            (10, 1) => doubles.push(f64::from_le_bytes(reader.fixed()?)),
            (10, 2) => reader.packed(&mut doubles, |r| Ok(f64::from_le_bytes(r.fixed()?)))?,
            (13, _) => {
                bail!("its data is stored in an external file, which modelgate does not read")
            }
            (_, wire) => reader.skip(wire)?,
        }
    }
    let type_name = onnx_type_name(data_type.context("it has no data_type")?)?;
    let count = element_count(&dims)?;
    let typed_len = |len: usize| -> Result<()> {
        if len != count {
            bail!("it holds {len} values but its shape needs {count}");
        }
        Ok(())
    };
    let values = match (raw, type_name) {
        (Some(raw), _) => values_from_le(type_name, raw, count)?,
        (None, "float32") => typed_len(floats.len()).map(|_| TensorData::F32(floats))?,
        (None, "float64") => typed_len(doubles.len()).map(|_| TensorData::F64(doubles))?,
        (None, "int64") => typed_len(int64s.len()).map(|_| TensorData::I64(int64s))?,
        (None, small) => {
            typed_len(int32s.len())?;
            // int32_data carries every small type; float16 as its 16 bits.
            match small {
                "int32" => TensorData::I32(int32s),
                "uint8" => TensorData::U8(int32s.iter().map(|v| *v as u8).collect()),
                "int8" => TensorData::I8(int32s.iter().map(|v| *v as i8).collect()),
                "bool" => TensorData::Bool(int32s.iter().map(|v| *v != 0).collect()),
                _ => TensorData::F16(int32s.iter().map(|v| f16::from_bits(*v as u16)).collect()),
            }
        }
    };
    Ok(StoredTensor {
        name: name.filter(|n| !n.is_empty()),
        shape: dims,
        values,
    })
}

/// Protobuf wire format over a byte slice; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.context("it ends in the middle of a field")?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let [byte] = self.take(1)? else {
                unreachable!("take(1) gives one byte")
            };
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        bail!("it has a varint longer than 10 bytes")
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("take(N) gives N bytes"))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = usize::try_from(self.varint()?).context("a field is too long")?;
        self.take(len)
    }

    /// A packed repeated field: values one after another inside one length-delimited field.
    fn packed<T>(
        &mut self,
        into: &mut Vec<T>,
        each: impl Fn(&mut Reader<'a>) -> Result<T>,
    ) -> Result<()> {
        let mut inner = Reader {
            bytes: self.bytes()?,
            at: 0,
        };
        while !inner.done() {
            into.push(each(&mut inner)?);
        }
        Ok(())
    }

    fn skip(&mut self, wire: u64) -> Result<()> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.take(8).map(drop),
            2 => self.bytes().map(drop),
            5 => self.take(4).map(drop),
            other => bail!("it has a field of unknown wire type {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy's bytes for a header dict: magic, version 1.0, length 118, the dict padded with
    /// spaces to 127 bytes and a newline, as `np.save` writes it (numpy 2.4).
    fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
        bytes.extend_from_slice(format!("{dict:<117}\n").as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn reads_npy_files_as_numpy_writes_them() {
        // np.save(f, np.array([[1.5, -2.0]], dtype=np.float32)): 128 header bytes, then data.
        let f32_file = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
            &[0, 0, 192, 63, 0, 0, 0, 192],
        );
        assert_eq!(f32_file.len(), 136);
        let t = read_npy(&f32_file).unwrap();
        assert_eq!(t.shape, vec![1, 2]);
        assert_eq!(t.values, TensorData::F32(vec![1.5, -2.0]));
        // np.save(f, np.array([3, -1], dtype=np.int64))
        let mut data = 3i64.to_le_bytes().to_vec();
        data.extend_from_slice(&(-1i64).to_le_bytes());
        let t = read_npy(&npy(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
            &data,
        ))
        .unwrap();
        assert_eq!((t.shape, t.values), (vec![2], TensorData::I64(vec![3, -1])));
        // A scalar: shape ().
        let t = read_npy(&npy(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (), }",
            &16000i64.to_le_bytes(),
        ))
        .unwrap();
        assert_eq!((t.shape, t.values), (vec![], TensorData::I64(vec![16000])));
    }

    #[test]
    fn malformed_npy_files_are_errors() {
        let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }";
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04".to_vec(), "magic"),
            (npy(good, &[0, 0, 192, 63]), "needs 8"),
            (
                npy(&good.replace("False", "True"), &[0; 8]),
                "Fortran order",
            ),
            (npy(&good.replace("<f4", ">f4"), &[0; 8]), ">f4"),
            (npy(&good.replace("(1, 2)", "(1, x)"), &[0; 8]), "shape"),
            (npy(&good.replace("(1, 2)", "(-1, 2)"), &[0; 8]), "valid"),
            (
                npy(&good.replace("(1, 2)", "(4611686018427387904, 4)"), &[]),
                "",
            ),
            (b"\x93NUMPY\x01\x00\xff\x00{'descr'".to_vec(), "cut short"),
            (b"\x93NUMPY\x01".to_vec(), "version"),
        ];
        for (bytes, expected) in cases {
            let err = format!("{:#}", read_npy(&bytes).unwrap_err());
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }

    #[test]
    fn reads_tensor_protos_with_raw_and_typed_data() {
        // numpy_helper.from_array(np.array([[0.5, 2.0]], dtype=np.float32), name="x")
        //     .SerializeToString()  (onnx 1.23.2)
        let raw = [
            8, 1, 8, 2, 16, 1, 66, 1, 120, 74, 8, 0, 0, 0, 63, 0, 0, 0, 64,
        ];
        let t = read_tensor_proto(&raw).unwrap();
        assert_eq!(t.name.as_deref(), Some("x"));
        assert_eq!(
            (t.shape, t.values),
            (vec![1, 2], TensorData::F32(vec![0.5, 2.0]))
        );
        // numpy_helper.from_array(np.array(16000, dtype=np.int64), name="sr"): a scalar.
        let scalar = [16, 7, 66, 2, 115, 114, 74, 8, 128, 62, 0, 0, 0, 0, 0, 0];
        let t = read_tensor_proto(&scalar).unwrap();
        assert_eq!((t.shape, t.values), (vec![], TensorData::I64(vec![16000])));
        // helper.make_tensor("ids", TensorProto.INT64, [2], [3, -1]): packed int64_data.
        let typed = [
            8, 2, 16, 7, 58, 11, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1, 66, 3, 105,
            100, 115,
        ];
        let t = read_tensor_proto(&typed).unwrap();
        assert_eq!(t.name.as_deref(), Some("ids"));
        assert_eq!((t.shape, t.values), (vec![2], TensorData::I64(vec![3, -1])));
        // helper.make_tensor("f", TensorProto.FLOAT, [2], [0.5, 2.0]): packed float_data.
        let floats = [8, 2, 16, 1, 34, 8, 0, 0, 0, 63, 0, 0, 0, 64, 66, 1, 102];
        let t = read_tensor_proto(&floats).unwrap();
        assert_eq!(
            (t.shape, t.values),
            (vec![2], TensorData::F32(vec![0.5, 2.0]))
        );
    }

    #[test]
    fn malformed_tensor_protos_are_errors() {
        let raw = [
            8, 1, 8, 2, 16, 1, 66, 1, 120, 74, 8, 0, 0, 0, 63, 0, 0, 0, 64,
        ];
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (raw[..raw.len() - 3].to_vec(), "middle of a field"),
            ([&raw[..4], &raw[6..]].concat(), "no data_type"),
            ([&[8, 3], &raw[2..]].concat(), "needs 24"),
            ([&raw[..5], &[8], &raw[6..]].concat(), "data_type 8"),
            ([vec![8], vec![255; 10], vec![1]].concat(), "varint"),
            (vec![8, 2, 16, 1, 34, 4, 0, 0, 0, 63], "holds 1 values"),
            (vec![16, 1, 106, 0], "external"),
            (vec![15], "wire type 7"),
        ];
        for (bytes, expected) in cases {
            let err = format!("{:#}", read_tensor_proto(&bytes).unwrap_err());
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }
}
