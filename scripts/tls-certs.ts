// A private certificate authority and a server certificate for a TLS listener, made with the
// openssl CLI into a secrets directory (never committed: ./secrets and .local are git-ignored).
// Used by setup-secrets.ts --mqtt-tls for Mosquitto's optional TLS listener. Idempotent: the CA
// is kept; the server certificate is issued again when it is missing, was not issued by that CA,
// lacks a requested name, or expires within 30 days.
//
// Files, under <dir>/<prefix>-…: ca.crt (give it to clients), ca.key (0600, never mounted),
// server.crt and server.key (0644 inside the 0700 secrets directory, like the other secrets:
// the broker's container user is not the host user).
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsCertOptions {
  /** The secrets directory. */
  dir: string;
  /** File name prefix, e.g. "mqtt-tls". */
  prefix: string;
  /** DNS names and IP addresses the server certificate is valid for; the first is its CN. */
  names: readonly string[];
  /** Days the server certificate is valid (default 825, the longest clients accept). */
  days?: number;
  /** Runs openssl; injected by tests. */
  openssl?: (args: readonly string[]) => void;
}

export interface TlsCertFiles {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** What was (re)generated this time. */
  generated: Array<'ca' | 'server'>;
}

const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

function runOpenssl(args: readonly string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('openssl is not installed: it is needed to generate TLS certificates (apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`);
  }
}

const sanOf = (name: string) => (isIP(name) ? `IP:${name}` : `DNS:${name}`);
/** Node spells SANs "DNS:a, IP Address:1.2.3.4". */
const sanSet = (cert: X509Certificate) => new Set((cert.subjectAltName ?? '').split(', ').map((s) => s.replace(/^IP Address:/, 'IP:')));

function serverCertIsCurrent(serverCertPath: string, ca: X509Certificate, names: readonly string[]): boolean {
  if (!existsSync(serverCertPath)) return false;
  const cert = new X509Certificate(readFileSync(serverCertPath));
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
  if (Date.parse(cert.validTo) - Date.now() < RENEW_BEFORE_MS) return false;
  const sans = sanSet(cert);
  return names.every((n) => sans.has(sanOf(n)));
}

export function ensureTlsCertificates({ dir, prefix, names, days = 825, openssl = runOpenssl }: TlsCertOptions): TlsCertFiles {
  if (names.length === 0) throw new Error('a server certificate needs at least one DNS name or IP address');
  const files = {
    caCert: join(dir, `${prefix}-ca.crt`),
    caKey: join(dir, `${prefix}-ca.key`),
    serverCert: join(dir, `${prefix}-server.crt`),
    serverKey: join(dir, `${prefix}-server.key`),
  };
  const generated: TlsCertFiles['generated'] = [];
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

  if (!existsSync(files.caCert) || !existsSync(files.caKey)) {
    openssl([
      'req',
      '-x509',
      '-new',
      ...ec,
      '-keyout',
      files.caKey,
      '-out',
      files.caCert,
      '-days',
      '3650',
      '-sha256',
      '-subj',
      `/CN=Lethe ${prefix} CA ${randomBytes(4).toString('hex')}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    chmodSync(files.caKey, 0o600);
    chmodSync(files.caCert, 0o644);
    generated.push('ca');
  }

  const ca = new X509Certificate(readFileSync(files.caCert));
  if (generated.includes('ca') || !existsSync(files.serverKey) || !serverCertIsCurrent(files.serverCert, ca, names)) {
    const work = mkdtempSync(join(tmpdir(), 'lethe-tls-'));
    try {
      const csr = join(work, 'server.csr');
      const ext = join(work, 'server.ext');
      writeFileSync(
        ext,
        [
          'basicConstraints=critical,CA:FALSE',
          'keyUsage=critical,digitalSignature',
          'extendedKeyUsage=serverAuth',
          `subjectAltName=${names.map(sanOf).join(',')}`,
        ].join('\n') + '\n',
      );
      openssl(['req', '-new', ...ec, '-keyout', files.serverKey, '-out', csr, '-subj', `/CN=${names[0]}`]);
      openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        files.caCert,
        '-CAkey',
        files.caKey,
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-days',
        String(days),
        '-sha256',
        '-extfile',
        ext,
        '-out',
        files.serverCert,
      ]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    chmodSync(files.serverKey, 0o644);
    chmodSync(files.serverCert, 0o644);
    generated.push('server');
  }
  return { ...files, generated };
}
