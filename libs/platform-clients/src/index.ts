export { PlatformClients, type PlatformClientsConfig } from './platform-clients';
