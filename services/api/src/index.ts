export { apiService } from './api-service';
export { registerApi } from './api-routes';
export type { ApiDeps } from './api-deps';
