/**
 * The proxy's last good configuration on disk, one file per resource type holding the discovery
 * response that was applied. A restarted proxy loads it before the control plane answers, so it
 * enforces (and is ready) even while the control plane is away. Files are replaced atomically.
 *
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DiscoveryResponse } from '@tessera/api/mesh/v1/discovery';
import { kindOfTypeUrl, translateResponse } from '../ir/translate.ts';
import { decodeDiscoveryResponse } from '../mesh-api/protobuf/mesh-messages.ts';
import type { Log } from '../telemetry/log.ts';
import type { ConfigStore } from './config-store.ts';

export interface SnapshotFile {
  /** Records a response that was validated and applied, as the wire bytes it arrived in. */
  save(response: DiscoveryResponse, bytes: Uint8Array): void;
  /** Applies every saved type that still validates; returns how many were applied. */
  load(store: ConfigStore, server: string): number;
}

export function createSnapshotFile(dir: string, log: Log): SnapshotFile {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    save(response, bytes) {
      const kind = kindOfTypeUrl(response.typeUrl);
      if (!kind) return;
      const path = join(dir, `${kind}.pb`);
      try {
        writeFileSync(`${path}.tmp`, bytes, { mode: 0o600 });
        renameSync(`${path}.tmp`, path);
      } catch (err) {
        // Enforcement does not depend on the file; only a restart without a control plane would.
        log('warn', 'could not persist the configuration snapshot', { path, error: (err as Error).message });
      }
    },
    load(store, server) {
      let applied = 0;
      for (const file of readdirSync(dir)
        .filter((f) => f.endsWith('.pb'))
        .sort()) {
        try {
          const response = decodeDiscoveryResponse(readFileSync(join(dir, file)));
          // The same validation as a pushed response: a stale or foreign snapshot is never trusted blindly.
          store.apply(translateResponse(response, server), response.versionInfo, '');
          applied++;
        } catch (err) {
          log('warn', 'ignored an unusable snapshot file', { file, error: (err as Error).message });
        }
      }
      return applied;
    },
  };
}
