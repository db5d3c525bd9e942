import { SecureChatError } from '@securechat/sdk/errors'

/** A flag, environment variable or config file value that cannot be used. */
export class ConfigError extends SecureChatError {
  override name = 'ConfigError'
}

/** A key file that cannot be read or decrypted. */
export class KeyFileError extends SecureChatError {
  override name = 'KeyFileError'
}
