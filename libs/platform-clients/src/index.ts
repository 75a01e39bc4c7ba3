export { PlatformClients, type PlatformClientsConfig } from './platform-clients';
export { consumerPacing, consumerPacingConfig, type ConsumerPacing } from './consumer-pacing';
