import { PolicyGuidanceError } from './errors';

/** What "safe to tighten" and "worth approving" mean, in numbers. Every field has a named default below. */
export interface GuidanceThresholds {
  /** Days the figures cover, ending today (UTC). */
  windowDays: number;
  /** A legitimate (approved) source must pass DMARC (DKIM or SPF aligned) on at least this share of its messages. */
  alignedRate: number;
  /** An unapproved source with at least this share of the domain's messages blocks the next step. */
  highVolumeShare: number;
  /** Fewer days with reports than this in the window: "not enough data". */
  minDays: number;
  /** Fewer messages than this in the window: "not enough data". */
  minMessages: number;
  /** A source is proposed for approval when at least this share of its messages is DKIM-aligned... */
  proposalDkimRate: number;
  /** ...on at least this many days of the window... */
  proposalMinDays: number;
  /** ...and over at least this many messages. */
  proposalMinMessages: number;
}

export const DEFAULT_WINDOW_DAYS = 30;
export const DEFAULT_ALIGNED_RATE = 0.98;
export const DEFAULT_HIGH_VOLUME_SHARE = 0.01;
export const DEFAULT_MIN_DAYS = 14;
export const DEFAULT_MIN_MESSAGES = 100;
export const DEFAULT_PROPOSAL_DKIM_RATE = 0.98;
export const DEFAULT_PROPOSAL_MIN_DAYS = 7;
export const DEFAULT_PROPOSAL_MIN_MESSAGES = 50;

export const DEFAULT_THRESHOLDS: Readonly<GuidanceThresholds> = Object.freeze({
  windowDays: DEFAULT_WINDOW_DAYS,
  alignedRate: DEFAULT_ALIGNED_RATE,
  highVolumeShare: DEFAULT_HIGH_VOLUME_SHARE,
  minDays: DEFAULT_MIN_DAYS,
  minMessages: DEFAULT_MIN_MESSAGES,
  proposalDkimRate: DEFAULT_PROPOSAL_DKIM_RATE,
  proposalMinDays: DEFAULT_PROPOSAL_MIN_DAYS,
  proposalMinMessages: DEFAULT_PROPOSAL_MIN_MESSAGES,
});

const RATES = ['alignedRate', 'highVolumeShare', 'proposalDkimRate'] as const;
const COUNTS = ['windowDays', 'minDays', 'minMessages', 'proposalMinDays', 'proposalMinMessages'] as const;

/** The defaults with `overrides` merged in, checked once: rates in (0, 1], counts whole and >= 0 (the window >= 1). */
export function resolveThresholds(overrides: Partial<GuidanceThresholds> = {}): GuidanceThresholds {
  const t: GuidanceThresholds = { ...DEFAULT_THRESHOLDS };
  for (const [key, value] of Object.entries(overrides) as Array<[keyof GuidanceThresholds, number | undefined]>) {
    if (value !== undefined) t[key] = value;
  }
  for (const key of RATES) {
    if (!(Number.isFinite(t[key]) && t[key] > 0 && t[key] <= 1)) throw new PolicyGuidanceError('GUIDANCE_INVALID_THRESHOLDS', `${key} must be a share in (0, 1], got ${t[key]}`, key);
  }
  for (const key of COUNTS) {
    if (!(Number.isInteger(t[key]) && t[key] >= (key === 'windowDays' ? 1 : 0))) throw new PolicyGuidanceError('GUIDANCE_INVALID_THRESHOLDS', `${key} must be a whole number >= ${key === 'windowDays' ? 1 : 0}, got ${t[key]}`, key);
  }
  for (const key of ['minDays', 'proposalMinDays'] as const) {
    if (t[key] > t.windowDays) throw new PolicyGuidanceError('GUIDANCE_INVALID_THRESHOLDS', `${key} (${t[key]}) cannot exceed windowDays (${t.windowDays})`, key);
  }
  return t;
}
