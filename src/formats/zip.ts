// A small in-memory zip writer for exports (a .keras file, a TF.js model's files): entries stored uncompressed
// when already compact (weights), deflated otherwise, with a fixed date so the same model gives the same bytes.
import yazl from 'yazl';

const FIXED_DATE = new Date(Date.UTC(2020, 0, 1));

export async function zipBuffers(files: { path: string; data: Buffer | Uint8Array }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const f of files) zip.addBuffer(Buffer.from(f.data), f.path, { compress: !/\.(bin|h5)$/.test(f.path), mtime: FIXED_DATE });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
