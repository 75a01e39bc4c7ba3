/** Stands for the cache's UpstreamFailedError: the upstream failed and nothing stale was left. */
export class UpstreamFailure extends Error {
  readonly code = 'DNS_UPSTREAM_FAILED';
  readonly retriable = true;
  constructor() {
    super('upstream failed');
  }
}
