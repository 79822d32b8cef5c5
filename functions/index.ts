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
import createAccount from './create-account';
import fraudPatterns from './fraud-patterns';
import fraudScorer from './fraud-scorer';
import getAccount from './get-account';
import getAccountBalance from './get-account-balance';
import getTransfer from './get-transfer';
import ledgerSealer from './ledger-sealer';
import listAccountEntries from './list-account-entries';
import listFraudFlags from './list-fraud-flags';
import migrateDatabase from './migrate-database';
import openapi from './openapi';
import outboxRelay from './outbox-relay';
import setAccountVelocity from './set-account-velocity';
import submitTransfer from './submit-transfer';
import transferConsumer from './transfer-consumer';
import transferEvents from './transfer-events';

export const functionDefinitions: readonly FunctionDefinition[] = [
  createAccount,
  getAccount,
  getAccountBalance,
  listAccountEntries,
  setAccountVelocity,
  submitTransfer,
  getTransfer,
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
  ledgerSealer,
  migrateDatabase,
];

/** The HTTP functions, in the list's order: what the API serves and the OpenAPI document describes. */
export const httpFunctions: readonly HttpFunction[] = functionDefinitions.filter(
  (definition): definition is HttpFunction => definition.kind === 'http',
);
