// Builds the optional native BLAS addon (blas.c) ahead of its first use and says whether OpenBLAS loads: for images
// that have a compiler only in a build stage (docker/Dockerfile), or to see why the wasm kernels stay in use.
//   node --import tsx src/native/build.ts        (MODELPRESS_NATIVE_DIR picks the directory)
// Exits 0 whatever happens unless --strict is given (then 1 when the addon cannot be built).
import { buildNativeBlasAddon, loadNativeBlas } from '../ml/kernels/native-blas.ts';

try {
  console.log(`built: ${buildNativeBlasAddon()}`);
} catch (err) {
  console.log(`not built: ${(err as Error).message}`);
  if (process.argv.includes('--strict')) process.exitCode = 1;
}
console.log(`status: ${JSON.stringify(loadNativeBlas().status)}`);
