/**
 * Native sidecars (init containers with restartPolicy Always) are on by default from Kubernetes 1.29;
 * older API servers drop the field, which would turn the proxy into an init container that never exits.
 *
 * @module
 */

/**
 * Whether the API server's version (as in /version: major "1", minor "29" or "29+") supports native
 * sidecars.
 *
 * @example
 * supportsNativeSidecars({ major: '1', minor: '28+' }); // false
 */
export function supportsNativeSidecars(version: { major: string; minor: string }): boolean {
  const major = Number.parseInt(version.major, 10);
  const minor = Number.parseInt(version.minor, 10);
  if (!Number.isFinite(major) || !Number.isFinite(minor)) {
    throw new TypeError(`unreadable Kubernetes version ${JSON.stringify(version)}`);
  }
  return major > 1 || (major === 1 && minor >= 29);
}
