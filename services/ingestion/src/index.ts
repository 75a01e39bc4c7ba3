export { ingestionService, INBOUND_TOPIC, RECEIVED_TOPIC } from './ingestion-service';
