import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { localAwsSettings } from '../../infra/local/aws';
import {
  type AwsClients,
  deprovision,
  type ProvisionedResources,
  type ProvisionOptions,
  provision,
} from '../../infra/local/provision';
import { awsClients } from '../../shared/wiring';

/** A test file's own copy of the topology on the shared AWS endpoint, and clients for it. */
export interface TestAws {
  readonly endpoint: string;
  readonly namePrefix: string;
  readonly clients: AwsClients;
  readonly resources: ProvisionedResources;
}

/** A prefix no other test file uses: `t` and 8 hex digits, short enough for every AWS name limit. */
export function uniqueNamePrefix(): string {
  return `t${randomUUID().replaceAll('-', '').slice(0, 8)}-`;
}

/**
 * Provisions the topology under a unique name prefix for the calling test file (in beforeAll)
 * and deletes it all at the end, so the endpoint stays small and files never see each other's
 * messages. Pass options for short visibility timeouts or receive counts.
 */
export function useTestAws(options: Omit<ProvisionOptions, 'namePrefix'> = {}): TestAws {
  const endpoint = inject('awsEndpoint');
  const namePrefix = uniqueNamePrefix();
  const clients = awsClients(localAwsSettings(endpoint));
  let resources: ProvisionedResources | undefined;

  beforeAll(async () => {
    resources = await provision(clients, { ...options, namePrefix });
  });

  afterAll(async () => {
    // Copies the test itself made under longer prefixes (`<prefix>o`) stay; moto forgets them.
    if (resources !== undefined) await deprovision(clients, namePrefix);
  });

  return {
    endpoint,
    namePrefix,
    clients,
    get resources(): ProvisionedResources {
      if (resources === undefined)
        throw new Error('the AWS resources are made in beforeAll; use them inside tests');
      return resources;
    },
  };
}
