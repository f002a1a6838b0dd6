/**
 * The legacy (2025-11-25) sessions an HTTP upstream has minted through this proxy, each bound to the
 * principal that opened it. The proxy answers 404 for a session it does not know (the spec's signal for
 * "start a new session", 2025-11-25 transports §Session Management 4) without bothering the upstream,
 * whatever status that upstream would have used, and a caller can never ride another principal's session.
 *
 * Bounded: at most `maxSessions`, the least recently used is forgotten first; idle sessions expire.
 *
 * @module
 */

export interface SessionRegistryOptions {
  maxSessions?: number;
  /** A session unused for this long is forgotten. */
  idleMs?: number;
  now?: () => number;
}

export interface SessionRegistry {
  /** Records a session the upstream minted for `principal`. */
  add(sessionId: string, principal: string): void;
  /** Whether `sessionId` is known and belongs to `principal`; marks it used. */
  owns(sessionId: string, principal: string): boolean;
  /** Forgets a session (ended with DELETE, or unknown to the upstream). */
  remove(sessionId: string): void;
  readonly size: number;
}

export function createSessionRegistry(options: SessionRegistryOptions = {}): SessionRegistry {
  const max = options.maxSessions ?? 10_000;
  const idleMs = options.idleMs ?? 24 * 60 * 60 * 1000;
  const now = options.now ?? Date.now;
  // Map iteration order is insertion order: re-inserting on use keeps the least recently used first.
  const sessions = new Map<string, { principal: string; lastUsed: number }>();

  return {
    add(sessionId, principal) {
      sessions.delete(sessionId);
      sessions.set(sessionId, { principal, lastUsed: now() });
      while (sessions.size > max) sessions.delete(sessions.keys().next().value!);
    },
    owns(sessionId, principal) {
      const s = sessions.get(sessionId);
      if (!s) return false;
      if (now() - s.lastUsed > idleMs) {
        sessions.delete(sessionId);
        return false;
      }
      if (s.principal !== principal) return false;
      sessions.delete(sessionId);
      sessions.set(sessionId, { principal, lastUsed: now() });
      return true;
    },
    remove(sessionId) {
      sessions.delete(sessionId);
    },
    get size() {
      return sessions.size;
    },
  };
}
