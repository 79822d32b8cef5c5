/**
 * `npm run dlq -- list [--queue transfers|events] [--json]` shows the dead letters without
 * consuming them; `npm run dlq -- redrive [--queue transfers|events]` moves them back to the
 * queue they came from. The endpoint is AWS_ENDPOINT_URL, or the one a running `npm start` wrote
 * to `.data/runtime.json`; the queues are the ones that file names (or the topology's names).
 */
import { existsSync, readFileSync } from 'node:fs';
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { readLocalSettings } from '../../shared/settings';
import { type QueueKey, topology } from '../../shared/topology';
import { awsClients } from '../../shared/wiring';
import { localAwsSettings } from './aws';
import { type DeadLetterRoute, listDeadLetters, redriveDeadLetters } from './dead-letters';
import type { RuntimeFile } from './runtime';
import { runtimeFilePath } from './runtime';

const usage = `usage: npm run dlq -- <list|redrive> [--queue transfers|events] [--json]

  list      show the dead letters (they stay in the dead-letter queue)
  redrive   move them back to the queue they came from, with a new deduplication id
  --queue   transfers (default): the transfers DLQ; events: the transfer events DLQ;
            fraud-scorer, fraud-patterns: the fraud listeners' DLQs
  --json    list as JSON

The endpoint is AWS_ENDPOINT_URL, or the one 'npm start' wrote to .data/runtime.json.`;

/** Characters of a body shown per message in a listing. */
const bodyPreviewCharsMax = 160;

const sourceQueues: Readonly<Record<string, QueueKey>> = {
  transfers: 'transfers',
  events: 'transferEvents',
  'fraud-scorer': 'fraudScorer',
  'fraud-patterns': 'fraudPatterns',
};

interface Target {
  readonly endpoint: string;
  readonly namePrefix: string;
  readonly queueUrls?: Readonly<Record<QueueKey, string>>;
}

function readTarget(): Target {
  const settings = readLocalSettings();
  const file = runtimeFilePath(settings);
  const runtime: RuntimeFile | undefined = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as RuntimeFile)
    : undefined;
  const configured = settings.awsEndpoint;
  if (configured !== undefined) {
    // The runtime file's queue URLs hold only when it describes this same endpoint.
    return runtime?.awsEndpoint === configured
      ? { endpoint: configured, namePrefix: runtime.namePrefix, queueUrls: runtime.resources.queueUrls }
      : { endpoint: configured, namePrefix: settings.namePrefix };
  }
  if (runtime === undefined) {
    throw new Error(`no AWS endpoint: set AWS_ENDPOINT_URL, or run 'npm start' (it writes ${file})`);
  }
  return {
    endpoint: runtime.awsEndpoint,
    namePrefix: runtime.namePrefix,
    queueUrls: runtime.resources.queueUrls,
  };
}

async function queueUrl(sqs: SQSClient, target: Target, key: QueueKey): Promise<string> {
  const known = target.queueUrls?.[key];
  if (known !== undefined) return known;
  const { QueueUrl } = await sqs.send(
    new GetQueueUrlCommand({ QueueName: `${target.namePrefix}${topology.queues[key].name}` }),
  );
  if (QueueUrl === undefined) throw new Error(`queue ${key} not found`);
  return QueueUrl;
}

/** Whether the error (or its cause) is a refused or unreachable connection. */
function unreachable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth += 1) {
    if ('code' in current && (current.code === 'ECONNREFUSED' || current.code === 'EHOSTUNREACH'))
      return true;
    current = current.cause;
  }
  return false;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...flags] = argv;
  const queueFlag = flags.indexOf('--queue');
  const queueName = queueFlag === -1 ? 'transfers' : flags[queueFlag + 1];
  const sourceKey = queueName === undefined ? undefined : sourceQueues[queueName];
  if ((command !== 'list' && command !== 'redrive') || sourceKey === undefined) {
    console.error(usage);
    return 2;
  }
  const target = readTarget();
  const { sqs } = awsClients(localAwsSettings(target.endpoint));
  const source = topology.queues[sourceKey];
  if (source.deadLetter === undefined) throw new Error(`queue ${sourceKey} has no dead-letter queue`);
  const route: DeadLetterRoute = {
    sourceQueueUrl: await queueUrl(sqs, target, sourceKey),
    deadLetterQueueUrl: await queueUrl(sqs, target, source.deadLetter.queue),
    fifo: source.fifo,
  };

  if (command === 'redrive') {
    const outcome = await redriveDeadLetters(sqs, route);
    console.info(`moved ${outcome.movedCount} message(s) back to ${route.sourceQueueUrl}`);
    if (outcome.undeletedCount > 0) {
      console.warn(
        `${outcome.undeletedCount} sent but not deleted from the DLQ; a redrive later sends them again`,
      );
    }
    return 0;
  }

  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: route.deadLetterQueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  const letters = await listDeadLetters(sqs, route.deadLetterQueueUrl);
  if (flags.includes('--json')) {
    console.info(JSON.stringify(letters, null, 2));
    return 0;
  }
  console.info(
    `${route.deadLetterQueueUrl}: about ${Attributes.ApproximateNumberOfMessages ?? '?'} message(s)`,
  );
  if (source.fifo) console.info('(a FIFO listing shows at most 10 messages per message group)');
  for (const letter of letters) {
    const body =
      letter.body.length > bodyPreviewCharsMax
        ? `${letter.body.slice(0, bodyPreviewCharsMax)}…`
        : letter.body;
    console.info(
      [
        `- ${letter.messageId}`,
        `  transfer ${letter.transferId ?? '(body is not a transfer)'}, group ${letter.messageGroupId ?? '-'}`,
        `  sent ${letter.sentAt ?? '?'}, received ${letter.receiveCount} time(s), redriven ${letter.redriveCount} time(s)`,
        `  ${body}`,
      ].join('\n'),
    );
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    if (unreachable(error)) {
      console.error("the AWS endpoint does not answer: is 'npm start' (or LocalStack) running?");
    }
    process.exit(1);
  },
);
