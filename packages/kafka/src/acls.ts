// Brings a broker's ACLs for a set of principals in line with a table: creates the missing
// bindings and deletes the ones the table no longer grants, so the table is the whole truth
// for those principals. Needs a client the broker lets alter ACLs (a super user) and an
// authorizer on the broker (StandardAuthorizer in KRaft; infra/local/kafka.sh enables it with
// its SASL listener). Bindings are allow, from any host, on a literal name or a name prefix.
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

export const ACL_OPERATIONS = ['READ', 'WRITE', 'CREATE', 'DESCRIBE', 'ALTER_CONFIGS', 'DESCRIBE_CONFIGS'] as const;
export type AclOperation = (typeof ACL_OPERATIONS)[number];

export interface AclSpec {
  /** e.g. "User:lethe-gateway" */
  principal: string;
  resourceType: 'topic' | 'group';
  /** The topic or consumer-group name, or with `prefixed` every name that starts with it. */
  name: string;
  prefixed?: boolean;
  operations: readonly AclOperation[];
}

const RESOURCE = { topic: AclResourceTypes.TOPIC, group: AclResourceTypes.GROUP } as const;

interface Binding {
  principal: string;
  resourceType: number;
  resourceName: string;
  resourcePatternType: number;
  operation: number;
}
const keyOf = (b: Binding) => `${b.principal}|${b.resourceType}|${b.resourcePatternType}|${b.resourceName}|${b.operation}`;

function bindings(specs: readonly AclSpec[]): Map<string, Binding> {
  const out = new Map<string, Binding>();
  for (const spec of specs) {
    for (const op of spec.operations) {
      const b = {
        principal: spec.principal,
        resourceType: RESOURCE[spec.resourceType],
        resourceName: spec.name,
        resourcePatternType: spec.prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
        operation: AclOperationTypes[op],
      };
      out.set(keyOf(b), b);
    }
  }
  return out;
}

const full = (b: Binding) => ({ ...b, host: '*', permissionType: AclPermissionTypes.ALLOW });

/** Returns how many bindings it created and deleted. */
export async function ensureAcls(admin: Admin, specs: readonly AclSpec[], logger?: Logger): Promise<{ created: number; deleted: number }> {
  const wanted = bindings(specs);
  const principals = [...new Set(specs.map((s) => s.principal))];
  const existing = new Map<string, Binding>();
  // Anything the table cannot describe (a deny, a host) is removed as well.
  const stray: Array<ReturnType<typeof full>> = [];
  for (const principal of principals) {
    const { resources } = await admin.describeAcls({
      resourceType: AclResourceTypes.ANY,
      resourcePatternType: ResourcePatternTypes.ANY,
      principal,
      host: '*',
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    });
    for (const r of resources) {
      for (const acl of r.acls) {
        const b = {
          principal: acl.principal,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
          resourcePatternType: r.resourcePatternType,
          operation: acl.operation,
        };
        if (acl.host === '*' && acl.permissionType === AclPermissionTypes.ALLOW) existing.set(keyOf(b), b);
        else stray.push({ ...b, host: acl.host, permissionType: acl.permissionType });
      }
    }
  }
  const missing = [...wanted].filter(([k]) => !existing.has(k)).map(([, b]) => full(b));
  const extra = [...[...existing].filter(([k]) => !wanted.has(k)).map(([, b]) => full(b)), ...stray];
  if (missing.length > 0) await admin.createAcls({ acl: missing });
  if (extra.length > 0) await admin.deleteAcls({ filters: extra });
  logger?.info({ created: missing.length, deleted: extra.length, principals }, 'Kafka ACLs match the table');
  return { created: missing.length, deleted: extra.length };
}
