export { NetworkInterfaceManager, type NetworkInterfaceManagerProps } from './network-interface-manager';
export {
  DEFAULT_SERVICE_TOKEN_PARAMETER_NAME,
  NetworkInterfacePool,
  POOL_TAG_KEY,
  type NetworkInterfacePoolDeclaration,
  type NetworkInterfacePoolProps,
  type PoolTag,
  type PoolVolume,
  type PoolVolumeType,
  type ServeOptions,
} from './network-interface-pool';
