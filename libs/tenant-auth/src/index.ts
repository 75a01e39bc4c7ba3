export { authenticateApiKey, bearerKey, type AuthenticatedTenant } from './authenticate';
export { hashApiKey, issueApiKey, type IssuedApiKey } from './api-key';
export { UnauthorizedError, type TenantAuthErrorCode } from './errors';
