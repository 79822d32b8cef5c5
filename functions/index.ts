/**
 * Every function of LedgerX: the one list the CDK stacks deploy, the local runtime runs and the
 * OpenAPI document describes. A function is added by writing its file and naming it here.
 */
import type { FunctionDefinition, HttpFunction } from '../shared/definitions';
import adminActivity from './admin-activity';
import adminAssets from './admin-assets';
import adminGauges from './admin-gauges';
import adminInvariants from './admin-invariants';
import adminLedgerVerification from './admin-ledger-verification';
import adminPage from './admin-page';
import adminTransfers from './admin-transfers';
import closeAccount from './close-account';
import createAccount from './create-account';
import expirePendingTransfers from './expire-pending-transfers';
import fraudPatterns from './fraud-patterns';
import fraudScorer from './fraud-scorer';
import freezeAccount from './freeze-account';
import getAccount from './get-account';
import getAccountBalance from './get-account-balance';
import getTransfer from './get-transfer';
import getTransferBatch from './get-transfer-batch';
import invariantChecker from './invariant-checker';
import ledgerSealer from './ledger-sealer';
import listAccountEntries from './list-account-entries';
import listFraudFlags from './list-fraud-flags';
import migrateDatabase from './migrate-database';
import openapi from './openapi';
import outboxRelay from './outbox-relay';
import postPendingTransfer from './post-pending-transfer';
import reverseTransfer from './reverse-transfer';
import setAccountVelocity from './set-account-velocity';
import submitTransfer from './submit-transfer';
import submitTransferBatch from './submit-transfer-batch';
import transferConsumer from './transfer-consumer';
import transferEvents from './transfer-events';
import unfreezeAccount from './unfreeze-account';
import voidPendingTransfer from './void-pending-transfer';

export const functionDefinitions: readonly FunctionDefinition[] = [
  createAccount,
  getAccount,
  getAccountBalance,
  listAccountEntries,
  setAccountVelocity,
  freezeAccount,
  unfreezeAccount,
  closeAccount,
  submitTransfer,
  postPendingTransfer,
  voidPendingTransfer,
  reverseTransfer,
  submitTransferBatch,
  getTransfer,
  getTransferBatch,
  listFraudFlags,
  openapi,
  adminPage,
  adminAssets,
  adminActivity,
  adminGauges,
  adminInvariants,
  adminLedgerVerification,
  adminTransfers,
  transferConsumer,
  transferEvents,
  fraudScorer,
  fraudPatterns,
  outboxRelay,
  invariantChecker,
  expirePendingTransfers,
  ledgerSealer,
  migrateDatabase,
];

/** The HTTP functions, in the list's order: what the API serves and the OpenAPI document describes. */
export const httpFunctions: readonly HttpFunction[] = functionDefinitions.filter(
  (definition): definition is HttpFunction => definition.kind === 'http',
);
