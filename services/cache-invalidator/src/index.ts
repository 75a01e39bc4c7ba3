export { cacheInvalidatorService } from './cache-invalidator-service';
