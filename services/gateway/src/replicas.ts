// Gateway replicas under `docker compose up --scale gateway=N`. Each replica needs MQTT client ids
// of its own (the same id on two connections makes Mosquitto drop one of them), and the same ids
// again when its container is re-created, so that it takes back its persistent sessions and what
// they queued. Compose names replicas `<project>-<service>-<n>`, and Docker's DNS answers the
// reverse lookup of a container's address with that name: the replica number n is both unique
// and stable. A forward lookup of the service name lists every live replica.
import { resolve4, resolvePtr } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';

/** The replica number in a Compose container name, `lethe-gateway-2.lethe_default` → 2. */
export function replicaNumber(hostname: string): number | undefined {
  const m = /[-_](\d+)$/.exec(hostname.split('.')[0] ?? '');
  const n = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

async function numbersOf(addresses: readonly string[]): Promise<Set<number>> {
  const numbers = new Set<number>();
  for (const address of addresses) {
    // A PTR query to the DNS server, not dns.reverse(): that reads /etc/hosts first, where Docker
    // names a container's own addresses by its container id (found in the compose test).
    const names = await resolvePtr(`${address.split('.').reverse().join('.')}.in-addr.arpa`).catch(() => [] as string[]);
    for (const name of names) {
      const n = replicaNumber(name);
      if (n !== undefined) numbers.add(n);
    }
  }
  return numbers;
}

/** This container's replica number, from the reverse lookup of its own addresses. */
export async function ownReplica(serviceName: string): Promise<number> {
  const own = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && i.family === 'IPv4' && !i.internal)
    .map((i) => i!.address);
  const live = new Set(await resolve4(serviceName).catch(() => [] as string[]));
  // Only addresses the service name also resolves to: those are the ones Compose named.
  const numbers = await numbersOf(own.filter((a) => live.has(a)));
  if (numbers.size !== 1)
    throw new Error(
      `cannot tell this gateway's replica number: the reverse DNS of its addresses (${own.join(', ') || 'none'}) names ${numbers.size === 0 ? 'no' : 'more than one'} <project>-${serviceName}-<n> container; REPLICAS_DNS_NAME is for Docker Compose, where ${serviceName} is the service's name`,
    );
  return [...numbers][0]!;
}

/** The replica numbers of every live replica of the service; a failed lookup throws. */
export async function liveReplicas(serviceName: string): Promise<Set<number>> {
  return numbersOf(await resolve4(serviceName));
}

/**
 * Which replicas' sessions this replica should drain. A replica number up to `maxReplicas`
 * that is not live on two looks in a row is gone (one look could catch a container restarting);
 * each gone replica is drained by one live replica, chosen the same way by all of them. A look
 * that does not list this replica itself is not believed (a DNS answer cut short or a PTR query
 * failed): it would make live replicas look gone, and draining one takes its session from it.
 */
export class OrphanSchedule {
  private absentBefore = new Set<number>();
  private readonly self: number;
  private readonly maxReplicas: number;

  constructor(self: number, maxReplicas: number) {
    this.self = self;
    this.maxReplicas = maxReplicas;
  }

  next(live: ReadonlySet<number>): number[] {
    if (!live.has(this.self)) return [];
    const members = [...live].sort((a, b) => a - b);
    const absent = new Set<number>();
    for (let n = 1; n <= this.maxReplicas; n++) if (!members.includes(n)) absent.add(n);
    const gone = [...absent].filter((n) => this.absentBefore.has(n));
    this.absentBefore = absent;
    return gone.filter((n) => members[n % members.length] === this.self);
  }
}
