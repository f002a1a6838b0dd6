/**
 * The control plane's token-signing key: ES256, created once and shared by every replica through
 * Postgres. (Encryption of the private key at rest arrives with the KMS work.)
 *
 * @module
 */
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type SignJWT,
} from 'jose';
import type { DataSource } from 'typeorm';
import { SigningKeyEntity } from '../db/entities/signing-key.ts';

/** The key type jose signs with. */
type SigningKey = Parameters<SignJWT['sign']>[0];

export interface SigningKeys {
  kid: string;
  privateKey: SigningKey;
  /** The public keys proxies trust, as a JWKS. */
  jwks: JSONWebKeySet;
  /** The private keys, signer first, for the authorization server's keystore. */
  privateJwks: JWK[];
}

export async function loadSigningKeys(ds: DataSource): Promise<SigningKeys> {
  const repo = ds.getRepository(SigningKeyEntity);
  let rows = await repo.find({ where: { active: true }, order: { createdAt: 'ASC' } });
  if (rows.length === 0) {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' };
    const kid = await calculateJwkThumbprint(publicJwk);
    publicJwk.kid = kid;
    const privateJwk: JWK = { ...(await exportJWK(privateKey)), alg: 'ES256', kid };
    // Two replicas starting together may both generate a key; both are kept and both are trusted,
    // and every replica signs with the oldest.
    await repo
      .createQueryBuilder()
      .insert()
      .values({ kid, privateJwk, publicJwk, active: true })
      .orIgnore()
      .execute();
    rows = await repo.find({ where: { active: true }, order: { createdAt: 'ASC' } });
  }
  const signer = rows[0]!;
  return {
    kid: signer.kid,
    privateKey: await importJWK(signer.privateJwk, 'ES256'),
    jwks: { keys: rows.map((r) => r.publicJwk) },
    privateJwks: rows.map((r) => ({ ...r.privateJwk, kid: r.kid, alg: 'ES256', use: 'sig' })),
  };
}
