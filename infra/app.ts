/** The CDK app (`cdk.json` runs it with tsx): `npx cdk synth -c stage=prod`, `-c flavour=localstack`. */
import { buildApp } from './cdk/app';

buildApp().app.synth();
