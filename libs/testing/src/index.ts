export { freePort, spawnService, stopService, waitFor, waitReady, type SpawnedService } from './spawned-service';
