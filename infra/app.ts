/** The CDK app (`cdk.json` runs it with tsx): `npx cdk synth -c stage=prod`, `-c flavour=localstack`. */
import { buildApp } from './cdk/app';
import { ensureDashboardBuilt } from './dashboard-build';

// The System Internals page ships as files beside its functions (`bundledAssets`), so a fresh
// clone builds it first; an up-to-date build is kept.
await ensureDashboardBuilt();
buildApp().app.synth();
