// Credentials derived from one generated secret, so a setup step can write Mosquitto's
// password file for every device while the simulator (standing in for the devices) derives
// each device's own password without a file of 100+ passwords.
import { createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** A device's MQTT password: HMAC-SHA-256(fleet secret, device id), hex, 32 characters. */
export function devicePassword(fleetSecret: string, deviceId: string): string {
  return createHmac('sha256', fleetSecret).update(`mqtt-device:${deviceId}`).digest('hex').slice(0, 32);
}

/**
 * One line of a Mosquitto 2 password file: `user:$7$<iterations>$<salt b64>$<hash b64>`,
 * PBKDF2-HMAC-SHA-512 with a 12-byte salt and a 64-byte hash — the format `mosquitto_passwd`
 * writes.
 */
export function mosquittoPasswordLine(username: string, password: string, iterations = 101): string {
  if (username.includes(':')) throw new Error('a Mosquitto username cannot contain ":"');
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return `${username}:$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** A random secret for a password or token: 32 bytes, base64url. */
export function generateSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
