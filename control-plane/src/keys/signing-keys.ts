/**
 * The control plane's token-signing key: ES256, created once and shared by every replica through
 * Postgres. The private key is stored sealed by the SecretBox; rows from before encryption at rest
 * are sealed (and their plaintext column cleared) at the first start that finds them.
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
import type { SecretBox } from '../crypto/secret-box.ts';
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

export const signingKeyContext = (kid: string) => `signing_keys/${kid}/private_jwk`;

/** Seals private keys still stored in clear (rows written before encryption at rest). */
async function sealLegacyRows(ds: DataSource, box: SecretBox): Promise<void> {
  const repo = ds.getRepository(SigningKeyEntity);
  const legacy = await repo.createQueryBuilder('k').where('k.private_jwk IS NOT NULL').getMany();
  for (const row of legacy) {
    const sealed = await box.seal(JSON.stringify(row.privateJwk), signingKeyContext(row.kid));
    // Conditional, so two replicas starting together do not both seal (either result is valid).
    await repo
      .createQueryBuilder()
      .update()
      .set({ sealedPrivateJwk: sealed, privateJwk: null })
      .where('kid = :kid AND private_jwk IS NOT NULL', { kid: row.kid })
      .execute();
  }
}

export async function loadSigningKeys(ds: DataSource, box: SecretBox): Promise<SigningKeys> {
  const repo = ds.getRepository(SigningKeyEntity);
  await sealLegacyRows(ds, box);
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
      .values({
        kid,
        privateJwk: null,
        sealedPrivateJwk: await box.seal(JSON.stringify(privateJwk), signingKeyContext(kid)),
        publicJwk,
        active: true,
      })
      .orIgnore()
      .execute();
    rows = await repo.find({ where: { active: true }, order: { createdAt: 'ASC' } });
  }
  const privateJwks = await Promise.all(
    rows.map(
      async (r): Promise<JWK> => ({
        ...(JSON.parse(await box.openText(r.sealedPrivateJwk!, signingKeyContext(r.kid))) as JWK),
        kid: r.kid,
        alg: 'ES256',
        use: 'sig',
      }),
    ),
  );
  return {
    kid: rows[0]!.kid,
    privateKey: await importJWK(privateJwks[0]!, 'ES256'),
    jwks: { keys: rows.map((r) => r.publicJwk) },
    privateJwks,
  };
}
