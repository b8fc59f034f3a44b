export { ConfigError, loadConfig } from './load-config.ts';
export { commaList, commonFields, flag, logLevel, port, positiveInt, url } from './fields.ts';
export { devicePassword, generateSecret, mosquittoPasswordLine } from './credentials.ts';
export { applyV8Flags, NODE_RUNTIME_ENV_PATH, nodeRuntimeEnv } from './node-runtime.ts';
export { secretValue } from './secret-value.ts';
