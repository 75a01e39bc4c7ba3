export { parsingService } from './parsing-service';
