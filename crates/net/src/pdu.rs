//! Reading and writing whole PDUs on a socket, with dicom-ul's codec.
//!
//! The reader frames PDUs itself (6-byte header, then the declared length) so that it can
//! refuse an oversized PDU before reading it, tell a peer that closed between PDUs from one
//! that vanished inside one, and survive read timeouts: bytes already read stay buffered, and
//! the caller may poll (for a shutdown request) and read on.

use std::io::{self, Read, Write};

use dicom_ul::Pdu;
use dicom_ul::pdu::{MAXIMUM_PDU_SIZE, PDataValue, PDataValueType};

/// The largest association request accepted (a request of 128 presentation contexts with a
/// dozen transfer syntaxes each is well under 100 KB).
pub const MAX_CONTROL_PDU: u32 = 1 << 20;

/// Why no PDU could be read.
#[derive(Debug, thiserror::Error)]
pub enum PduError {
    /// The peer closed the connection between PDUs.
    #[error("the peer closed the connection")]
    Closed,
    /// The peer closed the connection inside a PDU.
    #[error("the connection ended inside a PDU ({got} of {expected} bytes)")]
    Truncated {
        /// Bytes of the PDU received.
        got: usize,
        /// Bytes it declared.
        expected: usize,
    },
    /// The PDU declares more bytes than negotiated.
    #[error(
        "a PDU of type {pdu_type:02X}H declares {length} bytes, more than the {limit} accepted"
    )]
    TooLong {
        /// PDU type.
        pdu_type: u8,
        /// Declared length.
        length: u32,
        /// Limit.
        limit: u32,
    },
    /// The PDU cannot be decoded.
    #[error("invalid PDU: {0}")]
    Invalid(String),
    /// The socket failed.
    #[error("network error: {0}")]
    Io(#[from] io::Error),
}

/// Whether an I/O error is a read timeout.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Buffers bytes from a socket until a whole PDU is there.
#[derive(Debug)]
pub struct PduReader {
    buf: Vec<u8>,
    /// Largest P-DATA-TF accepted (what this side negotiated).
    max_pdata: u32,
}

impl PduReader {
    /// A reader accepting P-DATA-TF PDUs of up to `max_pdata` bytes (after the header).
    pub fn new(max_pdata: u32) -> PduReader {
        PduReader {
            buf: Vec::with_capacity(64 * 1024),
            max_pdata,
        }
    }

    /// Whether part of a PDU is buffered.
    pub fn inside_pdu(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Reads the next PDU. A read timeout is returned as `PduError::Io` with the timeout's
    /// kind (see [`is_timeout`]); the bytes read so far stay buffered for the next call.
    pub fn read(&mut self, stream: &mut impl Read) -> Result<Pdu, PduError> {
        loop {
            if let Some(total) = self.complete_length()? {
                let rest = self.buf.split_off(total);
                let whole = std::mem::replace(&mut self.buf, rest);
                return decode(&whole);
            }
            let want = match self.declared() {
                Some((_, length)) => (6 + length as usize - self.buf.len()).min(1 << 20),
                None => 6 - self.buf.len(),
            };
            // Reads into the buffer's spare capacity (no zero-filling of up to a megabyte per
            // read); at most what the PDU still needs, so the next PDU stays in the socket.
            let n = match (&mut *stream)
                .take(want.max(1) as u64)
                .read_to_end(&mut self.buf)
            {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(PduError::Io(e)),
            };
            if n == 0 {
                return Err(match self.declared() {
                    _ if self.buf.is_empty() => PduError::Closed,
                    Some((_, length)) => PduError::Truncated {
                        got: self.buf.len(),
                        expected: 6 + length as usize,
                    },
                    None => PduError::Truncated {
                        got: self.buf.len(),
                        expected: 6,
                    },
                });
            }
        }
    }

    /// The buffered PDU's type and declared length, once its header is in.
    fn declared(&self) -> Option<(u8, u32)> {
        let h = self.buf.get(..6)?;
        Some((h[0], u32::from_be_bytes([h[2], h[3], h[4], h[5]])))
    }

    /// The whole PDU's size when it is all buffered; refuses oversized ones.
    fn complete_length(&self) -> Result<Option<usize>, PduError> {
        let Some((pdu_type, length)) = self.declared() else {
            return Ok(None);
        };
        let limit = if pdu_type == 0x04 {
            self.max_pdata
        } else {
            MAX_CONTROL_PDU
        };
        if length > limit {
            return Err(PduError::TooLong {
                pdu_type,
                length,
                limit,
            });
        }
        let total = 6 + length as usize;
        Ok((self.buf.len() >= total).then_some(total))
    }
}

/// Decodes one whole PDU.
fn decode(bytes: &[u8]) -> Result<Pdu, PduError> {
    match dicom_ul::pdu::read_pdu(bytes, MAXIMUM_PDU_SIZE, false) {
        Ok(Some(pdu)) => Ok(pdu),
        Ok(None) => Err(PduError::Invalid("incomplete PDU".into())),
        Err(e) => Err(PduError::Invalid(e.to_string())),
    }
}

/// Encodes and sends one PDU.
pub fn write(stream: &mut impl Write, pdu: &Pdu) -> io::Result<()> {
    let mut buf = Vec::new();
    dicom_ul::write_pdu(&mut buf, pdu).map_err(|e| io::Error::other(e.to_string()))?;
    stream.write_all(&buf)?;
    stream.flush()
}

/// Sends a message part (command or data set) on presentation context `context`, split into
/// P-DATA-TF PDUs no longer than `peer_max` (the peer's maximum PDU length; 0 means no limit).
pub fn send_pdata(
    stream: &mut impl Write,
    context: u8,
    kind: PDataValueType,
    bytes: &[u8],
    peer_max: u32,
) -> io::Result<()> {
    // PDV item: 4-byte length, context ID, control header, then the fragment.
    let limit = if peer_max == 0 { 1 << 20 } else { peer_max };
    let room = (limit as usize).saturating_sub(6).max(1);
    let mut chunks = bytes.chunks(room).peekable();
    if chunks.peek().is_none() {
        return write(
            stream,
            &Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: context,
                    value_type: kind,
                    is_last: true,
                    data: Vec::new(),
                }],
            },
        );
    }
    let mut buf = Vec::with_capacity(room.min(bytes.len()) + 12);
    while let Some(chunk) = chunks.next() {
        let is_last = chunks.peek().is_none();
        buf.clear();
        let pdv_len = u32::try_from(chunk.len() + 2).unwrap_or(u32::MAX);
        let pdu_len = pdv_len + 4;
        buf.extend_from_slice(&[0x04, 0x00]);
        buf.extend_from_slice(&pdu_len.to_be_bytes());
        buf.extend_from_slice(&pdv_len.to_be_bytes());
        buf.push(context);
        let mut header = if is_last { 0b10 } else { 0 };
        if kind == PDataValueType::Command {
            header |= 0b01;
        }
        buf.push(header);
        buf.extend_from_slice(chunk);
        stream.write_all(&buf)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdata_round_trips_through_the_reader() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut wire = Vec::new();
        send_pdata(&mut wire, 3, PDataValueType::Data, &data, 4096).unwrap();
        let mut reader = PduReader::new(1 << 16);
        let mut cursor = std::io::Cursor::new(wire);
        let mut got = Vec::new();
        loop {
            match reader.read(&mut cursor).unwrap() {
                Pdu::PData { data: pdvs } => {
                    for v in pdvs {
                        assert_eq!(v.presentation_context_id, 3);
                        got.extend_from_slice(&v.data);
                        if v.is_last {
                            assert_eq!(got, data);
                            return;
                        }
                    }
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn truncated_and_oversized_pdus_are_named() {
        let mut wire = Vec::new();
        send_pdata(&mut wire, 1, PDataValueType::Data, &[1, 2, 3, 4], 0).unwrap();
        wire.truncate(wire.len() - 2);
        let mut reader = PduReader::new(1 << 16);
        let err = reader.read(&mut std::io::Cursor::new(wire)).unwrap_err();
        assert!(matches!(err, PduError::Truncated { .. }), "{err}");
        let mut reader = PduReader::new(1 << 16);
        let err = reader.read(&mut std::io::Cursor::new(vec![])).unwrap_err();
        assert!(matches!(err, PduError::Closed));
        let huge = [0x04, 0, 0x7f, 0xff, 0xff, 0xff];
        let err = PduReader::new(1 << 16)
            .read(&mut std::io::Cursor::new(huge.to_vec()))
            .unwrap_err();
        assert!(matches!(err, PduError::TooLong { .. }), "{err}");
    }
}
