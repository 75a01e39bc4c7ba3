// Integration tests wait on real brokers and databases: jest's 5 s default is too short for a consumer
// group to join on a loaded 2-core machine. (testTimeout in a project config is not applied by jest.)
jest.setTimeout(120000);
