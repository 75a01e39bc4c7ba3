import { createHash } from 'node:crypto';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The report's id, derived from tenant and content hash (a name-based UUID, RFC 9562 §5.8 layout):
 * the same bytes from the same tenant always get the same id, so every stage can be idempotent on it,
 * and another tenant's identical bytes get a different one.
 */
export function reportIdOf(tenantId: string, sha256: string): string {
  const h = createHash('sha256').update(`dmarc-report\0${tenantId}\0${sha256}`).digest();
  h[6] = (h[6] & 0x0f) | 0x80; // version 8: custom, name-based
  h[8] = (h[8] & 0x3f) | 0x80; // RFC variant
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
