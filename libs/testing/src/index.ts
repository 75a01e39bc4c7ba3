export {
  startDnsTestServer,
  type DnsTestServer,
  type DnsTestServerOptions,
  type DnsTestFailure,
  type DnsTestFallback,
  type DnsTestFallbackAnswer,
  type DnsTestProtocol,
  type DnsQueryCount,
  type DnsReceivedQuery,
  type TestRecordData,
  type TestRecordType,
  type TestSoa,
} from './dns-test-server';
export { freePort, serviceNodeOptions, spawnService, stopService, waitFor, waitReady, type SpawnedService, type SpawnOptions } from './spawned-service';
export { hostPortOf, startTcpProxy, type TcpProxy } from './tcp-proxy';
export { createPrivateKafka, privateKafkaUnavailable, type PrivateKafka } from './private-kafka';
