import { describe, expect, it } from 'vitest';
import { assetDirectories, assetsFingerprint, bundlingOptions } from '../../infra/cdk/bundling';
import { settingsFromContext } from '../../infra/cdk/settings';

const contextOf =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];

describe('deployment settings', () => {
  it('defaults to the dev stage on AWS with no reader', () => {
    expect(settingsFromContext(contextOf({}), {})).toEqual({ stage: 'dev', flavour: 'aws', reader: false });
  });

  it('refuses a stage or flavour it does not know, naming it', () => {
    expect(() => settingsFromContext(contextOf({ stage: 'staging' }), {})).toThrow(/"staging"/);
    expect(() => settingsFromContext(contextOf({ flavour: 'azure' }), {})).toThrow(/"azure"/);
  });

  it('reads the reader flag as the CLI passes it, a string', () => {
    expect(settingsFromContext(contextOf({ stage: 'prod', reader: 'true' }), {})).toMatchObject({
      stage: 'prod',
      reader: true,
    });
  });
});

describe('bundled assets', () => {
  it('copies each asset directory beside the bundle after esbuild ran', () => {
    const hooks = bundlingOptions(['migrations']).commandHooks;
    expect(hooks?.afterBundling('/src', '/out')).toEqual([
      "mkdir -p '/out' && cp -R '/src/migrations' '/out/migrations'",
    ]);
    expect(bundlingOptions(undefined).commandHooks?.afterBundling('/src', '/out')).toEqual([]);
  });

  it('refuses an asset that is not a directory of the project, at synth', () => {
    expect(() => assetDirectories(['no-such-dir'])).toThrow(/not a directory of the project/);
    expect(() => assetDirectories(['../outside'])).toThrow(/inside the project/);
    expect(() => assetDirectories(['package.json'])).toThrow(/not a directory/);
  });

  it('fingerprints the asset files, so a new migration changes the deploy step', () => {
    const fingerprint = assetsFingerprint(['migrations']);
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(assetsFingerprint(['migrations'])).toBe(fingerprint);
    expect(assetsFingerprint([])).not.toBe(fingerprint);
  });
});
