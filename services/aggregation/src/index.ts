export { aggregationService } from './aggregation-service';
export { registerDomainRoutes, type DomainRoutesOptions } from './domain-routes';
