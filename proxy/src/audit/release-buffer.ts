/**
 * Frees a buffer's memory now instead of when V8 collects it.
 *
 * A buffer that lives through two minor GCs is promoted to the old generation, and once dead there
 * its memory waits for the next major GC, which a steadily loaded proxy runs rarely. The audit
 * batches live that long (as long as their call to the control plane) and are large, so the proxy
 * frees them itself once they are done with.
 *
 * @module
 */

/**
 * Detaches `buf`'s memory (`ArrayBuffer.prototype.transfer(0)`), which frees it; `buf` and every
 * other view of the same memory are empty afterwards. Only a buffer that is the whole of its
 * ArrayBuffer is freed: a slice of Node's shared pool (or of any larger buffer) is left alone, since
 * other live buffers share that memory.
 */
export function releaseBuffer(buf: Uint8Array): void {
  const ab = buf.buffer;
  if (!(ab instanceof ArrayBuffer) || ab.detached) return;
  if (buf.byteOffset !== 0 || buf.byteLength !== ab.byteLength) return;
  ab.transfer(0);
}
