// Byte signatures the format detectors look for at the start of an uploaded file.

/** HDF5 superblock signature (Keras .h5 and the model.weights.h5 inside a .keras). */
const HDF5 = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
/** A zip local file header (a .keras is a zip). */
const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

export const isHdf5 = (head: Buffer) => head.subarray(0, HDF5.length).equals(HDF5);
export const isZip = (head: Buffer) => head.subarray(0, ZIP.length).equals(ZIP);

/**
 * An ONNX ModelProto as every writer serialises it: fields in number order, so it opens with ir_version (field 1,
 * varint: tag 0x08, a small version) followed by producer_name (2), producer_version (3), domain (4),
 * model_version (5), doc_string (6), graph (7) or opset_import (8). A protobuf has no magic number; this is the
 * closest thing, and the importer's full parse is the real check.
 */
export function looksLikeOnnx(head: Buffer): boolean {
  if (head.length < 3 || head[0] !== 0x08 || head[1] < 1 || head[1] > 30) return false;
  return [0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42].includes(head[2]);
}
