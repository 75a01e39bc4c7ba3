export { dnsService } from './dns-service';
