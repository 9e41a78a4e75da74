/** `store` in the controller's config: the schema lives in config/store.ts (the access-router agent's config file takes it too). */
export { STORE_SCHEMA, storeConfig, type EtcdConnection, type EtcdStoreConfig, type StoreConfig } from '../../config/store.js';
