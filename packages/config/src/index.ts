export { ConfigError, loadConfig } from './load-config.ts';
export { commaList, commonFields, flag, logLevel, port, positiveInt, topicPrefix, url } from './fields.ts';
export { devicePassword, generateSecret, mosquittoPasswordLine } from './credentials.ts';
export { bearerTokenCheck, parseTokenFile, tokenHash } from './bearer-tokens.ts';
export { applyV8Flags, lowerCpuPriority, nodeRuntimeEnv } from './node-runtime.ts';
export { secretValue } from './secret-value.ts';
